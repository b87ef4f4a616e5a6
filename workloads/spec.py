"""What the money, report and analysis layers know about a workload, without importing it.

A workload class (torch, transformers, ...) measures; its `WorkloadSpec` beside it says how the
rows it writes are priced and shown: the units of work, how a row's cost splits across them, the
unit a service is quoted per, its phases, which roofline formula applies and which report
sections it adds. Specs are plain frozen dataclasses: importing one never imports torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

SHARES = ("all", "prefill", "decode")
"""How much of a batch's cost a unit carries: all of it, or the text phases' share."""

ROOFLINES = ("decoder", "encoder", "encoder+search")
"""Roofline formulas the analysis layer knows; None on a spec means "counted FLOPs only"."""

REPORT_SECTIONS = ("ttft_tpot", "phase_efficiency")
"""Optional report sections a workload can add beside the ones every workload gets."""


@dataclass(frozen=True)
class UnitSpec:
    """One priced unit and how it is counted from a results row.

    `count_column` holds the units per batch (or per window); dividing by `count_divisor` turns
    it into the unit (audio seconds → audio minutes). `share` is the part of the row's cost the
    unit carries (SHARES). `display_scale` units make one shown figure ("1M output tokens").
    `workload` is filled in by the WorkloadSpec that holds the unit.
    """

    unit: str
    count_column: str
    count_divisor: float = 1.0
    share: str = "all"
    display_scale: int = 1
    display_name: str = ""
    workload: str = ""

    def __post_init__(self) -> None:
        if self.share not in SHARES:
            raise ValueError(f"unit {self.unit!r}: share must be one of {SHARES}")
        if not self.count_divisor > 0 or self.display_scale < 1:
            raise ValueError(f"unit {self.unit!r}: divisor and display scale must be positive")
        if not self.display_name:
            object.__setattr__(
                self, "display_name", scaled_unit_name(self.unit, self.display_scale)
            )


def scaled_unit_name(unit: str, scale: int) -> str:
    """A unit's name at a scale: "1M input tokens", "1K queries", "image" (shown through
    harness.money.units.unit_label, which finds the workload's scale)."""
    words = unit.replace("_", " ")
    if scale == 1:
        return words
    prefix = {1_000: "1K", 1_000_000: "1M"}.get(scale, f"{scale:,}")
    plural = words[:-1] + "ies" if words.endswith("y") else words + "s"
    return f"{prefix} {plural}"


FRONTIER_DIRECTIONS = ("higher", "lower")
"""Which way an interactivity axis improves: more tokens/s per user, or less latency."""


@dataclass(frozen=True)
class FrontierAxis:
    """One axis of the cost–interactivity frontier: the primary unit's cost is drawn against it.

    The value is the results column `column` where a row has it, else the product of the
    `numerator` columns divided by the product of the `denominator` columns (empty when any of
    them is). `label` names the axis truthfully, percentile included; `better` is a
    FRONTIER_DIRECTIONS value.
    """

    name: str
    label: str
    better: str
    column: str = ""
    numerator: tuple[str, ...] = ()
    denominator: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.better not in FRONTIER_DIRECTIONS:
            raise ValueError(f"frontier axis {self.name!r}: better must be one of "
                             f"{FRONTIER_DIRECTIONS}")  # fmt: skip
        if not self.column and not self.numerator:
            raise ValueError(f"frontier axis {self.name!r}: names no column and no ratio")
        if bool(self.numerator) != bool(self.denominator):
            raise ValueError(f"frontier axis {self.name!r}: a ratio needs both numerator "
                             "and denominator columns")  # fmt: skip

    @property
    def columns(self) -> tuple[str, ...]:
        """Every results column the axis reads."""
        named = (self.column,) if self.column else ()
        return (*named, *self.numerator, *self.denominator)


@dataclass(frozen=True)
class SettingOption:
    """A workload setting offered as its own `gpucost run --NAME` option (others go by `-o`)."""

    name: str  # option spelling, e.g. "input-len"
    kind: str  # "int", "float" or "bool"
    help: str


@dataclass(frozen=True)
class WorkloadSpec:
    """Everything outside measurement needs to know about one workload."""

    name: str
    units: tuple[UnitSpec, ...]
    primary_unit: str
    call_column: str = "requests"
    """The count column that says how many calls of a service one row served."""
    phases: tuple[str, ...] = ()
    roofline: str | None = None
    """A ROOFLINES formula, or None: MFU/MBU from counted FLOPs only."""
    report_sections: tuple[str, ...] = ()
    frontier: tuple[FrontierAxis, ...] = ()
    """Interactivity axes the primary unit's cost is drawn against (compare, report); none: no
    frontier."""
    options: tuple[SettingOption, ...] = field(default=())
    description: str = ""

    def __post_init__(self) -> None:
        if not self.units:
            raise ValueError(f"workload spec {self.name!r}: declares no units")
        named = tuple(dataclasses.replace(u, workload=self.name) for u in self.units)
        object.__setattr__(self, "units", named)
        if self.primary_unit not in self.unit_names:
            raise ValueError(f"workload spec {self.name!r}: primary unit {self.primary_unit!r} "
                             "is not one of its units")  # fmt: skip
        if self.roofline is not None and self.roofline not in ROOFLINES:
            raise ValueError(f"workload spec {self.name!r}: unknown roofline {self.roofline!r}")
        unknown = set(self.report_sections) - set(REPORT_SECTIONS)
        if unknown:
            raise ValueError(f"workload spec {self.name!r}: unknown report sections {unknown}")
        axes = [a.name for a in self.frontier]
        if len(set(axes)) != len(axes):
            raise ValueError(f"workload spec {self.name!r}: frontier axis names repeat: {axes}")

    @property
    def unit_names(self) -> tuple[str, ...]:
        return tuple(u.unit for u in self.units)

    @property
    def count_columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(u.count_column for u in self.units))

    def unit(self, name: str) -> UnitSpec:
        for spec in self.units:
            if spec.unit == name:
                return spec
        raise KeyError(f"{self.name}.{name}")

    @property
    def primary(self) -> UnitSpec:
        return self.unit(self.primary_unit)
