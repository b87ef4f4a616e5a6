"""The GPU catalogue: every GPU gpucost knows, read from `catalogue.yaml` beside this module.

One entry per GPU holds its canonical key (what rate cards and results name), the NVML device
names that map to it, SkyPilot's accelerator names (both directions), its memory, board power
and datasheet rates. Every layer asks this module; adding a GPU is adding one entry to the file.
No pandas, no torch: `canonical_gpu` stays cheap to import.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from harness.errors import BadInput

CATALOGUE_FILE = Path(__file__).with_name("catalogue.yaml")

CPU_ONLY = "none"
"""The GPU key of CPU-only instances and of runs on a CPU (an empty `gpu_name`)."""

TERA = 1e12
GIB = 2**30

_FIGURES = ("bf16_dense_tflops", "fp16_dense_tflops", "fp32_tflops", "memory_bw_tb_per_s")


@dataclass(frozen=True)
class Gpu:
    """One catalogue entry. Figures not known are None."""

    key: str
    nvml: tuple[str, ...]
    nvml_examples: tuple[str, ...]
    skypilot: tuple[str, ...]
    instance_types: tuple[str, ...]
    memory_gib: float | None
    max_power_w: float | None
    bf16_dense_tflops: float | None
    fp16_dense_tflops: float | None
    fp32_tflops: float | None
    memory_bw_tb_per_s: float | None
    unverified: frozenset[str]
    """Names of the fields whose figures are not yet confirmed by a datasheet."""

    @property
    def skypilot_name(self) -> str:
        """The accelerator name a SkyPilot task asks for."""
        return self.skypilot[0]

    @property
    def memory_bytes(self) -> int | None:
        return None if self.memory_gib is None else int(self.memory_gib * GIB)

    @property
    def memory_bw_bytes_per_s(self) -> float | None:
        return None if self.memory_bw_tb_per_s is None else self.memory_bw_tb_per_s * TERA

    @property
    def has_datasheet(self) -> bool:
        """Whether rooflines and projections can use this GPU (a bandwidth and a memory size)."""
        return self.memory_bw_tb_per_s is not None and self.memory_gib is not None

    def peak_flops_per_s(self, dtype: str) -> float | None:
        """Datasheet peak for matrix products in `dtype` (bf16, fp16, fp32); None if unknown."""
        tflops = {
            "bf16": self.bf16_dense_tflops,
            "fp16": self.fp16_dense_tflops,
            "fp32": self.fp32_tflops,
        }.get(dtype)
        return None if tflops is None else tflops * TERA

    @property
    def ridge_flops_per_byte(self) -> float | None:
        """Arithmetic intensity (FLOPs per byte) above which bf16 work is compute-bound."""
        peak = self.peak_flops_per_s("bf16") or self.peak_flops_per_s("fp16")
        bandwidth = self.memory_bw_bytes_per_s
        return None if peak is None or not bandwidth else peak / bandwidth


_FIELDS = tuple(f.name for f in fields(Gpu) if f.name != "key")
_LISTS = ("nvml", "nvml_examples", "skypilot", "instance_types", "unverified")


def _normal_name(name: str) -> str:
    return re.sub(r"[-_\s]+", " ", name.strip().upper())


class GpuCatalogue:
    """The entries of one catalogue file, with the lookups every layer needs."""

    def __init__(self, gpus: Iterable[Gpu], source: str = "catalogue") -> None:
        self.gpus: dict[str, Gpu] = {}
        self.source = source
        for gpu in gpus:
            if gpu.key in self.gpus or gpu.key.upper() == CPU_ONLY.upper():
                raise BadInput(f"{source}: GPU {gpu.key!r} is listed twice or is reserved")
            self.gpus[gpu.key] = gpu
        self.keys: tuple[str, ...] = tuple(sorted(self.gpus))
        self._by_upper = {key.upper(): key for key in (*self.keys, CPU_ONLY)}
        self._nvml = tuple(
            (re.compile(pattern), gpu.key) for gpu in self.gpus.values() for pattern in gpu.nvml
        )
        # SkyPilot name -> entries that carry it, and each entry's form-factor patterns compiled:
        # a catalog import asks once per instance type, hundreds of thousands of times.
        self._forms = {
            gpu.key: tuple(re.compile(p) for p in gpu.instance_types) for gpu in self.gpus.values()
        }
        self._by_skypilot: dict[str, list[Gpu]] = {}
        for gpu in self.gpus.values():
            for name in dict.fromkeys(s.upper() for s in gpu.skypilot):
                self._by_skypilot.setdefault(name, []).append(gpu)

    @classmethod
    def load(cls, path: Path = CATALOGUE_FILE) -> GpuCatalogue:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as err:
            raise BadInput(f"{path}: cannot read the GPU catalogue ({err})") from None
        if not isinstance(data, Mapping):
            raise BadInput(f"{path}: the GPU catalogue must map GPU keys to entries")
        return cls((_entry(str(key), body, path) for key, body in data.items()), str(path))

    def __contains__(self, key: object) -> bool:
        return key in self.gpus

    def get(self, key: str | None) -> Gpu | None:
        return self.gpus.get(key) if key else None

    def is_gpu_key(self, key: str) -> bool:
        """Whether a rate card may name `key` (a catalogue key or CPU_ONLY)."""
        return key == CPU_ONLY or key in self.gpus

    def canonical_gpu(self, nvml_name: str | None) -> str | None:
        """The canonical key for an NVML device name, a canonical key itself, or None when unknown.

        An empty name (or None/NaN) is a CPU-only device and maps to CPU_ONLY.
        """
        if nvml_name is None or (isinstance(nvml_name, float) and math.isnan(nvml_name)):
            return CPU_ONLY
        name = str(nvml_name).strip()
        if not name:
            return CPU_ONLY
        exact = self._by_upper.get(name.upper())
        if exact is not None:
            return exact
        normal = _normal_name(name)
        best: tuple[int, str] | None = None
        for pattern, key in self._nvml:
            found = pattern.search(normal)
            if found and (best is None or len(found.group(0)) > best[0]):
                best = (len(found.group(0)), key)
        return None if best is None else best[1]

    def for_cloud_offer(self, cloud: str, instance_type: str, accelerator: str,
                        gpu_memory_mib: int | None) -> str | None:
        """The key for a cloud catalog's accelerator on an instance type, or None when none fits.

        SkyPilot names the chip, not its form factor ('H100' is both SXM and PCIe): entries that
        share the name are told apart by the instance type, then by the memory per GPU.
        """
        name = accelerator.strip().upper()
        named = self._by_skypilot.get(name, [])
        if not named:
            return None
        where = f"{cloud.lower()}:{instance_type.lower()}"
        marked = [g for g in named if any(p.search(where) for p in self._forms[g.key])]
        forms = marked or [g for g in named if not g.instance_types] or named
        gib = None if gpu_memory_mib is None else gpu_memory_mib / 1024
        sized = [g for g in forms if g.memory_gib is not None]
        if not sized:
            return forms[0].key
        if gib is None:  # the smallest is what the bare name sells (SkyPilot's 'A100' is 40 GB)
            return min(sized, key=lambda g: g.memory_gib or 0).key
        return min(sized, key=lambda g: abs((g.memory_gib or 0) - gib)).key


def _entry(key: str, body: Any, path: Path) -> Gpu:
    where = f"{path.name}: GPU {key!r}"
    if not isinstance(body, Mapping):
        raise BadInput(f"{where}: must be a mapping of fields")
    missing = [name for name in _FIELDS if name not in body]
    unknown = sorted(set(map(str, body)) - set(_FIELDS))
    if missing or unknown:
        raise BadInput(f"{where}: missing {missing} / unknown {unknown} fields")
    values: dict[str, Any] = {}
    for name in _LISTS:
        items = body[name]
        if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
            raise BadInput(f"{where}: {name} must be a list of names")
        values[name] = tuple(items)
    for name in ("memory_gib", "max_power_w", *_FIGURES):
        number = body[name]
        if number is not None and (
            isinstance(number, bool) or not isinstance(number, int | float) or not number > 0
        ):
            raise BadInput(f"{where}: {name} must be a positive number or null, not {number!r}")
        values[name] = None if number is None else float(number)
    if not values["nvml"] or not values["skypilot"]:
        raise BadInput(f"{where}: needs at least one nvml pattern and one skypilot name")
    for pattern in (*values["nvml"], *values["instance_types"]):
        try:
            re.compile(pattern)
        except re.error as err:
            raise BadInput(f"{where}: bad pattern {pattern!r} ({err})") from None
    unverified = frozenset(values.pop("unverified"))
    if not unverified <= set(_FIGURES):
        raise BadInput(f"{where}: unverified names fields that are not figures")
    return Gpu(key=key, unverified=unverified, **values)


CATALOGUE = GpuCatalogue.load()
"""The catalogue shipped with gpucost; the functions below read it."""

GPU_KEYS: tuple[str, ...] = CATALOGUE.keys
"""Every canonical GPU key a rate card may name (plus CPU_ONLY)."""


def gpu_keys() -> tuple[str, ...]:
    return CATALOGUE.keys


def gpu_entry(key: str | None) -> Gpu | None:
    """The catalogue entry of a canonical key; None for CPU or a key not in the catalogue."""
    return CATALOGUE.get(key)


def gpu_spec(key: str | None) -> Gpu | None:
    """The entry of a key when it has datasheet figures (for rooflines and projections); else
    None."""
    entry = CATALOGUE.get(key)
    return entry if entry is not None and entry.has_datasheet else None


def datasheet_keys() -> tuple[str, ...]:
    return tuple(key for key, entry in CATALOGUE.gpus.items() if entry.has_datasheet)


def canonical_gpu(nvml_name: str | None) -> str | None:
    return CATALOGUE.canonical_gpu(nvml_name)


def is_gpu_key(key: str) -> bool:
    return CATALOGUE.is_gpu_key(key)


def max_power_w(key: str) -> float | None:
    """Datasheet board power per GPU: the last resort when a self-hosted run measured no energy."""
    entry = CATALOGUE.get(key)
    return None if entry is None else entry.max_power_w


def skypilot_accelerator(key: str) -> str | None:
    """The accelerator name a SkyPilot task asks for; None for CPU or a key not in the catalogue."""
    entry = CATALOGUE.get(key)
    return None if entry is None else entry.skypilot_name


def gpu_for_cloud_offer(cloud: str, instance_type: str, accelerator: str,
                        gpu_memory_mib: int | None) -> str | None:
    """The key for a SkyPilot catalog row's accelerator; see GpuCatalogue.for_cloud_offer."""
    return CATALOGUE.for_cloud_offer(cloud, instance_type, accelerator, gpu_memory_mib)
