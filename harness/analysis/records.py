"""Compare's results as JSON-ready records: NaN as None, numpy scalars as Python ones."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from harness.analysis.compare import Comparison


def to_records(comparison: Comparison) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: NaN becomes None."""
    out = []
    for record in comparison.rows.to_dict("records"):
        out.append({k: None if isinstance(v, float) and v != v else v for k, v in record.items()})
    return out


def pareto_records(points: pd.DataFrame) -> list[dict[str, Any]]:
    """The Pareto points as JSON-ready dicts (NaN as None), in axis order, cheapest first."""
    on = points[points["pareto"].astype(bool)].sort_values(
        ["workload", "work", "axis", "utilization", "cost_per_unit_usd"], kind="stable"
    )
    clean = on.astype(object).where(on.notna(), None)
    return [
        {k: v.item() if hasattr(v, "item") else v for k, v in r.items()}
        for r in clean.to_dict("records")
    ]
