"""How money and units print, in every command (`price`, `report`, `compare`, `reconcile`)."""

from __future__ import annotations

import math
from typing import Any

from harness.money.units import display_scale, unit_specs


def money_text(value: float) -> str:
    """Dollars with cents when a value has no finer part, else four significant digits
    (written out, never in e-notation: $0.00008787)."""
    if not math.isfinite(value):
        return "—"
    rounded = float(f"{value:.10g}")
    if abs(rounded) >= 1000:
        return f"${rounded:,.0f}" if abs(rounded) >= 100_000 else f"${rounded:,.2f}"
    if abs(rounded) >= 0.01 and round(rounded, 2) == rounded:
        return f"${rounded:,.2f}"
    if rounded == 0:
        return "$0"
    decimals = max(0, 3 - math.floor(math.log10(abs(rounded))))
    text = f"{rounded:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"${text}"


def usd_cell(value: Any) -> str:
    """`money_text` for a table cell: empty for a missing value (None, NaN, NA)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    return "" if not math.isfinite(number) else money_text(number)


def unit_label(unit: str, workload: str | None = None) -> str:
    """The one name a unit is shown under ("1M output tokens", "1K queries", "image").

    Without a workload (bills and request logs name only the unit), the first workload spec
    with that unit decides its scale.
    """
    if workload is None:
        workload = next((s.workload for s in unit_specs() if s.unit == unit), "")
    return display_scale(workload, unit)[1]


def unit_scale(unit: str, workload: str | None = None) -> int:
    if workload is None:
        workload = next((s.workload for s in unit_specs() if s.unit == unit), "")
    return display_scale(workload, unit)[0]
