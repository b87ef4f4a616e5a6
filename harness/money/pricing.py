"""`gpucost price` as a library call: runs + rate cards + candidate prices → priced frames."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from harness.errors import BadInput, RunFolderError
from harness.gpus import CPU_ONLY, canonical_gpu
from harness.money.caveats import instance_notes, measured_caveat, measured_elsewhere
from harness.money.confidence import UNSTABLE_CV
from harness.money.context import PricingContext, check_utilizations
from harness.money.cost import batch_costs, oversized_notes, unit_costs
from harness.money.inputs import load_ratecards, load_scenario, market_prices
from harness.money.margin import DEFAULT_TARGET_MARGINS, apply_prices
from harness.money.prices import CandidatePrice, parse_price, with_market
from harness.money.ratecard import ALL_PLANS, Instance, RateCards, check_plan
from harness.money.scenario import Scenario
from harness.money.scenario_cost import scenario_costs
from harness.money.units import display_scale, priced_workloads, primary_unit, units_by_workload
from harness.render.notes import Note, NoteKind
from harness.results.runs import RunRecord, load_runs, measurements_frame

SENSITIVITY_UTILIZATIONS: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class PriceRequest:
    """What to price. Empty `utilizations` / `plans` / `instance_refs` mean: the scenario's
    choice, else u = 1.0, every plan a card has, every instance with the run's GPU."""

    run_paths: tuple[Path, ...]
    instance_refs: tuple[str, ...] = ()
    plans: tuple[str, ...] = ()
    utilizations: tuple[float, ...] = ()
    price_texts: tuple[str, ...] = ()
    scenario_path: Path | None = None
    ratecard_files: tuple[Path, ...] = ()
    gpu: str | None = None
    other_hardware: bool = False
    """Price timings measured on one GPU (or a CPU) on instances of `gpu` anyway."""
    target_margins: tuple[float, ...] = DEFAULT_TARGET_MARGINS
    sensitivity_utilizations: tuple[float, ...] = SENSITIVITY_UTILIZATIONS
    include_user_dir: bool = True
    with_sensitivity: bool = True


@dataclass(frozen=True, eq=False)
class Sensitivity:
    """Cost (and margin) over plans × utilisations for one workload's unit at one batch size.

    `frame` holds, per plan, the instance that is cheapest at the highest utilisation, at every
    utilisation; `unit` is "call" for a scenario (cost per call of the service)."""

    run_id: str
    workload: str
    batch_size: int
    unit: str
    frame: pd.DataFrame


@dataclass(frozen=True, eq=False)
class PriceResult:
    runs: tuple[RunRecord, ...]
    instances: tuple[Instance, ...]
    candidates: tuple[CandidatePrice, ...]
    costs: pd.DataFrame
    currency: str
    target_margins: tuple[float, ...]
    scenario: Scenario | None = None
    scenario_rows: pd.DataFrame | None = None
    sensitivity: tuple[Sensitivity, ...] = ()
    notes: tuple[Note, ...] = field(default_factory=tuple)

    def all_notes(self, shown_instances: set[str] | None = None) -> list[Note]:
        """Every note about this result: the pricing's own, each shown instance's caveat (a
        list price to verify) and each rate card's date (stale when old). `shown_instances`
        (provider:name keys) keeps the instance notes to those an output shows."""
        shown = [i for i in self.instances if shown_instances is None or i.key in shown_instances]
        return list(dict.fromkeys([*self.notes, *instance_notes(shown)]))


def check_priceable(record: RunRecord) -> None:
    rows = record.measurements
    if rows.empty:
        raise RunFolderError(f"{record.path}: no measurements (nothing to price)")
    ok = rows[rows["status"] == "ok"]
    if ok.empty:
        counts = rows["status"].fillna("unknown").value_counts()
        summary = ", ".join(f"{n} {status}" for status, n in counts.items())
        raise RunFolderError(f"{record.path}: no ok rows to price ({summary})")
    if not ok["workload"].isin(priced_workloads()).any():
        names = ", ".join(sorted(ok["workload"].dropna().unique()))
        raise RunFolderError(
            f"{record.path}: no rows of a workload with priced units "
            f"(has: {names}; priced: {', '.join(priced_workloads())})"
        )


def resolve_gpu(key: str | None, cards: RateCards) -> str | None:
    if key is None:
        return None
    canonical = canonical_gpu(key)
    if canonical is None or canonical not in cards.gpu_keys():
        raise BadInput(
            f"--gpu {key!r}: not in any rate card (known: {', '.join(cards.gpu_keys())})"
        )
    return canonical


