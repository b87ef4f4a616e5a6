"""Runs from different machines side by side: cost per unit on every matched instance and plan.

Runs are compared only where they did the same work: the same workload, preset, model, dtype and
settings. Runs that differ are kept apart (each its own group) with the reason, or refused with
`strict`. Within a group, for each batch size, unit and utilisation, the cheapest instance and
plan is marked and every other choice gets its cost ratio to it. Projected rows (estimates on a
GPU that was not measured, see harness/analysis/projection.py) join their source run's group, marked.

The computing lives here; what makes two rows the same work is `work.py`, pricing each row on
its instances `row_costs.py`, the JSON records `records.py` and the text `harness/report/compare_text.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.analysis.frontier import frontier_points, primary_levels
from harness.analysis.projection import project
from harness.analysis.roofline import efficiency
from harness.analysis.row_costs import ROW_POSITION, row_unit_costs
from harness.analysis.work import WORK_FIELDS, work_signature
from harness.errors import BadInput
from harness.money.caveats import PROJECTED_SUBJECT, instance_notes, per_run_caveats
from harness.money.context import PricingContext
from harness.money.cost import oversized_notes
from harness.money.cpu_sizes import cpu_sizes_spoken_for
from harness.money.units import units_by_workload
from harness.render.notes import Note, NoteKind

if TYPE_CHECKING:
    import pandas as pd

    from harness.money import Instance
    from harness.results.runs import RunRecord

COMPARE_COLUMNS = (
    "group",
    "workload",
    "preset",
    "model",
    "dtype",
    "settings",
    "batch_size",
    "unit",
    "utilization",
    "run_id",
    "gpu",
    "provider",
    "instance",
    "plan",
    "projected",
    "cost_per_unit_usd",
    "ratio_to_cheapest",
    "cheapest",
    "mfu",
    "mbu",
    "ceiling_source",
)


@dataclass(frozen=True)
class CompareOptions:
    plans: tuple[str, ...] | None = None
    utilizations: tuple[float, ...] = (1.0,)
    instance_refs: tuple[str, ...] = ()
    """`provider:name` of the instances to price on; empty: every instance with the run's GPU."""
    ratecard_files: tuple[Path, ...] = ()
    project_gpus: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    strict: bool = False
    across_levels: bool = False
    """Compare levels, not equal batch sizes (`--slo`): runs with no batch size in common are
    not refused."""


@dataclass(frozen=True)
class Comparison:
    rows: pd.DataFrame
    """COMPARE_COLUMNS, one row per group × batch size × unit × utilisation × run × instance × plan."""
    kept_apart: tuple[str, ...]
    notes: tuple[Note, ...]
    """How to read the rows (CPU sizes left out, rows too large for an instance, what a
    projection could not scale); typed, printed as their text."""
    levels: pd.DataFrame | None = None
    """Measured rows' costs of their workload's primary unit, with the row columns a frontier
    or an SLO reads (harness/analysis/frontier.py `primary_levels`)."""
    frontier: pd.DataFrame | None = None
    """`frontier_points` of `levels`."""
    caveats: tuple[Note, ...] = ()
    """Each run's (random weights, CPU), each instance's and rate card's, and projected rows':
    what `row_caveats` hands each machine-readable row."""


