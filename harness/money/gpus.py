"""Canonical GPU keys: what rate cards name and what NVML device names map to."""

from __future__ import annotations

import math
import re

CPU_ONLY = "none"
"""The GPU key of CPU-only instances and of runs on a CPU (an empty `gpu_name`)."""

MAX_POWER_W: dict[str, float | None] = {
    "H100-SXM-80GB": 700.0,
    "H100-PCIE-80GB": 350.0,
    "H100-NVL-94GB": 400.0,
    "H200-SXM-141GB": 700.0,
    "H200-NVL-141GB": 600.0,
    "GH200": None,  # configurable 450–1000 W for the whole superchip: no single figure
    "A100-SXM-80GB": 400.0,
    "A100-SXM-40GB": 400.0,
    "A100-PCIE-80GB": 300.0,
    "A100-PCIE-40GB": 250.0,
    "L40S": 350.0,
    "L4": 72.0,
    "A10G": 150.0,
    "A10": 150.0,
    "T4": 70.0,
    "RTX-A6000": 300.0,
}
"""Datasheet board power per GPU: the last resort when a self-hosted run measured no energy."""

GPU_KEYS: tuple[str, ...] = tuple(sorted(MAX_POWER_W))
"""Every canonical GPU key a rate card may name (plus CPU_ONLY)."""

# Order matters: specific names before the families they contain (H200 NVL before H200).
_NVML_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), key)
    for pattern, key in (
        (r"\bGH200\b", "GH200"),
        (r"\bH200 NVL\b", "H200-NVL-141GB"),
        (r"\bH200\b", "H200-SXM-141GB"),
        (r"\bH100 NVL\b", "H100-NVL-94GB"),
        (r"\bH100 PCIE\b", "H100-PCIE-80GB"),
        (r"\bH100 (80GB HBM3|SXM)", "H100-SXM-80GB"),
        (r"\bA100 SXM4 80GB\b", "A100-SXM-80GB"),
        (r"\bA100 SXM4 40GB\b", "A100-SXM-40GB"),
        (r"\bA100 (80GB PCIE|PCIE 80GB)\b", "A100-PCIE-80GB"),
        (r"\bA100 (40GB PCIE|PCIE 40GB)\b", "A100-PCIE-40GB"),
        (r"\bL40S\b", "L40S"),
        (r"\bL4\b", "L4"),
        (r"\bA10G\b", "A10G"),
        (r"\bA10\b", "A10"),
        (r"\bT4\b", "T4"),
        (r"\bRTX A6000\b", "RTX-A6000"),
    )
)

_KEYS_BY_UPPER = {key.upper(): key for key in (*GPU_KEYS, CPU_ONLY)}


def canonical_gpu(nvml_name: str | None) -> str | None:
    """The canonical key for an NVML device name, a canonical key itself, or None when unknown.

    An empty name (or None/NaN) is a CPU-only device and maps to CPU_ONLY.
    """
    if nvml_name is None or (isinstance(nvml_name, float) and math.isnan(nvml_name)):
        return CPU_ONLY
    name = str(nvml_name).strip()
    if not name:
        return CPU_ONLY
    exact = _KEYS_BY_UPPER.get(name.upper())
    if exact is not None:
        return exact
    normal = re.sub(r"[-_\s]+", " ", name.upper())
    for pattern, key in _NVML_PATTERNS:
        if pattern.search(normal):
            return key
    return None


def is_gpu_key(key: str) -> bool:
    return key == CPU_ONLY or key in MAX_POWER_W
