"""Units of work each workload is priced per, read from the workload specs in the registry.

Nothing here names a workload: a plugin that registers a `WorkloadSpec` is priced like a
built-in. The functions re-read the registry (cached per `sys.path`), so a plugin installed
while the process runs is found; the UPPER-CASE names are the same figures, computed on access.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from workloads import registry
from workloads.spec import UnitSpec, WorkloadSpec, scaled_unit_name


def _registry() -> ModuleType:
    # Imported on first use: `ratecards list` never needs it (importlib.metadata is slow).
    return registry

SCALES: dict[str, int] = {"1": 1, "1K": 1_000, "1M": 1_000_000}

__all__ = [
    "SCALES",
    "UnitSpec",
    "WorkloadSpec",
    "call_column",
    "count_columns",
    "display_scale",
    "priced_workloads",
    "primary_unit",
    "scale_label",
    "unit_label",
    "unit_scale",
    "unit_spec",
    "unit_specs",
    "units_by_workload",
    "workload_spec",
]


def workload_spec(workload: str) -> WorkloadSpec | None:
    return _registry().spec(workload)


def priced_workloads() -> tuple[str, ...]:
    """Workloads with a spec, built-ins first."""
    return tuple(_registry().specs())


def unit_specs() -> tuple[UnitSpec, ...]:
    return tuple(u for spec in _registry().specs().values() for u in spec.units)


def units_by_workload() -> dict[str, tuple[str, ...]]:
    return {name: spec.unit_names for name, spec in _registry().specs().items()}


def primary_unit(workload: str) -> str | None:
    """The unit a workload is usually quoted per: it ranks instances and drives sensitivity."""
    spec = _registry().spec(workload)
    return None if spec is None else spec.primary_unit


def call_column(workload: str) -> str | None:
    """The count column saying how many calls of a service a row served."""
    spec = _registry().spec(workload)
    return None if spec is None else spec.call_column


def count_columns() -> tuple[str, ...]:
    """Every column some spec counts units from, in first-declared order."""
    return tuple(dict.fromkeys(u.count_column for u in unit_specs()))


def unit_spec(workload: str, unit: str) -> UnitSpec:
    spec = _registry().spec(workload)
    if spec is None:
        raise KeyError(f"{workload}.{unit}")
    return spec.unit(unit)


def display_scale(workload: str, unit: str) -> tuple[int, str]:
    """How a unit's cost is shown: (units per shown figure, name), e.g. (1_000_000, "1M output tokens")."""
    try:
        spec = unit_spec(workload, unit)
    except KeyError:
        return 1, scaled_unit_name(unit, 1)
    return spec.display_scale, spec.display_name


def _any_workload(unit: str) -> str:
    """Bills and request logs name only the unit: the first workload spec with it decides."""
    return next((s.workload for s in unit_specs() if s.unit == unit), "")


def unit_label(unit: str, workload: str | None = None) -> str:
    """The one name a unit is shown under ("1M output tokens", "1K queries", "image")."""
    return display_scale(workload or _any_workload(unit), unit)[1]


def unit_scale(unit: str, workload: str | None = None) -> int:
    """Units per shown figure (1,000,000 for a cost per 1M tokens)."""
    return display_scale(workload or _any_workload(unit), unit)[0]


def scale_label(scale: int) -> str:
    for label, value in SCALES.items():
        if value == scale:
            return label
    return str(scale)


def __getattr__(name: str) -> Any:
    computed = {
        "UNIT_SPECS": unit_specs,
        "UNITS_BY_WORKLOAD": units_by_workload,
        "PRIMARY_UNIT": lambda: {w: s.primary_unit for w, s in _registry().specs().items()},
    }
    if name in computed:
        return computed[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
