"""A serving plan: the cheapest fleet for a demand, its baselines, its range and its money.

The three baselines are solved by the same model with fewer choices, so the savings compare like
with like: the cheapest single instance type on demand sized for the peak (held the whole
horizon), the same type count autoscaled per step on demand, and the best single type with the
plan's own mix of purchase plans. The bill's range comes from solving again at the capacities'
low ends. Revenue, direct costs and margin come from `harness.money` (margin.py, scenario.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from harness.errors import BadInput
from harness.money.margin import gross_margin, revenue_for
from harness.money.scenario import Revenue
from harness.planning.capacity import CapacityEntry, bucket_text, class_capacity
from harness.planning.demand import Demand
from harness.planning.model import (
    HELD_PLANS,
    STEP_PLANS,
    FleetProblem,
    FleetSolution,
    Offer,
    restricted,
    solve,
)

if TYPE_CHECKING:
    from harness.money.prices import CandidatePrice
    from harness.money.ratecard import Instance
    from harness.money.scenario import Scenario

HOURS_PER_MONTH = 8760.0 / 12
BASELINE_PEAK = "cheapest single type on demand, sized for the peak"
BASELINE_AUTOSCALED = "cheapest single type on demand, autoscaled per step"
BASELINE_SAME_PLANS = "best single type with the same plans"


@dataclass(frozen=True)
class PlanSettings:
    target_utilization: float = 0.8
    max_spot_share: float = 1.0
    min_instances: int = 0
    plans: tuple[str, ...] | None = None
    """plans allowed; None: every plan a card prices"""
    time_limit_s: float = 60.0
    gap: float = 1e-3


@dataclass(frozen=True)
class Baseline:
    name: str
    instance: str | None
    total_cost_usd: float | None
    reason: str | None = None


@dataclass(frozen=True)
class Money:
    """Per horizon; None where nothing was given to compute it from."""

    revenue_usd: float | None
    direct_cost_usd: float
    gross_margin: float | None
    break_even_usd: dict[str, float | None]
    """per unit (request, input_token, output_token): the whole bill spread over that unit"""
    price_source: str | None


@dataclass
class PlanResult:
    demand: Demand
    offers: tuple[Offer, ...]
    instances: dict[str, Instance]
    solution: FleetSolution
    baselines: list[Baseline]
    cost_at_low_capacity_usd: float | None
    money: Money
    settings: PlanSettings
    projected: list[str]
    caveats: list[str] = field(default_factory=list)

    @property
    def total_cost_usd(self) -> float:
        return self.solution.total_cost_usd

    @property
    def monthly_cost_usd(self) -> float:
        return self.total_cost_usd * HOURS_PER_MONTH / self.demand.horizon_h

    def per_unit_usd(self, unit: str) -> float | None:
        count = self.units(unit)
        return None if not count else self.total_cost_usd / count

    def units(self, unit: str) -> float | None:
        if unit == "request":
            return self.demand.requests
        return self.demand.tokens("input" if unit == "input_token" else "output")

    def mean_utilization(self) -> float | None:
        """Load served ÷ capacity held, over all instance-hours (1.0 is every instance at its
        SLO capacity all the time)."""
        load = _load_per_step(self.offers, self.demand.rates, self.solution.routing)
        held = self.instance_counts().sum(axis=(1, 2)) if self.offers else None
        if held is None or held.sum() == 0:
            return None
        return float(load.sum() / held.sum())

    def instance_counts(self) -> np.ndarray:
        """counts[t, k, p] over every plan (held plans repeated on every step)."""
        plans = (*HELD_PLANS, *STEP_PLANS)
        counts = np.zeros((self.demand.steps, len(self.offers), len(plans)))
        index = {o.instance: k for k, o in enumerate(self.offers)}
        for (instance, plan), n in self.solution.held.items():
            counts[:, index[instance], plans.index(plan)] += n
        for (instance, plan), series in self.solution.per_step.items():
            counts[:, index[instance], plans.index(plan)] += series
        return counts


def _duration(seconds: float) -> str:
    """`1 h`, `5 min`, `30 s`: a step as a person says it."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def _load_per_step(offers: Sequence[Offer], rates: np.ndarray, routing: np.ndarray) -> np.ndarray:
    cap = np.array([[c or np.inf for c in o.capacity_per_class] for o in offers])
    return (routing * rates[:, None, :] / cap[None, :, :]).sum(axis=(1, 2))


