"""`gpucost price` as a library call: runs + rate cards + candidate prices → priced frames.

Every input (scenario, runs, rate cards, market prices) is loaded and checked first; the rest is
computation on the typed objects they became.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from harness.errors import BadInput
from harness.money.caveats import measured_caveat, measured_elsewhere
from harness.money.context import PricingContext, check_utilizations
from harness.money.cost import batch_costs, oversized_notes, unit_costs
from harness.money.cpu_sizes import cpu_sizes_spoken_for
from harness.money.inputs import load_ratecards, load_scenario, market_prices
from harness.money.margin import apply_prices
from harness.money.prices import CandidatePrice, parse_price, with_market
from harness.money.pricing.checks import (
    check_currency,
    check_priceable,
    check_scenario,
    match_instances,
    resolve_gpu,
)
from harness.money.pricing.notes import goodput_notes, unstable_notes
from harness.money.pricing.request import PriceRequest, PriceResult, Sensitivity
from harness.money.pricing.sensitivity import scenario_sensitivity, unit_sensitivity
from harness.money.ratecard import RateCards, check_plan
from harness.money.scenario import Scenario
from harness.money.scenario_cost import scenario_costs
from harness.money.units import priced_workloads
from harness.render.notes import Note, NoteKind
from harness.results.runs import RunRecord, load_runs, measurements_frame


@dataclass(frozen=True, eq=False)
class PriceInputs:
    """Every input of a price request, loaded and checked; nothing after this reads a file."""

    given: tuple[CandidatePrice, ...]
    utilizations: tuple[float, ...] | None
    scenario: Scenario | None
    runs: tuple[RunRecord, ...]
    measurements: pd.DataFrame
    cards: RateCards
    market: tuple[CandidatePrice, ...]


def load_inputs(request: PriceRequest) -> PriceInputs:
    """The request's options, scenario, runs, rate cards and market prices, each checked."""
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
    market = tuple(market_prices(request.ratecard_files, request.include_user_dir))
    return PriceInputs(given, requested_us, scenario, runs, measurements, cards, market)


def price_runs(request: PriceRequest) -> PriceResult:
    """Everything `gpucost price` shows, or BadInput before anything is written."""
    return price_inputs(request, load_inputs(request))


def price_inputs(request: PriceRequest, inputs: PriceInputs) -> PriceResult:
    """`price_runs` on inputs already loaded: computation only."""
    given, scenario, cards = inputs.given, inputs.scenario, inputs.cards
    runs, measurements, requested_us = inputs.runs, inputs.measurements, inputs.utilizations
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
    sizes_note = None
    if not refs:
        matched, sizes_note = cpu_sizes_spoken_for(runs, matched)
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
    if sizes_note:
        notes.append(Note(NoteKind.INFO, sizes_note))
    if currency == "USD":
        candidates, warnings = with_market(given, inputs.market)
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
    notes.extend(Note(NoteKind.INFO, text) for text in oversized_notes(measurements, context))
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
            sensitivity = scenario_sensitivity(
                measurements, context.at(sens_us), scenario, scenario_rows
            )
    elif request.with_sensitivity:
        sensitivity = unit_sensitivity(measurements, context.at(sens_us), priced, candidates)
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
