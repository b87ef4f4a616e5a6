"""A plan's bill beside the real one: `gpucost reconcile ... --plan PLAN.json`.

The plan (from `gpucost plan --format json`) says what the fleet should cost per hour and per
request; the bill and request log say what it did. Each reconcile row gets the planned cost of
its period (the plan's cost per hour × the period's hours, for the whole fleet) and, for request
and output-token rows, the planned cost per unit; `plan_cost_ratio` is actual ÷ planned cost per
unit (above 1: the fleet ran less loaded, or cost more, than planned).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import BadInput
from harness.render.text import money_text

if TYPE_CHECKING:
    import pandas as pd

PLAN_COLUMNS: tuple[str, ...] = (
    "planned_cost_usd",
    "planned_cost_per_unit_usd",
    "plan_cost_ratio",
)
MAX_PLAN_BYTES = 200_000_000


@dataclass(frozen=True)
class PlannedBill:
    path: str
    total_cost_usd: float
    horizon_hours: float
    cost_per_request_usd: float | None
    cost_per_output_token_usd: float | None

    @property
    def cost_per_hour_usd(self) -> float:
        return self.total_cost_usd / self.horizon_hours

    def per_unit_usd(self, unit: str) -> float | None:
        if unit == "request":
            return self.cost_per_request_usd
        if unit == "output_token":
            return self.cost_per_output_token_usd
        return None


def _field(data: dict[str, Any], name: str, where: str, *, required: bool) -> float | None:
    value = data.get(name)
    if value is None:
        if required:
            raise BadInput(f"{where}: no {name}; is this a `gpucost plan --format json` file?")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadInput(f"{where}: {name} must be a number")
    if not math.isfinite(value) or value < 0:
        raise BadInput(f"{where}: {name} must be a finite number ≥ 0")
    return float(value)


def read_plan(path: str | Path) -> PlannedBill:
    """The planned bill of a plan JSON file, each field checked; BadInput naming the file."""
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise BadInput(f"--plan {where}: no such plan file")
    if path.stat().st_size > MAX_PLAN_BYTES:
        raise BadInput(f"--plan {where}: too large for a plan file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadInput(f"--plan {where}: not a plan JSON file ({err})") from None
    if not isinstance(data, dict):
        raise BadInput(f"--plan {where}: expected a JSON object from `gpucost plan --format json`")
    where = f"--plan {where}"
    total = _field(data, "total_cost_usd", where, required=True)
    hours = _field(data, "horizon_hours", where, required=True)
    assert total is not None and hours is not None
    if hours <= 0:
        raise BadInput(f"{where}: horizon_hours must be > 0")
    per_million = _field(data, "cost_per_1m_output_tokens_usd", where, required=False)
    return PlannedBill(
        path=str(path),
        total_cost_usd=total,
        horizon_hours=hours,
        cost_per_request_usd=_field(data, "cost_per_request_usd", where, required=False),
        cost_per_output_token_usd=None if per_million is None else per_million / 1e6,
    )


def add_planned(table: pd.DataFrame, plan: PlannedBill) -> pd.DataFrame:
    """The reconcile table with PLAN_COLUMNS added (empty where the plan has no such unit)."""
    import pandas as pd

    out = table.copy()
    if out.empty:
        for column in PLAN_COLUMNS:
            out[column] = pd.Series(dtype=float)
        return out
    hours = (
        pd.to_datetime(out["period_end"], utc=True) - pd.to_datetime(out["period_start"], utc=True)
    ).dt.total_seconds() / 3600.0
    out["planned_cost_usd"] = hours * plan.cost_per_hour_usd
    planned = out["unit"].map(lambda u: plan.per_unit_usd(str(u))).astype(float)
    out["planned_cost_per_unit_usd"] = planned
    actual = pd.to_numeric(out["cost_per_unit_usd"], errors="coerce")
    out["plan_cost_ratio"] = actual / planned.where(planned > 0)
    return out


def summary_line(table: pd.DataFrame, plan: PlannedBill) -> str:
    """One line under the text table: the plan's bill and cost per request beside the bill's."""
    import pandas as pd

    requests = table[(table["unit"] == "request") & (table.get("split", "whole") == "whole")]
    cost = pd.to_numeric(requests["cost_usd"], errors="coerce").sum()
    served = pd.to_numeric(requests["units"], errors="coerce").sum()
    planned_cost = pd.to_numeric(table.drop_duplicates("period_start")["planned_cost_usd"]).sum()
    actual = f"{money_text(cost / served)} per request" if served else "no requests"
    planned = (
        f"{money_text(plan.cost_per_request_usd)} per request"
        if plan.cost_per_request_usd is not None
        else "no cost per request"
    )
    return (
        f"Plan {plan.path}: {money_text(planned_cost)} for these periods, {planned}; "
        f"the bill: {money_text(cost)}, {actual}"
    )
