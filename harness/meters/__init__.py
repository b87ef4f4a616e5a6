"""Measurement: timers, the NVML adapter, the background sampler, and a null meter for CPU runs.

    meter = open_meter("cuda:0")          # NvmlMeter, or NullMeter where NVML cannot be used
    with Sampler(meter, interval_s=0.1) as sampler:
        monitor = EnergyMonitor(meter, sampler)
        idle_w = monitor.measure_idle_power_w()
        sampler.set_label("text", 8)
        monitor.begin_window("text/8")
        ...
        window = monitor.end_window("text/8")
    meter.close()

Nothing here imports torch.
"""

from __future__ import annotations

import os
from types import ModuleType

from harness.errors import MeterUnavailable
from harness.meters.base import DeviceInfo, EnergyWindow, GpuMeter, Sample
from harness.meters.monitor import EnergyMonitor, integrate_power_j
from harness.meters.null import NullMeter
from harness.meters.nvml import NvmlMeter, is_throttled, nvml_device_for
from harness.meters.sampler import LabelledSample, SampleLabel, Sampler

__all__ = [
    "DeviceInfo",
    "EnergyMonitor",
    "EnergyWindow",
    "GpuMeter",
    "LabelledSample",
    "NullMeter",
    "NvmlMeter",
    "Sample",
    "SampleLabel",
    "Sampler",
    "integrate_power_j",
    "is_throttled",
    "nvml_device_for",
    "open_meter",
]


def open_meter(
    torch_device: str,
    *,
    device_uuid: str | None = None,
    nvml_module: ModuleType | None = None,
) -> GpuMeter:
    """The meter for a torch device string ("cpu", "cuda", "cuda:1", ...), already open.

    NullMeter for anything that is not CUDA, and wherever NVML cannot be used (bindings or driver
    missing, device not found): it never raises for those. `device_uuid` (as torch reports it,
    with or without the "GPU-" prefix) picks the device by UUID and overrides the mapping from
    CUDA_VISIBLE_DEVICES. A malformed CUDA device string is BadInput.
    """
    if torch_device.strip().partition(":")[0] != "cuda":
        return NullMeter()
    try:
        if device_uuid is not None:
            target: int | str = device_uuid
        else:
            target = nvml_device_for(torch_device, os.environ.get("CUDA_VISIBLE_DEVICES"))
        if isinstance(target, int):
            meter = NvmlMeter(target, nvml_module)
        else:
            meter = NvmlMeter(0, nvml_module, uuid=target)
        return meter.open()
    except MeterUnavailable as err:
        return NullMeter(reason=str(err))
