"""What a run will do, resolved and checked before anything is built or written."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from harness.errors import BadInput
from harness.money.confidence import UNSTABLE_CV
from harness.slo import parse_slo
from workloads import registry
from workloads.base import Workload, WorkloadContext, WorkloadSettings

DTYPE_NAMES = ("bf16", "fp16", "fp32")

MAX_BATCH_SIZE = 1 << 20
"""Larger batch sizes are refused up front: they only ever end as `oom` or `error` rows."""
MAX_SEED = (1 << 32) - 1
DEFAULT_THREADS = 1
"""torch's CPU threads by default: one thread is the least noisy on a shared or busy machine and
the same on every machine; give `--threads N` to measure what N cores serve on a CPU instance."""


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, not the whole machine)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# field: (option, kind, low, high); a float must also be finite. None: no bound.
_LIMITS: dict[str, tuple[str, type, float | None, float | None]] = {
    "seed": ("--seed", int, 0, MAX_SEED),
    "warmup": ("--warmup", int, 0, 100_000),
    "iterations": ("--iterations", int, 1, 1_000_000),
    "min_duration_s": ("--min-duration", float, 0, 3600),
    "max_iterations": ("--max-iterations", int, 1, 1_000_000),
    "sample_interval_s": ("--sample-interval", float, 0.01, 3600),
    "idle_power_s": ("--idle-seconds", float, 0, 3600),
    "threads": ("--threads", int, 1, None),
    "unstable_cv": ("unstable_cv", float, 0, None),
}


def check_number(option: str, value: Any, kind: type, low: float | None, high: float | None) -> None:
    """BadInput naming `option` unless `value` is a finite `kind` within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadInput(f"{option} must be a number (got {type(value).__name__})")
    if kind is int and not isinstance(value, int):
        raise BadInput(f"{option} must be a whole number (got {value})")
    if not math.isfinite(value):
        raise BadInput(f"{option} must be a finite number (got {value})")
    if low is not None and value < low:
        raise BadInput(f"{option} must be >= {low} (got {value})")
    if high is not None and value > high:
        raise BadInput(f"{option} must be <= {high} (got {value})")


@dataclass(frozen=True)
class WorkloadPlan:
    name: str
    workload_type: type[Workload]
    settings: WorkloadSettings
    context: WorkloadContext
    batch_sizes: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "preset": self.context.preset,
            "model": str(self.context.model_path) if self.context.model_path else None,
            "settings": self.settings.as_dict(),
            "batch_sizes": list(self.batch_sizes),
        }


