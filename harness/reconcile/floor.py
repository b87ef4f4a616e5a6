"""The benchmark floor: what a unit of work costs on an instance when it is busy all the time.

From a run's `ok` rows and a rate-card instance: the batch cost (harness.money's formula at
utilisation 1.0) divided by the units the batch served. The floor for each unit is the best
(lowest-cost) row of the run: the batch size at which the instance is cheapest per unit.
Text also gets the benchmark's split rows: input tokens carry the prefill share of the batch
cost, output tokens the decode share. Both shares come from one row, the one that sets the
output-token floor, so that they add up to the whole cost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import BadInput
from harness.gpus import canonical_gpu
from harness.money.caveats import run_caveats
from harness.money.context import PricingContext
from harness.money.cost import batch_costs, unit_share
from harness.money.inputs import load_ratecards
from harness.money.ratecard import check_plan
from harness.money.scenario_cost import calls_per_batch
from harness.money.units import UnitSpec, unit_specs
from harness.reconcile.log_fields import UNIT_FIELDS
from harness.render.notes import Note
from harness.results.runs import measurements_frame

if TYPE_CHECKING:
    import pandas as pd

    from harness.money.ratecard import Instance, RateCards
    from harness.reconcile.bills import BillTotals
    from harness.results.runs import RunRecord

CALL_UNIT = "request"
ALL_GROUPS = "all"
WHOLE = "whole"
BENCHMARK_SPLIT = "benchmark"

FLOOR_COLUMNS: tuple[str, ...] = (
    "instance_key",
    "instance",
    "workload",
    "unit",
    "split",
    "floor_cost_per_unit_usd",
    "floor_batch_size",
    "cost_share",
)


_GENERIC: tuple[UnitSpec, ...] = (
    UnitSpec("input_token", "input_tokens"),
    UnitSpec("output_token", "output_tokens"),
    UnitSpec("image", "images"),
    UnitSpec("audio_minute", "audio_s", 60.0),
    UnitSpec("character", "characters"),
    UnitSpec("sequence", "sequences"),
    UnitSpec("query", "queries"),
)


def log_units(workload: str) -> tuple[UnitSpec, ...]:
    """The workload's priced units first (embedding input tokens are `token`), then any other
    field a log line may carry, under its generic name."""
    own = [
        s
        for s in unit_specs()
        if s.workload == workload and s.count_column in UNIT_FIELDS
    ]
    covered = {u.count_column for u in own}
    return (*own, *(u for u in _GENERIC if u.count_column not in covered))


def find_instance(cards: RateCards, name: str) -> Instance | None:
    """A rate-card instance by the name a bill uses (e.g. `g5.xlarge`), when exactly one has it."""
    found = [i for i in cards.instances if i.name == name]
    return found[0] if len(found) == 1 else None


def benchmark_floors(
    run: RunRecord, instances: Sequence[Instance], plan: str, gpu: str | None = None
) -> pd.DataFrame:
    """Per instance × workload × unit: the lowest cost per unit over the run's rows (split
    `whole`); for text, the split rows of the row that sets the output-token floor.

    Rows are priced on instances with the GPU they were measured on (`gpu` overrides it)."""
    import numpy as np
    import pandas as pd


    if run.ok_rows().empty:
        raise BadInput(f"run {run.path}: no ok rows, nothing to take a floor from")
    context = PricingContext(tuple(instances), (plan,), gpu=gpu)
    batch = batch_costs(measurements_frame([run]), context)
    if batch.empty:
        return pd.DataFrame(columns=list(FLOOR_COLUMNS))
    batch = batch.reset_index(drop=True)
    calls = calls_per_batch(batch)
    windowed = batch["window_s"].notna()
    shares = {
        kind: unit_share(pd.Series(kind, index=batch.index), batch["prefill_s_p50"],
                         batch["decode_s_p50"], windowed)
        for kind in ("prefill", "decode")
    }  # fmt: skip
    parts: list[pd.DataFrame] = []

    def add(rows: pd.Series, unit: str, split: str, cost: pd.Series, share) -> None:
        parts.append(
            pd.DataFrame(
                {
                    "instance_key": batch["provider"] + ":" + batch["instance"],
                    "instance": batch["instance"],
                    "workload": batch["workload"],
                    "unit": unit,
                    "split": split,
                    "floor_cost_per_unit_usd": cost,
                    "floor_batch_size": batch["batch_size"],
                    "cost_share": share,
                    "batch_row": batch.index,
                }
            )[rows]
        )

    for workload in batch["workload"].unique():
        rows = batch["workload"] == workload
        add(rows, CALL_UNIT, WHOLE, batch["batch_cost_usd"] / calls, 1.0)
        for log_unit in log_units(str(workload)):
            if log_unit.count_column not in batch:
                continue
            count = pd.to_numeric(batch[log_unit.count_column], errors="coerce") / log_unit.count_divisor
            count = count.where(count > 0)
            add(rows, log_unit.unit, WHOLE, batch["batch_cost_usd"] / count, 1.0)
            if log_unit.share in shares:
                share = shares[log_unit.share]
                add(
                    rows,
                    log_unit.unit,
                    BENCHMARK_SPLIT,
                    batch["batch_cost_usd"] * share / count,
                    share,
                )
    floors = pd.concat(parts, ignore_index=True)
    cost = floors["floor_cost_per_unit_usd"].astype(float)
    floors["floor_cost_per_unit_usd"] = cost.where(np.isfinite(cost))
    whole = floors[(floors["split"] == WHOLE) & floors["floor_cost_per_unit_usd"].notna()]
    keys = ["instance_key", "workload", "unit"]
    best = whole.sort_values("floor_cost_per_unit_usd", kind="stable").groupby(keys).head(1)
    # A share per unit from each unit's own cheapest row would not add up to the whole cost
    # when the rows differ: both shares come from the row of the output-token floor.
    decode_units = pd.DataFrame(
        [
            (workload, log_unit.unit)
            for workload in batch["workload"].unique()
            for log_unit in log_units(str(workload))
            if log_unit.share == "decode"
        ],
        columns=["workload", "unit"],
    )
    setters = best.merge(decode_units, on=["workload", "unit"])[
        ["instance_key", "workload", "batch_row"]
    ]
    split = floors[floors["split"] == BENCHMARK_SPLIT].merge(
        setters, on=["instance_key", "workload", "batch_row"]
    )
    split = split[np.isfinite(split["cost_share"].astype(float))]
    chosen = pd.concat([best, split], ignore_index=True)
    return chosen.reindex(columns=list(FLOOR_COLUMNS))


def run_gpus(run: RunRecord) -> str:
    """The GPUs a run's ok rows were measured on, for messages."""

    names = run.ok_rows()["gpu_name"].astype(object)
    keys = sorted({str(canonical_gpu(n if isinstance(n, str) and n else None)) for n in names})
    return ", ".join(keys)