def match_instances(
    measurements: pd.DataFrame,
    selected: Sequence[Instance],
    cards: RateCards,
    gpu: str | None,
    explicit: bool,
) -> list[Instance]:
    """Instances carrying the GPU of every priced row, or BadInput naming the GPU that has none."""
    ok = measurements[
        (measurements["status"] == "ok") & measurements["workload"].isin(priced_workloads())
    ]
    known = ", ".join(cards.gpu_keys())
    keys: set[str] = set()
    for run_id, name in ok[["run_id", "gpu_name"]].drop_duplicates().itertuples(index=False):
        shown = "" if pd.isna(name) else str(name)
        key = gpu or canonical_gpu(shown)
        if key is None:
            raise BadInput(
                f"GPU {shown!r} (run {run_id}) is not in any rate card; "
                f"pass --gpu KEY (known: {known})"
            )
        if not any(i.gpu == key for i in selected):
            if explicit:
                have = ", ".join(sorted({f"{i.key} ({i.gpu})" for i in selected}))
                ran = "a CPU (gpu none)" if key == CPU_ONLY else key
                raise BadInput(
                    f"run {run_id} ran on {ran}; --instance {have} has another GPU "
                    "(pass --gpu KEY to price it there anyway)"
                )
            label = f"{shown!r} ({key})" if shown and shown != key else repr(key)
            raise BadInput(
                f"GPU {label} (run {run_id}) is not in any rate card; "
                f"pass --gpu KEY (known: {known})"
            )
        keys.add(key)
    return [i for i in selected if i.gpu in keys]


def check_currency(instances: Sequence[Instance]) -> str:
    """The one currency of the instances priced together; mixing is refused (no conversion)."""
    currencies = sorted({i.currency for i in instances})
    if len(currencies) > 1:
        odd = sorted({f"{i.card_path} ({i.currency})" for i in instances if i.currency != "USD"})
        raise BadInput(
            f"cannot price cards in different currencies together ({', '.join(odd)} "
            "vs USD): convert the card to USD, or narrow with --instance to one currency"
        )
    return currencies[0]


def check_scenario(scenario: Scenario, measurements: pd.DataFrame) -> None:
    ok = measurements[measurements["status"] == "ok"]
    workloads = sorted(ok["workload"].dropna().unique())
    if scenario.workload not in workloads:
        raise BadInput(
            f"{scenario.path}: workload {scenario.workload!r} is not in the run(s) "
            f"(they have: {', '.join(workloads)})"
        )
    if scenario.batch_size is not None:
        sizes = sorted(int(b) for b in ok.loc[ok["workload"] == scenario.workload, "batch_size"])
        if scenario.batch_size not in sizes:
            raise BadInput(
                f"{scenario.path}: batch_size {scenario.batch_size} was not measured "
                f"for {scenario.workload} (measured: {', '.join(map(str, sizes))})"
            )


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    values = frame[name] if name in frame.columns else np.nan
    return pd.to_numeric(pd.Series(values, index=frame.index), errors="coerce")


def unstable_reason(wall_cv: float, cost_cv: float) -> str:
    """Why a flagged row is unstable, in words, from the CVs it measured."""
    reasons = []
    if cost_cv > UNSTABLE_CV:
        reasons.append(f"cost interval wide: cost CV {cost_cv * 100:.0f}%")
    if wall_cv > UNSTABLE_CV:
        reasons.append(f"timing noisy: wall-time CV {wall_cv * 100:.0f}%")
    return "; ".join(reasons) or "flagged by the run"


def unstable_notes(measurements: pd.DataFrame) -> list[Note]:
    """One line per run naming the ok rows it flagged `unstable`, each with why."""
    if "unstable" not in measurements.columns:
        return []
    ok = measurements[(measurements["status"] == "ok") & (measurements["unstable"] == True)]  # noqa: E712
    lines = []
    for run_id, rows in ok.groupby("run_id", sort=False):
        named = ", ".join(
            f"{workload} batch {batch} ({unstable_reason(wall_cv, cost_cv)})"
            for workload, batch, wall_cv, cost_cv in zip(
                rows["workload"], rows["batch_size"], _column(rows, "wall_s_cv"),
                _column(rows, "cost_cv"), strict=True,
            )
        )  # fmt: skip
        lines.append(Note(NoteKind.UNSTABLE,
                          f"unstable: run {run_id}: {named}; these costs are uncertain "
                          "(measure again on a quiet machine, or longer)", str(run_id)))  # fmt: skip
    return lines


def goodput_notes(measurements: pd.DataFrame) -> list[Note]:
    """One line per run naming the ok rows measured with an SLO that no request met: their
    cost on goodput is unbounded, not a number."""
    goodput = [c for c in measurements.columns if c.startswith("goodput_") and c.endswith("_per_s")]
    if not goodput:
        return []
    ok = measurements[measurements["status"] == "ok"]
    rates = ok[goodput].apply(pd.to_numeric, errors="coerce")
    none_met = ok[(rates == 0).any(axis=1) & ~(rates > 0).any(axis=1)]
    return [
        Note(NoteKind.NO_GOODPUT, f"no request met the SLO: run {run_id}: "
             + ", ".join(f"{w} batch {b}" for w, b in zip(rows["workload"], rows["batch_size"],
                                                         strict=True))
             + ": no cost on goodput", str(run_id))
        for run_id, rows in none_met.groupby("run_id", sort=False)
    ]  # fmt: skip


