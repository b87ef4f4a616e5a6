"""The meter for runs without an NVIDIA GPU: same interface, every reading None (not measured)."""

from __future__ import annotations

import time

from harness.meters.base import DeviceInfo, Sample


class NullMeter:
    """Answers None for everything, so CPU runs go through the same code as GPU runs.

    `reason` says why a GPU run got no device meter (None for CPU runs).
    """

    def __init__(self, reason: str | None = None) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"NullMeter(reason={self.reason!r})"

    def __enter__(self) -> NullMeter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def info(self) -> DeviceInfo | None:
        return None

    def read_sample(self) -> Sample:
        return Sample(
            t_s=time.perf_counter(),
            power_w=None,
            gpu_util_pct=None,
            mem_util_pct=None,
            mem_used_bytes=None,
            sm_clock_mhz=None,
            temperature_c=None,
            clock_event_reasons=None,
            throttled=None,
        )

    def energy_mj(self) -> float | None:
        return None

    def close(self) -> None:
        return None
