"""What a workload is: the small interface the runner drives, and the pieces workloads share.

A workload builds its model once (`load`), makes inputs for a batch size (`prepare`, outside the
timed window), then runs one iteration per `run_once`. It marks phase boundaries on the stopwatch
it is given; the runner turns marks into per-phase seconds. It never measures time, energy or
memory itself and knows nothing about money.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from harness.errors import BadInput


class Stopwatch(Protocol):
    """Handed to `run_once`. `mark(name)` records a timestamp on the device's timeline.

    The runner marks "start" before `run_once` and "end" after it. Marking a name again replaces
    it (so "last_token" marked at every decode step keeps the last one).
    """

    def mark(self, name: str) -> None: ...


@dataclass(frozen=True)
class Phase:
    """A timed part of one iteration, between two marks. Written as `<name>_s_p50` columns."""

    name: str
    start_mark: str
    end_mark: str


@dataclass(frozen=True)
class WorkloadSettings:
    """Base of each workload's fixed settings. Fields have defaults; units go in the names."""

    def validate(self) -> None:
        """Raise BadInput naming the option when a value cannot work."""

    @classmethod
    def field_names(cls) -> frozenset[str]:
        return frozenset(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> WorkloadSettings:
        """Build from CLI/config options, keeping the ones this workload has and dropping None.

        String values (from `-o NAME=VALUE`) are converted to the field's declared type.
        """
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            value = options.get(f.name)
            if value is None:
                continue
            values[f.name] = _coerce(f.name, str(f.type), value)
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _coerce(name: str, type_name: str, value: Any) -> Any:
    if not isinstance(value, str) or type_name == "str":
        return value
    option = "--" + name.replace("_", "-")
    try:
        if type_name == "bool":
            if value.lower() not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                raise ValueError(value)
            return value.lower() in {"1", "true", "yes", "on"}
        if type_name == "int":
            return int(value)
        if type_name == "float":
            return float(value)
    except ValueError:
        raise BadInput(f"{option} must be {type_name} (got {value!r})") from None
    return value


def require_positive(option: str, value: float) -> None:
    if value <= 0:
        raise BadInput(f"--{option.replace('_', '-')} must be > 0 (got {value})")


@dataclass(frozen=True)
class WorkloadContext:
    """Where and how a workload runs. `model_path` is a local folder with real weights, or None."""

    preset: str
    device: str  # "cpu", "cuda", "cuda:1"
    dtype: str  # "bf16", "fp16", "fp32"
    seed: int = 0
    model_path: Path | None = None
    engine: str = "eager"


class Workload(ABC):
    """Base of every workload, built-in or plugin. Subclasses set the class attributes."""

    name: ClassVar[str]
    settings_type: ClassVar[type[WorkloadSettings]]
    presets: ClassVar[Mapping[str, Any]]
    preset_settings: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    """Per-preset defaults that replace the Settings defaults (e.g. tiny: fewer steps)."""
    gpu_default_preset: ClassVar[str]
    cpu_default_preset: ClassVar[str] = "tiny"
    gpu_default_batch_sizes: ClassVar[tuple[int, ...]] = (1, 8, 32)
    cpu_default_batch_sizes: ClassVar[tuple[int, ...]] = (1, 2)
    unit_columns: ClassVar[tuple[str, ...]]
    phases: ClassVar[tuple[Phase, ...]] = ()
    engines: ClassVar[tuple[str, ...]] = ("eager",)
    slo_metrics: ClassVar[tuple[str, ...]] = ()
    """Per-request latencies besides end-to-end (`ttft`, `tpot`, `itl`) that
    `request_latencies` gives, so `--slo` can judge them; e2e is always the iteration's wall time."""

    def __init__(self, settings: WorkloadSettings, ctx: WorkloadContext) -> None:
        self.settings = settings
        self.ctx = ctx

    @classmethod
    def settings_for(cls, preset: str, options: Mapping[str, Any]) -> WorkloadSettings:
        """Settings defaults, then the preset's defaults, then what the user gave."""
        merged = {
            **cls.preset_settings.get(preset, {}),
            **{k: v for k, v in options.items() if v is not None},
        }
        return cls.settings_type.from_options(merged)

    @classmethod
    def check(cls, settings: WorkloadSettings, ctx: WorkloadContext) -> None:
        """Validate everything that can be checked before any model is built."""
        settings.validate()
        if ctx.model_path is None and ctx.preset not in cls.presets:
            valid = ", ".join(sorted(cls.presets))
            raise BadInput(
                f"unknown preset {ctx.preset!r} for workload {cls.name!r} (valid: {valid})"
            )
        if ctx.model_path is not None and not Path(ctx.model_path).is_dir():
            what = "not a folder" if Path(ctx.model_path).exists() else "no such folder"
            raise BadInput(f"--model {ctx.model_path}: {what}")
        if ctx.engine not in cls.engines:
            valid = ", ".join(cls.engines)
            raise BadInput(
                f"--engine {ctx.engine!r} is not available for {cls.name!r} (valid: {valid})"
            )

    @abstractmethod
    def load(self) -> None:
        """Build the model (random weights from the preset, or the local folder) on the device."""

    @abstractmethod
    def prepare(self, batch_size: int) -> None:
        """Make the inputs for one batch of this size. Not timed."""

    @abstractmethod
    def run_once(self, stopwatch: Stopwatch) -> None:
        """One iteration over the prepared batch, marking phase boundaries on the stopwatch."""

    @abstractmethod
    def units(self, batch_size: int) -> dict[str, float]:
        """Units of work one iteration does, keyed by the results-contract unit columns."""

    def row_extras(self, batch_size: int) -> dict[str, Any]:
        """Settings and derived figures recorded in this batch size's row (steps, resolution, ...)."""
        return {}

    def derived_columns(
        self, batch_size: int, wall_s_p50: float | None, phases_s_p50: dict[str, float | None]
    ) -> dict[str, Any]:
        """Figures computed from the summary (TPOT, RTFx, ...), added to the row."""
        return {}

    def request_latencies(
        self, batch_size: int, phases_s: dict[str, float | None]
    ) -> dict[str, float | None]:
        """The latencies every request of one timed iteration saw, keyed by the names in
        `slo_metrics` (e.g. {"ttft": ..., "tpot": ...}), from that iteration's phase seconds."""
        return {}

    def compile_s(self) -> float | None:
        """Seconds the latest `prepare` spent in its first compiled call(s), outside the timed
        window; None for an engine that compiles nothing. The runner then counts the
        compilations inside the timed window (`recompiles`)."""
        return None

    def describe(self) -> dict[str, Any]:
        """The model and settings as recorded in run.json (after `load`)."""
        return {"preset": self.ctx.preset, "settings": self.settings.as_dict()}

    @property
    def model_label(self) -> str:
        return str(self.ctx.model_path) if self.ctx.model_path else self.ctx.preset

    def release(self) -> None:
        """Drop the prepared inputs (after an out-of-memory), keeping the model."""

    def close(self) -> None:
        """Drop everything this workload holds on the device."""