def price_runs(request: PriceRequest) -> PriceResult:
    """Everything `gpucost price` shows, or BadInput before anything is written."""
    given = tuple(parse_price(text) for text in request.price_texts)
    for plan in request.plans:
        check_plan(plan)
    requested_us = check_utilizations(request.utilizations) if request.utilizations else None
    scenario = load_scenario(request.scenario_path) if request.scenario_path else None
    runs = tuple(load_runs(request.run_paths))
    for record in runs:
        check_priceable(record)
    measurements = measurements_frame(runs)
    if scenario is not None:
        check_scenario(scenario, measurements)
    cards = load_ratecards(request.ratecard_files, request.include_user_dir)
    refs = request.instance_refs or ((scenario.instance,) if scenario and scenario.instance else ())
    selected = [cards.find(ref) for ref in dict.fromkeys(refs)] or list(cards.instances)
    plans = request.plans or ((scenario.plan,) if scenario and scenario.plan else ())
    utilizations = requested_us or (
        (scenario.utilization,) if scenario and scenario.utilization else (1.0,)
    )
    gpu = resolve_gpu(request.gpu, cards)
    moved = measured_elsewhere(measurements, gpu)
    if moved and not request.other_hardware:
        raise BadInput(
            f"--gpu {gpu}: {moved[0]}; its timings say nothing about {gpu} instances "
            f"(estimate with gpucost compare RUN --project {gpu}, or add --other-hardware "
            "to price these timings there anyway)"
        )
    matched = match_instances(measurements, selected, cards, gpu, bool(refs))
    if plans:
        matched = [i for i in matched if any(p in i.prices_per_hour_usd for p in plans)]
        if not matched:
            raise BadInput(
                f"--plan {', '.join(plans)}: no instance with the run's GPU prices "
                "that plan (see gpucost ratecards list)"
            )
    currency = check_currency(matched)
    notes: list[Note] = [
        Note(NoteKind.OTHER_HARDWARE, f"priced on {gpu} instances although {line} "
             "(--other-hardware): the timings do not transfer")
        for line in moved
    ]  # fmt: skip
    if currency == "USD":
        market = tuple(market_prices(request.ratecard_files, request.include_user_dir))
        candidates, warnings = with_market(given, market)
        notes.extend(Note(NoteKind.INPUT, w) for w in warnings)
    elif given:
        candidates = given
    else:
        candidates = ()
        notes.append(Note(NoteKind.INFO,
                          f"market prices are in USD and the cards in {currency}: no default "
                          "candidate prices (give --price in the cards' currency)"))  # fmt: skip
    present = set(measurements.loc[measurements["status"] == "ok", "workload"].dropna())
    unpriced = sorted(present - set(priced_workloads()))
    if unpriced:
        notes.append(Note(NoteKind.INFO,
                          f"not priced (no workload spec declares their units): "
                          f"{', '.join(unpriced)}"))  # fmt: skip
    notes.extend(
        Note(NoteKind.INPUT, f"--price {p.key}: no {p.workload} rows in the run(s), not applied")
        for p in given
        if p.workload not in present
    )
    context = PricingContext(tuple(matched), plans or None, utilizations, gpu)
    costs = unit_costs(measurements, context)
    priced = apply_prices(costs, candidates, request.target_margins)
    notes.extend(oversized_notes(measurements, context))
    notes.extend(unstable_notes(measurements))
    notes.extend(goodput_notes(measurements))
    notes.extend(measured_caveat(measurements))
    sens_us = tuple(sorted({*request.sensitivity_utilizations, *utilizations}))
    scenario_rows = None
    sensitivity: tuple[Sensitivity, ...] = ()
    if scenario is not None:
        scenario_rows = scenario_costs(
            batch_costs(measurements, context), scenario, request.target_margins
        )
        if request.with_sensitivity:
            sensitivity = _scenario_sensitivity(
                measurements, context.at(sens_us), scenario, scenario_rows
            )
    elif request.with_sensitivity:
        sensitivity = _unit_sensitivity(measurements, context.at(sens_us), priced, candidates)
    return PriceResult(
        runs=runs,
        instances=tuple(matched),
        candidates=candidates,
        costs=priced,
        currency=currency,
        target_margins=request.target_margins,
        scenario=scenario,
        scenario_rows=scenario_rows,
        sensitivity=sensitivity,
        notes=tuple(notes),
    )


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


def _unit_sensitivity(
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


def _scenario_sensitivity(
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


__all__ = ["PriceRequest", "PriceResult", "Sensitivity", "display_scale", "price_runs"]