def build_offers(
    entries: Sequence[CapacityEntry],
    instances: dict[str, Instance],
    classes: Sequence[tuple[int | None, int | None]],
    plans: tuple[str, ...] | None,
    *,
    low: bool = False,
) -> tuple[Offer, ...]:
    """One offer per instance of the capacity table, priced for the plans allowed."""
    offers = []
    for key, instance in instances.items():
        prices = {
            p: v for p, v in instance.prices_per_hour_usd.items() if plans is None or p in plans
        }
        if not prices:
            continue
        capacity = tuple(class_capacity(entries, key, c, low=low) for c in classes)
        offers.append(Offer(key, prices, capacity))
    return tuple(offers)


def check_plans(instances: dict[str, Instance], plans: tuple[str, ...] | None) -> list[str]:
    """Notes on instances left without a plan; BadInput when a plan asked for has no price at all
    or no instance has a price for any plan asked for."""
    notes: list[str] = []
    if plans is None:
        return notes
    for plan in plans:
        if not any(plan in i.prices_per_hour_usd for i in instances.values()):
            raise BadInput(
                f"--plan {plan}: no instance of the capacity table has a {plan} price "
                f"({', '.join(instances)})"
            )
    for key, instance in instances.items():
        if not any(p in instance.prices_per_hour_usd for p in plans):
            notes.append(f"{key} has no price for {', '.join(plans)}: left out")
    return notes


def check_servable(offers: Sequence[Offer], demand: Demand) -> None:
    for c, bucket in enumerate(demand.classes):
        if demand.rates[:, c].max() > 0 and not any(o.capacity_per_class[c] for o in offers):
            requests = demand.rates[:, c].sum() * demand.step_s
            raise BadInput(
                f"{requests:,.0f} requests of bucket {bucket_text(bucket)} have no instance "
                "type that can serve them among those priced for the plans asked"
            )


def baselines(problem: FleetProblem, settings: PlanSettings) -> list[Baseline]:
    allowed = [p for p in (*problem.held_plans, *problem.step_plans)]
    specs = [
        (BASELINE_PEAK, ("on_demand",), ()),
        (BASELINE_AUTOSCALED, (), ("on_demand",)),
        (BASELINE_SAME_PLANS, None, None),
    ]
    out: list[Baseline] = []
    for name, held, stepped in specs:
        if held is not None and "on_demand" not in allowed:
            out.append(Baseline(name, None, None, "on_demand is not among the plans asked"))
            continue
        best: tuple[float, str] | None = None
        for k, offer in enumerate(problem.offers):
            serves = all(
                offer.capacity_per_class[c] or problem.rates[:, c].max() == 0
                for c in range(problem.rates.shape[1])
            )
            if not serves or (held is not None and "on_demand" not in offer.prices_per_hour_usd):
                continue
            try:
                single = solve(
                    restricted(problem, k, held_plans=held, step_plans=stepped),
                    time_limit_s=settings.time_limit_s,
                    gap=settings.gap,
                )
            except BadInput:
                continue
            if best is None or single.total_cost_usd < best[0]:
                best = (single.total_cost_usd, offer.instance)
        if best is None:
            out.append(Baseline(name, None, None, "no single instance type serves every bucket"))
        else:
            out.append(Baseline(name, best[1], best[0]))
    return out


def plan_money(
    total_cost_usd: float,
    demand: Demand,
    prices: Sequence[CandidatePrice],
    scenario: Scenario | None,
) -> Money:
    """Revenue, direct cost and gross margin over the horizon, through harness.money."""
    units = {
        "request": demand.requests,
        "input_token": demand.tokens("input"),
        "output_token": demand.tokens("output"),
    }

    def count(unit: str) -> float:
        value = units.get(unit)
        if value is None:
            raise BadInput(f"the traffic has no {unit} count to price")
        return value

    calls = demand.requests
    direct = 0.0
    revenue = None
    source = None
    if scenario is not None:
        if scenario.workload != "text":
            raise BadInput(f"{scenario.path}: workload {scenario.workload!r}; a plan serves text")
        direct = scenario.direct_costs.per_call_usd() * calls
        revenue = revenue_for(scenario.revenue, calls, count)
        source = scenario.path
    text_prices = [p for p in prices if p.workload == "text"]
    if text_prices:
        revenue = revenue_for(Revenue("per_unit", unit_prices=tuple(text_prices)), calls, count)
        source = ", ".join(f"{p.key}={p.quoted}" for p in text_prices)
    cost = total_cost_usd + direct
    margin = None
    if revenue is not None:
        value = float(gross_margin(float(revenue), cost))
        margin = None if np.isnan(value) else value
        revenue = float(revenue)
        if np.isnan(revenue):
            revenue = None
    break_even = {u: (cost / n if n else None) for u, n in units.items()}
    return Money(revenue, direct, margin, break_even, source)


