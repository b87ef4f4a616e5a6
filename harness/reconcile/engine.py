"""Bill ÷ served work, per period and resource group, beside the benchmark floor.

A period's bill rows are kept apart by resource group (instance type, else resource id). The
requests of a period go to a group when a line names that instance type, or when the period has
just that one group; a row `instance = "all"` then carries the period's whole cost and all its
requests whenever the period has several groups or requests no group could claim. When some
lines of a period with several groups name no instance, no group's share of the work is known,
and the group rows show only their cost. Every unit row of a group divides the group's whole
cost by that unit's count (cost per request, per output token, ...); with a benchmark, text also
gets `split = "benchmark"` rows that give input and output tokens the prefill : decode share of
the cost, both from the benchmark row of the output-token floor.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.money.margin import gross_margin, revenue_for
from harness.reconcile.api_exports import API_SPLIT
from harness.reconcile.bill_formats import CHARGE_GROUPS
from harness.reconcile.floor import (
    ALL_GROUPS,
    BENCHMARK_SPLIT,
    CALL_UNIT,
    WHOLE,
    FloorSource,
    log_units,
)
from harness.reconcile.periods import Period, iso_utc, period_end_ns

if TYPE_CHECKING:
    import pandas as pd

    from harness.money.scenario import Scenario
    from harness.reconcile.bills import BillTotals
    from harness.reconcile.requests import RequestTotals

NAN = float("nan")

RECONCILE_COLUMNS: tuple[str, ...] = (
    "period_start",
    "period_end",
    "instance",
    "cost_usd",
    "inferences",
    "unit",
    "units",
    "cost_per_unit_usd",
    "floor_cost_per_unit_usd",
    "implied_utilization",
    "idle_cost_usd",
)
"""The contract columns of `gpucost reconcile --format csv|json` (DESIGN.md), in order."""

EXTRA_COLUMNS: tuple[str, ...] = (
    "workload",
    "split",
    "errors",
    "floor_instance",
    "floor_batch_size",
    "cost_basis",
)
SCENARIO_COLUMNS: tuple[str, ...] = ("revenue_usd", "direct_cost_usd", "gross_margin")


@dataclass(frozen=True)
class Reconciliation:
    table: pd.DataFrame  # RECONCILE_COLUMNS, then EXTRA_COLUMNS (and SCENARIO_COLUMNS)
    notes: tuple[str, ...]  # things the reader should know, printed on stderr
    period: Period


def reconcile(
    bills: BillTotals,
    requests: RequestTotals,
    period: Period,
    floors: FloorSource | None = None,
    scenario: Scenario | None = None,
) -> Reconciliation:
    import pandas as pd

    costs = bills.costs
    counts = requests.counts
    group_costs: dict[int, dict[str, float]] = {}
    for start, group, cost in zip(
        costs["period_start_ns"], costs["instance"], costs["cost_usd"], strict=True
    ):
        group_costs.setdefault(int(start), {})[str(group)] = float(cost)
    by_period = {int(k): v for k, v in counts.groupby("period_start_ns")} if len(counts) else {}
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    api_units = _api_units_by_group(bills)
    for start in sorted(set(group_costs) | set(by_period)):
        groups = group_costs.get(start, {})
        period_requests = by_period.get(start)
        # A model API's fee is divided by the API's own token counts, not by the log, and is
        # kept out of the `all` row, so the cloud rows read the same with or without it.
        apis = {g: c for g, c in groups.items() if g in bills.api_groups}
        groups = {g: c for g, c in groups.items() if g not in apis}
        for label, cost, carried in _carriers(groups, period_requests):
            rows.extend(
                _rows(
                    start, period, label, cost, carried, period_requests, groups, floors, scenario
                )
            )
        for label in sorted(apis):
            rows.extend(_api_rows(start, period, label, apis[label], api_units.get((start, label))))
    columns = [*RECONCILE_COLUMNS, *EXTRA_COLUMNS, *(SCENARIO_COLUMNS if scenario else ())]
    table = pd.DataFrame.from_records(rows, columns=columns)
    table["cost_basis"] = bills.cost_basis
    for column in ("inferences", "errors", "floor_batch_size"):
        table[column] = pd.to_numeric(table[column]).round().astype("Int64")
    for column in ("cost_usd", "idle_cost_usd", "revenue_usd", "direct_cost_usd"):
        if column in table:
            # Bills state cents to 1e-10 at most; this drops binary-sum noise like ...99997.
            table[column] = pd.to_numeric(table[column]).round(10)
    _add_notes(table, counts, floors, notes)
    if bills.api_groups:
        notes.append(
            "model API fees are divided by the tokens and requests their usage reports count "
            "(not by the request log) and are not in the `all` rows; `api` split rows give "
            "each token type's own charge"
        )
    return Reconciliation(table, tuple(notes), period)


def _carriers(
    groups: dict[str, float], requests: pd.DataFrame | None
) -> Iterator[tuple[str, float, pd.DataFrame | None]]:
    """(group label, its cost, the requests it carries) for one period."""
    if requests is None:
        requests_left = None
        claimed: dict[str, pd.DataFrame] = {}
    else:
        named = requests["instance"]
        # Tax, credits and commitment fees are charges, not a resource that served work.
        serving = [g for g in groups if g not in CHARGE_GROUPS]
        claimed = {g: requests[named == g] for g in serving if (named == g).any()}
        if len(serving) == 1:
            only = serving[0]
            claimed[only] = requests[(named == only) | (named == "")]
        elif len(serving) > 1 and (named == "").any():
            # Any group may have served the lines naming none: a group's own lines would be only
            # part of its work, so its cost per unit would be overstated. The `all` row has them.
            claimed = {}
        taken = sum(len(frame) for frame in claimed.values())
        requests_left = requests if taken < len(requests) else None
    for label in sorted(groups):
        yield label, groups[label], claimed.get(label)
    if len(groups) > 1 or requests_left is not None:
        total = math.fsum(groups.values()) if groups else NAN
        yield ALL_GROUPS, total, requests


def _rows(
    start: int,
    period: Period,
    label: str,
    cost: float,
    carried: pd.DataFrame | None,
    period_requests: pd.DataFrame | None,
    groups: dict[str, float],
    floors: FloorSource | None,
    scenario: Scenario | None,
) -> Iterator[dict[str, Any]]:
    base = {
        "period_start": iso_utc(start),
        "period_end": iso_utc(period_end_ns(start, period)),
        "instance": label,
        "cost_usd": cost,
    }
    if carried is None or carried.empty:
        # No requests logged in the period: zero served. Requests carried by the "all" row:
        # this group's share of them is not known, so empty.
        served = 0.0 if period_requests is None else NAN
        yield {**base, "inferences": served, "unit": CALL_UNIT, "units": served, "split": WHOLE}
        return
    floor_key = floors.instance_for(label, list(groups)) if floors else None
    sums = (
        carried.drop(columns=["period_start_ns", "instance"]).groupby("workload").sum(min_count=1)
    )
    for workload, total in sums.iterrows():
        inferences = float(total["inferences"])
        common = {
            **base,
            "workload": workload,
            "inferences": inferences,
            "errors": float(total["errors"]),
        }
        if scenario is not None:
            common.update(_margin(scenario, str(workload), total, cost))
        unit_counts = [(CALL_UNIT, inferences, "all")]
        for log_unit in log_units(str(workload)):
            value = total.get(log_unit.count_column, NAN)
            if value == value:  # not NaN: the log gave this unit
                unit_counts.append((log_unit.unit, value / log_unit.count_divisor, log_unit.share))
        for unit, count, share_kind in unit_counts:
            yield _unit_row(common, unit, count, cost, WHOLE, floors, floor_key, str(workload))
            if floors is not None and floor_key and share_kind in ("prefill", "decode"):
                split = floors.lookup(floor_key, str(workload), unit, BENCHMARK_SPLIT)
                if split is not None:
                    share_cost = cost * float(split["cost_share"])
                    yield _unit_row(
                        common,
                        unit,
                        count,
                        share_cost,
                        BENCHMARK_SPLIT,
                        floors,
                        floor_key,
                        str(workload),
                    )


def _api_units_by_group(bills: BillTotals) -> dict[tuple[int, str], pd.DataFrame]:
    frame = bills.api_units
    if frame is None or frame.empty:
        return {}
    return {
        (int(p), str(g)): rows for (p, g), rows in frame.groupby(["period_start_ns", "instance"])
    }


def _api_rows(
    start: int, period: Period, label: str, cost: float, units: pd.DataFrame | None
) -> Iterator[dict[str, Any]]:
    """A model API group: its fee per unit the API itself counted (requests, input and output
    tokens), and per token type the API's own charge for it when the cost report splits it."""
    base = {
        "period_start": iso_utc(start),
        "period_end": iso_utc(period_end_ns(start, period)),
        "instance": label,
        "cost_usd": cost,
        "workload": "text",
    }
    if units is None:  # a cost report without the usage report of the same period
        yield {**base, "inferences": NAN, "unit": CALL_UNIT, "units": NAN, "split": WHOLE}
        return
    counts = dict(zip(units["unit"], units["units"], strict=True))
    base["inferences"] = counts.get(CALL_UNIT, NAN)
    for unit, count, unit_cost in zip(
        units["unit"], units["units"], units["unit_cost_usd"], strict=True
    ):
        yield _unit_row(base, str(unit), float(count), cost, WHOLE, None, None, "text")
        if unit_cost == unit_cost:  # the cost report names this token type
            yield _unit_row(
                base, str(unit), float(count), float(unit_cost), API_SPLIT, None, None, "text"
            )


