"""GPU identity for every layer: the catalogue (`catalogue.yaml` read by `catalogue.py`)."""

from harness.gpus.catalogue import (
    CATALOGUE,
    CPU_ONLY,
    GPU_KEYS,
    TERA,
    Gpu,
    GpuCatalogue,
    canonical_gpu,
    datasheet_keys,
    gpu_entry,
    gpu_for_cloud_offer,
    gpu_keys,
    gpu_spec,
    is_gpu_key,
    max_power_w,
    skypilot_accelerator,
)

__all__ = [
    "CATALOGUE",
    "CPU_ONLY",
    "GPU_KEYS",
    "TERA",
    "Gpu",
    "GpuCatalogue",
    "canonical_gpu",
    "datasheet_keys",
    "gpu_entry",
    "gpu_for_cloud_offer",
    "gpu_keys",
    "gpu_spec",
    "is_gpu_key",
    "max_power_w",
    "skypilot_accelerator",
]
