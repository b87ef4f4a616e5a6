"""Cost (and margin) over plans × utilisations: the cheapest instance per plan at every
utilisation, for one batch size per run × workload (or the scenario's best)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from harness.money.context import PricingContext
from harness.money.cost import batch_costs, unit_costs
from harness.money.margin import apply_prices
from harness.money.prices import CandidatePrice
from harness.money.pricing.request import Sensitivity
from harness.money.ratecard import ALL_PLANS
from harness.money.scenario import Scenario
from harness.money.scenario_cost import scenario_costs
from harness.money.units import primary_unit, units_by_workload


def cheapest_per_plan(frame: pd.DataFrame, group: Sequence[str] = ()) -> pd.DataFrame:
    """Keep, per `group` × plan, the instance cheapest at the group's highest utilisation, with
    all its utilisations; sorted by group, plan and utilisation."""
    keys = list(group)
    if keys:
        highest = frame.groupby(keys, sort=False)["utilization"].transform("max")
    else:
        highest = frame["utilization"].max()
    top = frame[frame["utilization"] == highest]
    best = top.sort_values(
        ["cost_per_unit_usd", "provider", "instance"], na_position="last"
    ).drop_duplicates([*keys, "plan"])[[*keys, "plan", "provider", "instance"]]
    kept = frame.merge(best, on=[*keys, "plan", "provider", "instance"])
    kept["_order"] = pd.Categorical(kept["plan"], categories=ALL_PLANS).codes
    kept = kept.sort_values([*keys, "_order", "utilization"], kind="stable")
    return kept.drop(columns="_order").reset_index(drop=True)


def _best(frame: pd.DataFrame) -> pd.Series | None:
    costs = frame[frame["cost_per_unit_usd"].notna()]
    return None if costs.empty else costs.loc[costs["cost_per_unit_usd"].idxmin()]


def _rows_at(measurements: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    """The measurement rows at the (run_id, workload, batch_size) of `keys`, in their order.

    A sensitivity table shows one batch size per run × workload: pricing only those rows at
    every utilisation, not the whole run, keeps a large run's cost linear in its size."""
    wanted = {
        (str(run_id), str(workload), float(size))
        for run_id, workload, size in keys.itertuples(index=False, name=None)
    }
    sizes = pd.to_numeric(measurements["batch_size"], errors="coerce").astype(float)
    columns = zip(measurements["run_id"], measurements["workload"], sizes, strict=True)
    mask = [(str(run_id), str(workload), size) in wanted for run_id, workload, size in columns]
    return measurements[np.asarray(mask, dtype=bool)]


def unit_sensitivity(
    measurements: pd.DataFrame,
    context: PricingContext,
    priced: pd.DataFrame,
    candidates: Sequence[CandidatePrice],
) -> tuple[Sensitivity, ...]:
    """Per run × workload: its primary unit (else its last, e.g. text requests when a run has
    no prefill/decode split) at the batch size where that unit is cheapest."""
    by_workload = units_by_workload()
    choices = pd.DataFrame(
        [(w, primary_unit(w), 0) for w in by_workload]
        + [(w, units[-1], 1) for w, units in by_workload.items()],
        columns=["workload", "unit", "_priority"],
    )
    costed = priced[priced["cost_per_unit_usd"].notna()].merge(choices, on=["workload", "unit"])
    best = costed.sort_values(["_priority", "cost_per_unit_usd"], kind="stable").drop_duplicates(
        ["run_id", "workload"]
    )[["run_id", "workload", "batch_size", "unit"]]
    if best.empty:
        return ()
    first: dict[str, CandidatePrice] = {}
    for price in candidates:
        first.setdefault(price.key, price)
    chosen_rows = _rows_at(measurements, best[["run_id", "workload", "batch_size"]])
    every = apply_prices(unit_costs(chosen_rows, context), first.values())
    chosen = cheapest_per_plan(
        every.merge(best, on=["run_id", "workload", "batch_size", "unit"]), ["run_id", "workload"]
    )
    return tuple(
        Sensitivity(str(run_id), str(workload), int(rows["batch_size"].iloc[0]),
                    str(rows["unit"].iloc[0]), rows.reset_index(drop=True))
        for (run_id, workload), rows in chosen.groupby(["run_id", "workload"], sort=True)
    )  # fmt: skip


def scenario_sensitivity(
    measurements: pd.DataFrame,
    context: PricingContext,
    scenario: Scenario,
    rows: pd.DataFrame,
) -> tuple[Sensitivity, ...]:
    best = _best(rows)
    if best is None:
        return ()
    keys = pd.DataFrame(
        {"run_id": [best["run_id"]], "workload": [scenario.workload],
         "batch_size": [best["batch_size"]]}
    )  # fmt: skip
    every = scenario_costs(batch_costs(_rows_at(measurements, keys), context), scenario)
    chosen = every[
        (every["run_id"] == best["run_id"]) & (every["batch_size"] == best["batch_size"])
    ]
    return (
        Sensitivity(
            str(best["run_id"]),
            scenario.workload,
            int(best["batch_size"]),
            "call",
            cheapest_per_plan(chosen),
        ),
    )