def _unit_row(
    common: dict[str, Any],
    unit: str,
    count: float,
    cost: float,
    split: str,
    floors: FloorSource | None,
    floor_key: str | None,
    workload: str,
) -> dict[str, Any]:
    # A negative cost (credits above charges) has no meaning per unit: it is shown apart.
    actual = cost / count if count > 0 and cost == cost and cost >= 0 else NAN
    row = {**common, "unit": unit, "units": count, "split": split, "cost_per_unit_usd": actual}
    floor = floors.lookup(floor_key, workload, unit, split) if floors and floor_key else None
    floor_cost = float(floor["floor_cost_per_unit_usd"]) if floor is not None else NAN
    if floor is not None and floor_cost == floor_cost and actual == actual and actual > 0:
        utilization = floor_cost / actual
        row.update(
            floor_cost_per_unit_usd=floor_cost,
            implied_utilization=utilization,
            # Above 1 the bill is below the floor (a cheaper plan than the card's): no idle.
            idle_cost_usd=cost * max(0.0, 1.0 - utilization),
            floor_instance=floor_key,
            floor_batch_size=int(floor["floor_batch_size"]),
        )
    return row


def _margin(scenario: Scenario, workload: str, total: pd.Series, cost: float) -> dict[str, float]:
    if workload not in (scenario.workload, ""):
        return {}
    calls = float(total["inferences"])
    counts = {CALL_UNIT: calls}
    for log_unit in log_units(scenario.workload):
        value = total.get(log_unit.count_column, NAN)
        counts[log_unit.unit] = value / log_unit.count_divisor if value == value else NAN
    revenue = float(revenue_for(scenario.revenue, calls, lambda unit: counts.get(unit, NAN)))
    direct = scenario.direct_costs.per_call_usd() * calls
    margin = float(gross_margin(revenue, cost + direct))
    return {"revenue_usd": revenue, "direct_cost_usd": direct, "gross_margin": margin}


def _add_notes(
    table: pd.DataFrame, counts: pd.DataFrame, floors: FloorSource | None, notes: list[str]
) -> None:
    above = table["implied_utilization"] > 1.0
    if above.any():
        notes.append(
            f"{int(above.sum())} row(s) cost less than the benchmark floor (implied utilisation "
            "above 1): the bill's plan is cheaper than the rate card's, or the traffic ran at a "
            "larger batch than the run measured"
        )
    negative = (table["cost_usd"] < 0) & table["units"].gt(0)
    if negative.any():
        notes.append(
            f"{int(negative.sum())} row(s) have a negative cost (credits or refunds above the "
            "charges of the period): no cost per unit is shown for them"
        )
    workloads = sorted({str(w) for w in counts["workload"].unique()}) if len(counts) else []
    if len(workloads) > 1:
        notes.append(
            f"the request log mixes workloads ({', '.join(w or '(none)' for w in workloads)}): "
            "each one's unit cost divides the whole bill; use --workload to take one service"
        )
    if floors is not None and table["floor_cost_per_unit_usd"].isna().all():
        notes.append("no row could be matched to a benchmark floor")