@dataclass(frozen=True)
class FloorSource:
    """Benchmark floors (harness.reconcile.floor.FLOOR_COLUMNS) and which instance prices a
    group: `fixed_instance` (provider:name) for every group, else the rate-card match of the
    group's instance type in `known`."""

    floors: pd.DataFrame
    fixed_instance: str | None
    known: Mapping[str, str]
    run_workloads: tuple[str, ...]
    caveats: tuple[Note, ...] = ()
    """The floor's caveats (the run's random weights or CPU, its instances' prices to verify,
    stale rate cards), made as for every other output (harness.money.caveats)."""

    def instance_for(self, label: str, groups: Iterable[str]) -> str | None:
        if self.fixed_instance is not None:
            return self.fixed_instance
        if label != ALL_GROUPS:
            return self.known.get(label)
        matches = {self.known[g] for g in groups if g in self.known}
        return matches.pop() if len(matches) == 1 else None

    def lookup(self, key: str, workload: str, unit: str, split: str) -> Mapping[str, Any] | None:
        if not workload and len(self.run_workloads) == 1:
            workload = self.run_workloads[0]
        rows = self.floors[
            (self.floors["instance_key"] == key)
            & (self.floors["workload"] == workload)
            & (self.floors["unit"] == unit)
            & (self.floors["split"] == split)
        ]
        return None if rows.empty else rows.iloc[0].to_dict()


def floor_source(
    run: RunRecord,
    bills: BillTotals,
    instance_ref: str | None,
    plan: str,
    gpu: str | None,
    ratecard_files: Sequence[Path] = (),
) -> tuple[FloorSource, list[str]]:
    """Floors for the instance named (`provider:name`), else for each bill instance type the rate
    cards know. BadInput when no instance can give a floor; notes for those that cannot."""
    check_plan(plan)
    cards = load_ratecards(extra_files=ratecard_files)
    groups = sorted({str(g) for g in bills.costs["instance"]})
    known: dict[str, Instance] = {}
    if instance_ref is not None:
        chosen = [cards.find(instance_ref)]
    else:
        known = {g: i for g in groups if (i := find_instance(cards, g)) is not None}
        chosen = list({i.key: i for i in known.values()}.values())
        if not chosen:
            raise BadInput(
                f"no instance type in the bills ({', '.join(groups[:8])}) is in the rate cards; "
                "name the floor's instance with --instance PROVIDER:NAME"
            )
    floors = benchmark_floors(run, chosen, plan, gpu)
    notes: list[str] = []
    for instance in chosen:
        if (floors["instance_key"] == instance.key).any():
            continue
        if plan not in instance.prices_per_hour_usd:
            reason = f"{instance.key} has no {plan} price (--plan)"
        else:
            reason = (
                f"run {run.run_id} was measured on {run_gpus(run)} and {instance.key} has "
                f"{instance.gpu} (--gpu takes the run as if on another GPU)"
            )
        if instance_ref is not None or len(chosen) == 1:
            raise BadInput(f"no floor on {instance.key}: {reason}")
        notes.append(f"no floor on {instance.key}: {reason}")
    workloads = tuple(sorted({str(w) for w in run.ok_rows()["workload"]}))
    source = FloorSource(
        floors=floors,
        fixed_instance=chosen[0].key if instance_ref is not None else None,
        known={g: i.key for g, i in known.items()},
        run_workloads=workloads,
        caveats=tuple(run_caveats(run.measurements, chosen, gpu)),
    )
    return source, notes