def group_runs(
    rows: pd.DataFrame,
) -> tuple[dict[tuple[str, ...], list[str]], list[str]]:
    """Run ids per work signature, and a reason for each signature kept apart from the largest
    group of its workload."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for record in rows.to_dict("records"):
        runs = groups.setdefault(work_signature(record), [])
        if record["run_id"] not in runs:
            runs.append(record["run_id"])
    reasons = []
    for workload in dict.fromkeys(sig[0] for sig in groups):
        mine = [sig for sig in groups if sig[0] == workload]
        main = max(mine, key=lambda sig: len(groups[sig]))
        for sig in mine:
            if sig == main:
                continue
            differ = [
                f"{name} {theirs or '—'} vs {ours or '—'}"
                for name, theirs, ours in zip(WORK_FIELDS, sig[1:], main[1:], strict=True)
                if theirs != ours
            ]
            reasons.append(
                f"{workload}: run {', '.join(groups[sig])} kept apart from run "
                f"{', '.join(groups[main])}: different work ({'; '.join(differ)})"
            )
    return groups, reasons


def compare_runs(
    runs: Sequence[RunRecord], instances: Sequence[Instance], options: CompareOptions
) -> Comparison:
    """Cost per unit of every run's `ok` rows on the matched instances, cheapest marked."""
    import pandas as pd

    _check_units(options.units)
    unique = {run.run_id: run for run in runs}
    measured = [efficiency(run.ok_rows(), run.meta) for run in unique.values()]
    rows = pd.concat(measured, ignore_index=True) if measured else pd.DataFrame()
    if rows.empty:
        raise BadInput("nothing to compare: no run has a measurement with status ok")
    groups, kept_apart = group_runs(rows)
    if options.strict and kept_apart:
        raise BadInput(f"--strict: {kept_apart[0]}")
    if (
        not options.across_levels
        and len(unique) > 1
        and all(len(ids) < 2 for ids in groups.values())
    ):
        raise BadInput("nothing comparable: " + "; ".join(kept_apart or _only_in(groups)))

    notes: list[Note] = []
    if not options.instance_refs:
        instances, sizes_note = cpu_sizes_spoken_for(list(unique.values()), instances)
        notes += [Note(NoteKind.INFO, sizes_note)] if sizes_note else []
    notes += [
        Note(NoteKind.INFO, text)
        for text in oversized_notes(
            rows, PricingContext(tuple(instances), options.plans, options.utilizations)
        )
    ]
    frames = [_costs(rows, instances, options)]
    levels = primary_levels(frames[0], rows)
    for gpu in options.project_gpus:
        projected, project_notes = project(rows, gpu)
        notes += [Note(NoteKind.INFO, f"--project {gpu}: {n}", gpu) for n in project_notes]
        if not projected.empty:
            frames.append(_costs(projected, instances, options, projected=True))
    costs = pd.concat(frames, ignore_index=True)
    costs = costs[costs["cost_per_unit_usd"].notna()]
    if costs.empty:
        gpus = sorted({str(g) for g in rows["gpu_key"].dropna()}) or ["unknown"]
        raise BadInput(
            f"no rate-card instance matches the GPUs of these runs ({', '.join(gpus)}); "
            "add one with --ratecard FILE or name one with --instance"
        )
    if options.units:
        costs = costs[costs["unit"].isin(options.units)]
        if costs.empty:
            measured_units = ", ".join(sorted(set(frames[0]["unit"])))
            raise BadInput(
                f"--unit {', '.join(options.units)}: not a unit of these runs' workloads "
                f"(theirs: {measured_units})"
            )
    group_names = {sig: f"g{i + 1}" for i, sig in enumerate(groups)}
    costs["group"] = [group_names[work_signature(r)] for r in costs.to_dict("records")]
    keys = ["group", "batch_size", "unit", "utilization"]
    cheapest = costs.groupby(keys)["cost_per_unit_usd"].transform("min")
    costs["ratio_to_cheapest"] = costs["cost_per_unit_usd"] / cheapest
    costs["cheapest"] = costs["cost_per_unit_usd"] == cheapest
    costs = costs.sort_values([*keys, "cost_per_unit_usd"], kind="stable")
    table = costs.reindex(columns=list(COMPARE_COLUMNS)).reset_index(drop=True)
    caveats = [
        *per_run_caveats((run.run_id, run.measurements) for run in unique.values()),
        *instance_notes(i for i in instances if i.key in _shown(table)),
        *([Note(NoteKind.PROJECTED, "projected: cost estimated for a GPU not measured, from "
                "another GPU's run", PROJECTED_SUBJECT)]
          if bool((table["projected"] == True).any()) else []),  # noqa: E712
    ]  # fmt: skip
    return Comparison(table, tuple(kept_apart), tuple(notes), levels, frontier_points(levels),
                      tuple(caveats))  # fmt: skip


def _shown(table: pd.DataFrame) -> set[str]:
    return {f"{p}:{i}" for p, i in zip(table["provider"], table["instance"], strict=True)}


def _costs(
    rows: pd.DataFrame,
    instances: Sequence[Instance],
    options: CompareOptions,
    projected: bool = False,
) -> pd.DataFrame:
    import pandas as pd

    costs = row_unit_costs(
        rows, PricingContext(tuple(instances), options.plans, options.utilizations)
    )
    wanted = [*WORK_FIELDS[1:], "mfu", "mbu", "ceiling_source", "client_bound"]
    # Hand-made or older run folders may lack optional columns such as `settings`.
    keep = [c for c in wanted if c in rows.columns]
    position = costs[ROW_POSITION].to_numpy()
    extra = pd.DataFrame(
        {c: rows[c].to_numpy()[position] for c in keep}, index=costs.index, columns=keep
    )
    merged = pd.concat([costs, extra], axis=1)
    merged["projected"] = projected
    return merged


def _check_units(units: Sequence[str]) -> None:
    known = sorted({u for names in units_by_workload().values() for u in names})
    for unit in units:
        if unit not in known:
            raise BadInput(f"--unit {unit!r}: unknown unit (units: {', '.join(known)})")


def _only_in(groups: dict[tuple[str, ...], list[str]]) -> list[str]:
    return [f"{sig[0]} only in run {', '.join(ids)}" for sig, ids in groups.items()]
