"""NVML meters over a load level's window, summed over the GPUs a local server uses."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from harness.meters import GpuMeter, open_meter
from harness.meters.monitor import EnergyMonitor
from harness.meters.sampler import Sampler, sample_row
from harness.results.store import RunStore


def visible_gpus() -> tuple[int, ...]:
    """Every GPU NVML sees (empty without a driver)."""
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            return tuple(range(pynvml.nvmlDeviceGetCount()))
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # any NVML failure means: nothing to meter here
        return ()


class GpuGroup:
    """One meter, sampler and energy monitor per GPU."""

    def __init__(self, gpus: Sequence[int], sample_interval_s: float | None) -> None:
        self.gpus = tuple(gpus)
        self.meters: list[GpuMeter] = [open_meter(f"cuda:{i}") for i in self.gpus]
        self.samplers = [Sampler(m, interval_s=sample_interval_s) for m in self.meters]
        self.monitors = [
            EnergyMonitor(m, s) for m, s in zip(self.meters, self.samplers, strict=True)
        ]
        self.started_perf_s = time.perf_counter()

    @property
    def names(self) -> list[str | None]:
        names = []
        for meter in self.meters:
            try:
                info = meter.info
            except Exception:
                info = None
            names.append(info.name if info else None)
        return names

    def __enter__(self) -> GpuGroup:
        for sampler in self.samplers:
            sampler.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        for sampler in self.samplers:
            sampler.stop()
        for meter in self.meters:
            meter.close()

    def begin(self, workload: str, label: int) -> None:
        for sampler, monitor in zip(self.samplers, self.monitors, strict=True):
            sampler.set_label(workload, label)
            monitor.begin_window(f"{workload}/{label}")

    def end(self, workload: str, label: int) -> dict[str, Any]:
        windows = []
        for sampler, monitor in zip(self.samplers, self.monitors, strict=True):
            windows.append(monitor.end_window(f"{workload}/{label}"))
            sampler.set_label(None, None)

        def total(values: list[float | None]) -> float | None:
            return sum(values) if values and all(v is not None for v in values) else None

        def avg(values: list[float | None]) -> float | None:
            got = [v for v in values if v is not None]
            return sum(got) / len(got) if got else None

        def most(values: list[Any]) -> Any:
            got = [v for v in values if v is not None]
            return max(got) if got else None

        methods = {w.energy_method for w in windows}
        return {
            "energy_j": total([w.energy_j for w in windows]),
            "energy_method": methods.pop() if len(methods) == 1 else None,
            "avg_power_w": total([w.avg_power_w for w in windows]),
            "gpu_util_mean": avg([w.gpu_util_mean for w in windows]),
            "sm_clock_mhz_mean": avg([w.sm_clock_mhz_mean for w in windows]),
            "temperature_c_max": most([w.temperature_c_max for w in windows]),
            "nvml_mem_used_bytes_max": total([w.mem_used_bytes_max for w in windows]),
            "throttled": most([w.throttled for w in windows]),
        }

    def flush_samples(self, store: RunStore) -> None:
        rows = [
            sample_row(label, s, self.started_perf_s)
            for sampler in self.samplers
            for label, s in sampler.drain()
        ]
        store.append_samples(rows)
