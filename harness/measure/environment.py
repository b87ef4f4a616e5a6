"""What this machine is and can measure: recorded in run.json and shown by `gpucost env`."""

from __future__ import annotations

import os
import platform
import socket
import sys
from importlib import metadata
from typing import Any

from harness.meters import open_meter
from harness.meters.base import DeviceInfo

LIBRARIES = ("torch", "transformers", "diffusers", "nvidia-ml-py", "pandas", "click", "numpy")


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_info() -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
    }


def device_info(torch_device: str, info: DeviceInfo | None) -> dict[str, Any]:
    """The run.json `device` block: NVML's view of the GPU, or the CPU."""
    import torch

    if torch_device == "cpu":
        return {
            "type": "cpu",
            "torch_device": "cpu",
            "name": cpu_model(),
            "gpu_name": None,
            "uuid": None,
            "driver_version": None,
            "cuda_version": None,
            "compute_capability": None,
            "memory_total_bytes": None,
            "power_limit_w": None,
            "has_energy_counter": False,
        }
    device = torch.device(torch_device)
    props = torch.cuda.get_device_properties(device)
    return {
        "type": "cuda",
        "torch_device": torch_device,
        "name": info.name if info else props.name,
        "gpu_name": info.name if info else props.name,
        "uuid": info.uuid if info else None,
        "driver_version": info.driver_version if info else None,
        "cuda_version": torch.version.cuda,
        "cuda_driver_version": info.cuda_driver_version if info else None,
        "compute_capability": f"{props.major}.{props.minor}",
        "memory_total_bytes": info.memory_total_bytes if info else props.total_memory,
        "power_limit_w": info.power_limit_w if info else None,
        "has_energy_counter": bool(info and info.has_energy_counter),
    }


def describe_machine() -> dict[str, Any]:
    """Everything `gpucost env` reports: host, torch/CUDA, and what NVML can read per GPU."""
    import torch

    cuda = torch.cuda.is_available()
    facts: dict[str, Any] = {
        "host": host_info(),
        "torch": {
            "version": torch.__version__,
            "cuda_build": torch.version.cuda,
            "cuda_available": cuda,
            "devices": torch.cuda.device_count() if cuda else 0,
        },
        "libraries": library_versions(),
    }
    gpus: dict[str, Any] = {}
    for index in range(torch.cuda.device_count() if cuda else 0):
        uuid = getattr(torch.cuda.get_device_properties(index), "uuid", None)
        meter = open_meter(f"cuda:{index}", device_uuid=str(uuid) if uuid else None)
        try:
            info = meter.info
            sample = meter.read_sample()
            gpus[f"cuda:{index}"] = {
                "name": info.name if info else torch.cuda.get_device_name(index),
                "nvml": True if info else (getattr(meter, "reason", None) or "unavailable"),
                "driver": info.driver_version if info else None,
                "energy_counter": info.has_energy_counter if info else False,
                "power_reading": sample.power_w is not None,
                "power_limit_w": info.power_limit_w if info else None,
                "utilization_reading": sample.gpu_util_pct is not None,
                "clock_event_reasons": sample.clock_event_reasons is not None,
                "memory_total_bytes": info.memory_total_bytes if info else None,
            }
        finally:
            meter.close()
    facts["gpus"] = gpus or (
        "none: CPU runs measure wall time and phases only "
        "(GPU time, energy, power and device memory stay empty)"
    )
    return facts
