"""The cost–interactivity frontier: what each choice costs against how interactive it is.

A point is one measured level (an endpoint load level, an in-process batch size) priced on one
instance and plan. Its cost is per the workload's primary unit (1M output tokens, an image, an
audio minute); its interactivity is one of the axes the workload spec declares (`frontier`:
output tokens/s per user, TTFT p99, latency p99, real-time factor), each with the direction
that is better. A point is Pareto-optimal when no other point of the same work is at least as
cheap and at least as interactive and strictly better in one of the two. The points of one
instance, plan and run (and engine) form one curve.

Projected rows are left out: a roofline projection scales cost, not the latencies a user sees.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.analysis.row_costs import ROW_POSITION, row_unit_costs
from harness.analysis.work import WORK_FIELDS, describe_signature, work_signature
from harness.money.units import primary_unit, workload_spec
from harness.slo import METRICS, SLO_QUANTILES
from workloads.spec import FRONTIER_DIRECTIONS, FrontierAxis

if TYPE_CHECKING:
    import pandas as pd

    from harness.money.context import PricingContext

LEVEL_SETTINGS = ("concurrency", "request_rate", "trace_speedup")
"""Settings that a load level varies: a frontier's curve runs along them, so they do not make
two levels different work."""

LEVEL_COLUMNS = ("engine", "concurrency", "request_rate", *WORK_FIELDS, "slo", "slo_met")
"""Row columns a level keeps beside its cost, besides the axes' and the SLO metrics' columns."""

FRONTIER_COLUMNS = (
    "workload", "work", "axis", "axis_label", "better", "unit", "utilization", "curve", "run_id",
    "engine", "batch_size", "concurrency", "request_rate", "level", "provider", "instance", "plan",
    "gpu", "cost_per_unit_usd", "value", "pareto",
)  # fmt: skip
"""One row per point: a level × instance × plan × utilisation × axis."""

MAX_TEXT_POINTS = 20
"""Pareto points listed per axis in compare's text output; `--format json` has them all."""


def pareto_mask(cost: Any, value: Any, better: str) -> np.ndarray:
    """Which points are Pareto-optimal: lowest cost against the highest (`better="higher"`) or
    lowest (`"lower"`) value. Points with a missing or non-finite cost or value are never on it;
    identical points are on it together. O(n log n): one sort and one running minimum."""
    if better not in FRONTIER_DIRECTIONS:
        raise ValueError(f"better must be one of {FRONTIER_DIRECTIONS}, not {better!r}")
    cost = np.asarray(cost, dtype=float)
    value = np.asarray(value, dtype=float)
    on = np.zeros(len(cost), dtype=bool)
    known = np.flatnonzero(np.isfinite(cost) & np.isfinite(value))
    if not len(known):
        return on
    a = cost[known]
    b = -value[known] if better == "higher" else value[known]  # both minimised from here
    order = np.lexsort((b, a))
    a, b = a[order], b[order]
    starts_group = np.r_[True, a[1:] != a[:-1]]
    starts = np.flatnonzero(starts_group)
    group = np.cumsum(starts_group) - 1
    best_in_group = b[starts][group]
    running = np.minimum.accumulate(b)
    # The best value among strictly cheaper points: the running minimum before the group.
    cheaper_best = np.r_[np.inf, running[starts[1:] - 1]][group]
    on[known[order[(b == best_in_group) & (b < cheaper_best)]]] = True
    return on


