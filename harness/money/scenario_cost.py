"""Cost, revenue and margin per call of a product scenario, over instances, plans, utilisations."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from harness.money.cost import PRICED_COLUMNS
from harness.money.margin import gross_margin, margin_column, price_for_margin, revenue_for
from harness.money.scenario import CALL_UNIT, Scenario
from harness.money.units import call_column, unit_spec

SCENARIO_EXTRA_COLUMNS: tuple[str, ...] = (
    "compute_cost_per_call_usd",
    "direct_cost_per_call_usd",
    "energy_estimated",
    "revenue_model",
    "expected_monthly_calls",
    "monthly_cost_usd",
    "monthly_revenue_usd",
)


def calls_per_batch(batch: pd.DataFrame) -> pd.Series:
    """Calls (requests) a batch serves: `requests`, else the workload spec's call column."""
    calls = pd.to_numeric(batch["requests"], errors="coerce")
    for workload in batch["workload"].dropna().unique():
        column = call_column(str(workload))
        if column is None or column == "requests" or column not in batch:
            continue
        fallback = pd.to_numeric(batch[column], errors="coerce")
        calls = calls.where(calls.notna() | (batch["workload"] != workload), fallback)
    return calls.where(calls > 0)


def units_per_call(batch: pd.DataFrame, workload: str, unit: str, calls: pd.Series) -> pd.Series:
    if unit == CALL_UNIT:
        return pd.Series(1.0, index=batch.index)
    spec = unit_spec(workload, unit)
    counts = pd.to_numeric(batch[spec.count_column], errors="coerce") / spec.count_divisor
    return counts / calls


def revenue_per_call(batch: pd.DataFrame, scenario: Scenario, calls: pd.Series) -> pd.Series:
    one = pd.Series(1.0, index=batch.index)
    revenue = revenue_for(
        scenario.revenue, one, lambda unit: units_per_call(batch, scenario.workload, unit, calls)
    )
    return pd.Series(revenue, index=batch.index, dtype=float)


def scenario_costs(
    batch: pd.DataFrame, scenario: Scenario, target_margins: Iterable[float] = ()
) -> pd.DataFrame:
    """One row per (row × instance × plan × utilisation) of a `batch_costs` frame, per call.

    Shaped like `gpucost price` rows with `unit` = "request" (one call): `cost_per_unit_usd` is
    compute plus direct costs per call, `price_per_unit_usd` the revenue per call (empty when
    the service is free, and so is its margin).
    """
    rows = batch[batch["workload"] == scenario.workload]
    if scenario.batch_size is not None:
        rows = rows[rows["batch_size"] == scenario.batch_size]
    rows = rows.copy()
    calls = calls_per_batch(rows)
    direct = scenario.direct_costs.per_call_usd()
    rows["unit"] = CALL_UNIT
    rows["units_per_batch"] = calls
    rows["compute_cost_per_call_usd"] = rows["batch_cost_usd"] / calls
    rows["direct_cost_per_call_usd"] = direct
    rows["cost_per_unit_usd"] = rows["compute_cost_per_call_usd"] + direct
    # The measured interval covers the compute cost; direct costs per call are fixed.
    for end in ("low", "high"):
        factor = rows.get(f"cost_factor_{end}", np.nan)
        rows[f"cost_per_unit_usd_{end}"] = rows["compute_cost_per_call_usd"] * factor + direct
    revenue = revenue_per_call(rows, scenario, calls)
    rows["price_per_unit_usd"] = revenue
    rows["gross_margin"] = gross_margin(revenue, rows["cost_per_unit_usd"])
    rows["gross_margin_low"] = gross_margin(revenue, rows["cost_per_unit_usd_high"])
    rows["gross_margin_high"] = gross_margin(revenue, rows["cost_per_unit_usd_low"])
    rows["break_even_price_usd"] = rows["cost_per_unit_usd"]
    rows["revenue_model"] = scenario.revenue.model
    monthly = scenario.expected_monthly_calls
    rows["expected_monthly_calls"] = monthly if monthly is not None else np.nan
    rows["monthly_cost_usd"] = rows["cost_per_unit_usd"] * rows["expected_monthly_calls"]
    rows["monthly_revenue_usd"] = (
        revenue.fillna(0.0) if scenario.revenue.model == "free" else revenue
    ) * rows["expected_monthly_calls"]
    extras = list(SCENARIO_EXTRA_COLUMNS)
    for margin in target_margins:
        rows[margin_column(margin)] = price_for_margin(rows["cost_per_unit_usd"], margin)
        extras.append(margin_column(margin))
    rows = rows.sort_values(["cost_per_unit_usd", "provider", "instance"], kind="stable")
    return rows.reindex(columns=[*PRICED_COLUMNS, *extras]).reset_index(drop=True)
