"""Typed readings and the meter interface. Units are in field names; None means "not measured"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class DeviceInfo:
    """What the GPU's driver says about the device."""

    index: int
    name: str
    uuid: str | None
    driver_version: str | None
    cuda_driver_version: str | None
    compute_capability: str | None
    memory_total_bytes: int | None
    power_limit_w: float | None
    default_sm_clock_mhz: float | None
    has_energy_counter: bool
    max_sm_clock_mhz: float | None = None


@dataclass(frozen=True)
class Sample:
    """One reading of the background sampler. t_s is perf_counter seconds."""

    t_s: float
    power_w: float | None
    gpu_util_pct: float | None
    mem_util_pct: float | None
    mem_used_bytes: int | None
    sm_clock_mhz: float | None
    temperature_c: float | None
    clock_event_reasons: int | None
    throttled: bool | None


@dataclass(frozen=True)
class EnergyWindow:
    """What one begin/end window measured: energy over the window and the sampler's summary of it."""

    elapsed_s: float
    energy_j: float | None
    energy_method: str | None  # "counter", "power_integration", or None when not measured
    avg_power_w: float | None
    gpu_util_mean: float | None
    sm_clock_mhz_mean: float | None
    temperature_c_max: float | None
    mem_used_bytes_max: int | None
    throttled: bool | None  # any sample in the window throttled; None when nothing was sampled


class GpuMeter(Protocol):
    """A device meter. `NvmlMeter` reads an NVIDIA GPU; `NullMeter` answers None for everything."""

    @property
    def info(self) -> DeviceInfo | None: ...

    def read_sample(self) -> Sample:
        """One cheap reading (no process-list calls): used by the sampler thread."""
        ...

    def energy_mj(self) -> float | None:
        """Total energy counter in millijoules since driver load, or None where unsupported."""
        ...

    def close(self) -> None: ...