def make_plan(
    entries: Sequence[CapacityEntry],
    instances: dict[str, Instance],
    demand: Demand,
    settings: PlanSettings,
    *,
    prices: Sequence[CandidatePrice] = (),
    scenario: Scenario | None = None,
) -> PlanResult:
    """Solve the plan, its baselines and its low-capacity bill."""
    caveats = check_plans(instances, settings.plans)
    offers = build_offers(entries, instances, demand.classes, settings.plans)
    if not offers:
        raise BadInput("no instance of the capacity table has a price for the plans asked")
    check_servable(offers, demand)
    problem = FleetProblem(
        offers=offers,
        rates=demand.rates,
        step_h=demand.step_s / 3600.0,
        target_utilization=settings.target_utilization,
        max_spot_share=settings.max_spot_share,
        min_instances=settings.min_instances,
    )
    solution = solve(problem, time_limit_s=settings.time_limit_s, gap=settings.gap)
    if not solution.optimal:
        stop = (
            f"the solver stopped at its time limit ({settings.time_limit_s:g} s)"
            if solution.status == "time limit"
            else f"the solver's proven gap is above the {100 * settings.gap:g} % asked"
        )
        caveats.append(
            f"{stop}: the plan found is within {100 * (solution.gap or 0):.2f} % of the optimum"
        )
    low_cost = None
    if any(e.max_requests_per_s_low is not None for e in entries):
        low_offers = build_offers(entries, instances, demand.classes, settings.plans, low=True)
        try:
            low_cost = solve(
                replace(problem, offers=low_offers),
                time_limit_s=settings.time_limit_s,
                gap=settings.gap,
            ).total_cost_usd
        except BadInput as err:
            caveats.append(f"at the capacities' low ends: {err}")
    else:
        caveats.append("the capacities have no interval: the bill's range is not known")
    used = {k for (k, _), n in solution.held.items() if n} | {
        k for (k, _), s in solution.per_step.items() if s.any()
    }
    projected = sorted({e.instance for e in entries if e.projected and e.instance in used})
    if projected:
        caveats.append(f"{', '.join(projected)}: capacity projected from another GPU, not measured")
    cards = sorted({(instances[k].provider, instances[k].as_of, instances[k].source) for k in used})
    caveats.extend(f"{provider} prices as of {as_of}: {source}" for provider, as_of, source in cards)
    caveats.extend(f"{key}: {instances[key].caveat}" for key in sorted(used) if instances[key].caveat)
    if any(p in ("reserved_1y", "reserved_3y") for (_, p), n in solution.held.items() if n):
        caveats.append(
            "reserved instances are charged per hour of the horizon; the commitment runs a "
            "year or three"
        )
    spot_hours = sum(s.sum() for (_, p), s in solution.per_step.items() if p == "spot")
    all_hours = sum(s.sum() for s in solution.per_step.values()) + demand.steps * sum(
        solution.held.values()
    )
    if spot_hours and settings.max_spot_share >= 1:
        caveats.append(
            f"{100 * spot_hours / all_hours:.0f} % of instance-hours are spot, which the cloud "
            "can reclaim: cap it with --max-spot-share"
        )
    if any(p == "owned" for (_, p), n in solution.held.items() if n):
        caveats.append("owned instances: capital and hosting only, energy not included")
    if scenario is not None and scenario.expected_monthly_calls is not None:
        planned = demand.requests * HOURS_PER_MONTH / demand.horizon_h
        caveats.append(
            f"{scenario.path} expects {scenario.expected_monthly_calls:,.0f} calls a month; "
            f"the traffic has {planned:,.0f}: the plan is for the traffic"
        )
    caveats.extend(demand.notes)
    caveats.append(
        f"each step is sized for its mean rate ({_duration(demand.step_s)} steps); bursts "
        f"within a step rely on the {100 * (1 - settings.target_utilization):.0f} % headroom"
    )
    return PlanResult(
        demand=demand,
        offers=offers,
        instances=instances,
        solution=solution,
        baselines=baselines(problem, settings),
        cost_at_low_capacity_usd=low_cost,
        money=plan_money(solution.total_cost_usd, demand, prices, scenario),
        settings=settings,
        projected=projected,
        caveats=caveats,
    )