@dataclass(frozen=True)
class RunConfig:
    workloads: tuple[WorkloadPlan, ...]
    device: str
    dtype: str
    seed: int = 0
    warmup: int = 3
    iterations: int = 10
    min_duration_s: float = 2.0
    max_iterations: int = 10_000
    sample_interval_s: float | None = 0.1
    idle_power_s: float = 1.0
    engine: str = "eager"
    count_flops: bool = True
    threads: int = DEFAULT_THREADS
    unstable_cv: float = UNSTABLE_CV
    slo: str | None = None
    """`--slo` targets (harness.slo), judged on each row where the workload has them"""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse what cannot run, here, so a library caller meets the CLI's checks too and
        nothing is created before they pass."""
        for name, (option, kind, low, high) in _LIMITS.items():
            value = getattr(self, name)
            if value is None and name == "sample_interval_s":
                continue  # the sampler is off
            check_number(option, value, kind, low, high)
        if self.iterations > self.max_iterations:
            raise BadInput(
                f"--iterations {self.iterations} is more than --max-iterations "
                f"{self.max_iterations}"
            )
        cpus = available_cpus()
        if self.threads > cpus:
            raise BadInput(f"--threads {self.threads}: this process may use {cpus} CPU(s)")
        if not self.workloads:
            raise BadInput("no workload to run")
        if self.slo is not None:
            parse_slo(self.slo)

    def as_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "dtype": self.dtype,
            "seed": self.seed,
            "warmup": self.warmup,
            "iterations": self.iterations,
            "min_duration_s": self.min_duration_s,
            "max_iterations": self.max_iterations,
            "sample_interval_s": self.sample_interval_s,
            "idle_power_s": self.idle_power_s,
            "engine": self.engine,
            "count_flops": self.count_flops,
            "threads": self.threads,
            "unstable_cv": self.unstable_cv,
            "slo": self.slo,
            "workloads": [w.as_dict() for w in self.workloads],
        }


def resolve_device(requested: str | None) -> str:
    """`cuda:0` when a GPU is there, else `cpu`; BadInput for a device this machine lacks."""
    if requested is None:
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise BadInput(f"--device {requested!r}: not a device (use cpu, cuda or cuda:N)") from None
    if device.type == "cpu":
        if device.index not in (None, 0):
            raise BadInput(f"--device {requested}: the CPU has no device index (use cpu)")
        return "cpu"
    if device.type != "cuda":
        raise BadInput(f"--device {requested!r}: only cpu and cuda devices are supported")
    if not torch.cuda.is_available():
        raise BadInput(f"--device {requested}: no CUDA GPU is available on this machine")
    index = device.index or 0
    if index >= torch.cuda.device_count():
        raise BadInput(
            f"--device {requested}: this machine has {torch.cuda.device_count()} CUDA device(s)"
        )
    return f"cuda:{index}"


def resolve_dtype(requested: str | None, device: str) -> str:
    if requested is None:
        if device == "cpu":
            return "fp32"
        # Ampere (8.x) and newer have bf16 tensor cores; older cards only emulate it, which
        # `is_bf16_supported()` still reports as supported.
        major, _ = torch.cuda.get_device_capability(torch.device(device))
        return "bf16" if major >= 8 else "fp16"
    if requested not in DTYPE_NAMES:
        raise BadInput(f"--dtype {requested!r}: unknown (valid: {', '.join(DTYPE_NAMES)})")
    return requested


def parse_batch_sizes(text: str) -> tuple[int, ...]:
    if not text.strip():
        raise BadInput("--batch-sizes is empty (give e.g. 1,8,32)")
    sizes = []
    for part in text.split(","):
        part = part.strip()
        try:
            size = int(part)
        except ValueError:
            raise BadInput(f"--batch-sizes {text!r}: {part!r} is not a whole number") from None
        if size <= 0:
            raise BadInput(f"--batch-sizes {text!r}: batch sizes must be > 0 (got {size})")
        if size > MAX_BATCH_SIZE:
            raise BadInput(
                f"--batch-sizes {text!r}: batch sizes must be <= {MAX_BATCH_SIZE} (got {size})"
            )
        sizes.append(size)
    if not sizes:
        raise BadInput("--batch-sizes is empty")
    return tuple(sorted(set(sizes)))


def plan_workloads(
    names: Sequence[str],
    *,
    device: str,
    dtype: str,
    preset: str | None,
    model_path: Path | None,
    batch_sizes: tuple[int, ...] | None,
    options: Mapping[str, Any],
    seed: int,
    engine: str,
) -> tuple[WorkloadPlan, ...]:
    """Resolve each workload's preset, settings and batch sizes, checking each before the run."""
    if not names:
        raise BadInput("--workload: no workload name given")
    if preset is not None and not preset.strip():
        raise BadInput("--preset is empty (give a preset name)")
    if model_path is not None and len(names) != 1:
        raise BadInput("--model needs exactly one --workload (the folder holds one model)")
    types = [registry.load(name) for name in names]
    known = set().union(*(t.settings_type.field_names() for t in types))
    unused = sorted(k for k, v in options.items() if v is not None and k not in known)
    if unused:
        flags = ", ".join("--" + k.replace("_", "-") for k in unused)
        raise BadInput(f"{flags}: not a setting of the selected workload(s) {', '.join(names)}")
    on_gpu = device != "cpu"
    plans = []
    for name, cls in zip(names, types, strict=True):
        chosen = preset or (cls.gpu_default_preset if on_gpu else cls.cpu_default_preset)
        settings = cls.settings_for(chosen, options)
        ctx = WorkloadContext(
            preset=chosen if model_path is None else "local",
            device=device,
            dtype=dtype,
            seed=seed,
            model_path=model_path,
            engine=engine,
        )
        _check_finite_settings(settings)
        cls.check(settings, ctx)
        sizes = batch_sizes or (
            cls.gpu_default_batch_sizes if on_gpu else cls.cpu_default_batch_sizes
        )
        for size in sizes:
            check_number("--batch-sizes", size, int, 1, MAX_BATCH_SIZE)
        plans.append(WorkloadPlan(name, cls, settings, ctx, tuple(sizes)))
    return tuple(plans)


def _check_finite_settings(settings: WorkloadSettings) -> None:
    """A float setting of nan or inf passes every `> 0` check and yields a nonsense row."""
    for name, value in settings.as_dict().items():
        if isinstance(value, float) and not math.isfinite(value):
            raise BadInput(f"--{name.replace('_', '-')} must be a finite number (got {value})")