def axis_values(rows: pd.DataFrame, axis: FrontierAxis) -> pd.Series:
    """The axis value of every row: its `column`, else the declared ratio; NaN where neither is
    measured, or the value is not a positive, finite number."""
    import pandas as pd

    def numeric(column: str) -> pd.Series:
        if column not in rows.columns:
            return pd.Series(np.nan, index=rows.index)
        return pd.to_numeric(rows[column], errors="coerce").astype(float)

    values = numeric(axis.column) if axis.column else pd.Series(np.nan, index=rows.index)
    if axis.numerator:
        top = np.prod([numeric(c).to_numpy() for c in axis.numerator], axis=0)
        bottom = np.prod([numeric(c).to_numpy() for c in axis.denominator], axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = pd.Series(top / bottom, index=rows.index)
        values = values.where(values.notna(), ratio)
    return values.where(np.isfinite(values) & (values > 0))


def level_columns(workloads: Sequence[str]) -> tuple[str, ...]:
    """Every row column a level of these workloads needs: LEVEL_COLUMNS, the workloads' axis
    columns and the SLO metrics' percentiles (end to end falls back on `wall_s_p*`)."""
    axes = [c for w in workloads for a in _axes(w, workload_spec) for c in a.columns]
    metrics = [f"{m}_s_p{q}" for m in METRICS for q in SLO_QUANTILES]
    walls = [f"wall_s_p{q}" for q in SLO_QUANTILES]
    return tuple(dict.fromkeys((*LEVEL_COLUMNS, *axes, *metrics, *walls)))


def primary_levels(costs: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """The costs of each workload's primary unit (a `row_unit_costs` frame of `rows`), measured
    rows only, each with the row columns a frontier or an SLO reads (`level_columns`)."""
    import pandas as pd

    if costs.empty:
        return costs.assign(**{c: pd.Series(dtype=object) for c in level_columns(())})
    primary = {w: primary_unit(str(w)) for w in costs["workload"].unique()}
    keep = (costs["unit"] == costs["workload"].map(primary)) & costs["cost_per_unit_usd"].notna()
    if "projected" in costs.columns:
        keep &= ~costs["projected"].astype(bool)
    mine = costs[keep].reset_index(drop=True)
    position = mine[ROW_POSITION].to_numpy()
    extra = {
        c: rows[c].to_numpy()[position]
        for c in level_columns(list(primary))
        if c in rows.columns and c not in mine.columns
    }
    return pd.concat([mine, pd.DataFrame(extra, index=mine.index)], axis=1)


def level_costs(rows: pd.DataFrame, context: PricingContext) -> pd.DataFrame:
    """`primary_levels` of `ok` rows priced on the context's instances that carry their GPU."""
    rows = rows.reset_index(drop=True)
    return primary_levels(row_unit_costs(rows, context), rows)


def frontier_work(row: Any) -> tuple[str, ...]:
    """`work_signature` without the load-level settings: the levels of one sweep are one work."""
    signature = list(work_signature(row))
    settings = signature[-1]
    if settings:
        try:
            parsed = json.loads(settings)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            rest = {k: v for k, v in parsed.items() if k not in LEVEL_SETTINGS}
            signature[-1] = json.dumps(rest, sort_keys=True, separators=(",", ":")) if rest else ""
    return tuple(signature)


def work_keys(levels: pd.DataFrame) -> list[tuple[str, ...]]:
    """`frontier_work` of every level, computed once per distinct combination."""
    fields = ["workload", *(f for f in WORK_FIELDS if f in levels.columns)]
    # Empty cells read as "" in a signature: filling them keeps groupby from dropping them.
    frame = levels[fields].astype(object).where(levels[fields].notna(), "")
    codes = frame.groupby(fields, sort=False).ngroup().to_numpy()
    firsts = frame.drop_duplicates().itertuples(index=False, name=None)
    keys = [frontier_work(dict(zip(fields, t, strict=True))) for t in firsts]
    return [keys[c] for c in codes]


def level_label(row: Any) -> str:
    """How a level is named: `concurrency 8`, `request rate 4/s`, else `batch 8`."""
    concurrency = _number(row.get("concurrency"))
    if concurrency is not None:
        return f"concurrency {concurrency:g}"
    rate = _number(row.get("request_rate"), finite=False)
    if rate is not None:
        return f"request rate {rate:g}/s"
    return f"batch {float(row['batch_size']):g}"


def frontier_points(levels: pd.DataFrame) -> pd.DataFrame:
    """FRONTIER_COLUMNS: every level on every axis its workload declares, where the level has
    the axis value, with `pareto` marking the optimal points of each work × axis × utilisation."""
    import pandas as pd

    pieces = []
    if not levels.empty:
        levels = levels.assign(_work=work_keys(levels))
    for workload, part in levels.groupby("workload", sort=False) if not levels.empty else ():
        for axis in _axes(str(workload), workload_spec):
            values = axis_values(part, axis)
            at = part[values.notna()].assign(value=values[values.notna()])
            if at.empty:
                continue
            pieces.append(_axis_points(at, axis))
    if not pieces:
        return pd.DataFrame(columns=list(FRONTIER_COLUMNS))
    return pd.concat(pieces, ignore_index=True).reindex(columns=list(FRONTIER_COLUMNS))


def _axis_points(at: pd.DataFrame, axis: FrontierAxis) -> pd.DataFrame:
    at = at.reset_index(drop=True)
    at["pareto"] = False
    at["axis"] = axis.name
    at["axis_label"] = axis.label
    at["better"] = axis.better
    for column in ("engine", "concurrency", "request_rate"):
        if column not in at.columns:
            at[column] = None
    # Labels are made once per measured row and per work, not once per priced point.
    firsts = at.drop_duplicates(ROW_POSITION)
    labels = {
        int(r[ROW_POSITION]): level_label(r)
        for r in firsts[[ROW_POSITION, "concurrency", "request_rate", "batch_size"]].to_dict(
            "records"
        )
    }
    at["level"] = at[ROW_POSITION].map(labels)
    works = {k: describe_signature(k) for k in dict.fromkeys(at["_work"])}
    at["work"] = at["_work"].map(works)
    at["curve"] = ""
    for _, group in at.groupby(["_work", "utilization"], sort=False):
        mask = pareto_mask(group["cost_per_unit_usd"], group["value"], axis.better)
        at.loc[group.index[mask], "pareto"] = True
        at.loc[group.index, "curve"] = _curve_labels(group)
    return at


def _curve_labels(group: pd.DataFrame) -> list[str]:
    """`provider:instance plan`, with the run (and engine) where the work has several."""
    runs = group["run_id"].nunique() > 1
    engines = group["engine"].astype(str).nunique() > 1
    keys = ["provider", "instance", "plan", "run_id", "engine"]
    combos = group[keys].astype(object).where(group[keys].notna(), None)
    tuples = list(combos.itertuples(index=False, name=None))
    names = {}
    for provider, instance, plan, run_id, engine in dict.fromkeys(tuples):
        label = f"{provider}:{instance} {plan}"
        if runs:
            label += f" · {run_id}"
        if engines:
            label += f" · {engine if engine is not None else '—'}"
        names[(provider, instance, plan, run_id, engine)] = label
    return [names[t] for t in tuples]


def _axes(workload: str, workload_spec: Any) -> tuple[FrontierAxis, ...]:
    spec = workload_spec(workload)
    return () if spec is None else spec.frontier


def _number(value: Any, finite: bool = True) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number != number or (finite and not np.isfinite(number)):
        return None
    return number
