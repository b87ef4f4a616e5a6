"""The fleet as a mixed-integer program, solved exactly by HiGHS through SciPy's `milp`.

Decision, for instance types k, purchase plans p, demand steps t and size classes c:

    H[k,p]    integer  instances held the whole horizon (reserved, owned; a baseline may hold
                       on-demand instances sized for the peak the same way)
    N[k,p,t]  integer  instances bought for step t only (on demand, spot)
    f[k,c,t]  in [0,1] share of class c's demand at step t routed to type k

    minimise   Σ H[k,p]·price[k,p]·horizon_h + Σ N[k,p,t]·price[k,p]·step_h
    subject to Σ_k f[k,c,t] = 1                                   (all demand served)
               Σ_c f[k,c,t]·D[t,c]/cap[k,c] ≤ u·(Σ_p H[k,p] + Σ_p N[k,p,t])  (under target use)
               Σ_k N[k,spot,t] ≤ s·(all instances at t)          (spot can vanish)
               all instances at t ≥ m                             (availability)

A share of a class may go to each type (a router can do that), so demand is splittable.
Steps with identical demand are solved once and weighted by how often they occur: given the held
counts each step's choice is independent of the others, so this is exact.

SciPy is imported inside `solve`: it is heavy and only planning needs it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from harness.errors import BadInput

HELD_PLANS: tuple[str, ...] = ("reserved_1y", "reserved_3y", "owned")
"""Plans bought for the whole horizon."""

STEP_PLANS: tuple[str, ...] = ("on_demand", "spot")
"""Plans bought step by step as demand moves."""

SPOT_PLAN = "spot"


@dataclass(frozen=True)
class Offer:
    """One instance type the plan may buy: its price per hour for each plan allowed, and the
    requests/s it sustains under the SLO for each size class (None: it cannot serve that class)."""

    instance: str
    prices_per_hour_usd: Mapping[str, float]
    capacity_per_class: tuple[float | None, ...]


@dataclass(frozen=True)
class FleetProblem:
    offers: tuple[Offer, ...]
    rates: np.ndarray
    """requests/s per step (rows) and size class (columns)"""
    step_h: float
    target_utilization: float = 0.8
    max_spot_share: float = 1.0
    min_instances: int = 0
    held_plans: tuple[str, ...] = HELD_PLANS
    step_plans: tuple[str, ...] = STEP_PLANS

    @property
    def horizon_h(self) -> float:
        return self.rates.shape[0] * self.step_h


@dataclass(frozen=True)
class FleetSolution:
    """`held[(instance, plan)]` counts; `per_step[(instance, plan)]` one count per step;
    `routing[t, k, c]` the share of class c at step t sent to offer k."""

    total_cost_usd: float
    held: dict[tuple[str, str], int]
    per_step: dict[tuple[str, str], np.ndarray]
    routing: np.ndarray
    optimal: bool
    gap: float | None
    solve_s: float
    status: str
    notes: list[str] = field(default_factory=list)


def _check(problem: FleetProblem) -> None:
    rates = problem.rates
    if rates.ndim != 2 or rates.shape[0] == 0:
        raise BadInput("no demand steps to plan for")
    if not np.all(np.isfinite(rates)) or np.any(rates < 0):
        raise BadInput("demand must be finite and non-negative")
    if not 0 < problem.target_utilization <= 1:
        raise BadInput("--target-utilization must be in (0, 1]")
    if not 0 <= problem.max_spot_share <= 1:
        raise BadInput("--max-spot-share must be in [0, 1]")
    if problem.min_instances < 0:
        raise BadInput("--min-instances must be ≥ 0")
    for c in range(rates.shape[1]):
        if rates[:, c].max() > 0 and not any(o.capacity_per_class[c] for o in problem.offers):
            raise BadInput(f"size class #{c + 1} has demand but no instance type can serve it")
    if not any(
        p in o.prices_per_hour_usd
        for o in problem.offers
        for p in (*problem.held_plans, *problem.step_plans)
    ):
        raise BadInput("no instance type has a price for any plan asked for")


def solve(problem: FleetProblem, *, time_limit_s: float = 60.0, gap: float = 1e-3) -> FleetSolution:
    """The cheapest fleet, or BadInput saying why there is none. Stopped by the time limit, the
    best plan found is returned with `optimal=False` and its gap."""
    import time

    from scipy.optimize import Bounds, LinearConstraint, milp  # heavy: only planning needs it
    from scipy.sparse import coo_matrix

    _check(problem)
    unique, inverse, weights = np.unique(
        problem.rates, axis=0, return_inverse=True, return_counts=True
    )
    inverse = np.asarray(inverse).reshape(-1)
    steps, classes = unique.shape
    offers = problem.offers
    u = problem.target_utilization

    # Loads in instance-equivalents: demand ÷ capacity, per step, offer and class.
    cap = np.array(
        [[c if c else np.nan for c in o.capacity_per_class] for o in offers], dtype=float
    )
    if cap.shape[1] != classes:
        raise BadInput("capacity and demand disagree on the size classes")

    held = [(k, p) for k, o in enumerate(offers) for p in problem.held_plans
            if p in o.prices_per_hour_usd]  # fmt: skip
    stepped = [(k, p) for k, o in enumerate(offers) for p in problem.step_plans
               if p in o.prices_per_hour_usd]  # fmt: skip
    routes = [
        (t, k, c)
        for t in range(steps)
        for c in range(classes)
        if unique[t, c] > 0
        for k in range(len(offers))
        if not math.isnan(cap[k, c])
    ]
    n_held, n_step, n_route = len(held), len(stepped) * steps, len(routes)
    n = n_held + n_step + n_route

    def step_var(j: int, t: int) -> int:
        return n_held + j * steps + t

    # Upper bounds: the most instances of one type any step could need (all demand on it).
    need = np.zeros((steps, len(offers)))
    for k in range(len(offers)):
        load = np.where(np.isnan(cap[k]), 0.0, unique / np.where(np.isnan(cap[k]), 1.0, cap[k]))
        need[:, k] = load.sum(axis=1)
    most = np.ceil(need.max(axis=0) / u) + problem.min_instances + 1

    cost = np.zeros(n)
    upper = np.zeros(n)
    integer = np.zeros(n)
    for i, (k, p) in enumerate(held):
        cost[i] = offers[k].prices_per_hour_usd[p] * problem.horizon_h
        upper[i] = most[k]
        integer[i] = 1
    for j, (k, p) in enumerate(stepped):
        for t in range(steps):
            v = step_var(j, t)
            cost[v] = offers[k].prices_per_hour_usd[p] * problem.step_h * weights[t]
            upper[v] = most[k]
            integer[v] = 1
    upper[n_held + n_step :] = 1.0

    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lower_b: list[float] = []
    upper_b: list[float] = []
    r = 0
    # Every class's demand routed somewhere.
    demand_row = {}
    for t in range(steps):
        for c in range(classes):
            if unique[t, c] > 0:
                demand_row[(t, c)] = r
                lower_b.append(1.0)
                upper_b.append(1.0)
                r += 1
    for i, (t, _, c) in enumerate(routes):
        rows.append(demand_row[(t, c)])
        cols.append(n_held + n_step + i)
        vals.append(1.0)
    # Load under u × instances, per step and type.
    load_row = {}
    for t in range(steps):
        for k in range(len(offers)):
            load_row[(t, k)] = r
            lower_b.append(-np.inf)
            upper_b.append(0.0)
            r += 1
    for i, (t, k, c) in enumerate(routes):
        rows.append(load_row[(t, k)])
        cols.append(n_held + n_step + i)
        vals.append(unique[t, c] / cap[k, c])
    for i, (k, _) in enumerate(held):
        for t in range(steps):
            rows.append(load_row[(t, k)])
            cols.append(i)
            vals.append(-u)
    for j, (k, _) in enumerate(stepped):
        for t in range(steps):
            rows.append(load_row[(t, k)])
            cols.append(step_var(j, t))
            vals.append(-u)
    # Spot share and minimum instances, per step.
    s = problem.max_spot_share
    has_spot = any(p == SPOT_PLAN for _, p in stepped)
    for t in range(steps):
        if has_spot and s < 1:
            for i in range(n_held):
                rows.append(r)
                cols.append(i)
                vals.append(-s)
            for j, (_, p) in enumerate(stepped):
                rows.append(r)
                cols.append(step_var(j, t))
                vals.append(1 - s if p == SPOT_PLAN else -s)
            lower_b.append(-np.inf)
            upper_b.append(0.0)
            r += 1
        if problem.min_instances > 0:
            for i in range(n_held):
                rows.append(r)
                cols.append(i)
                vals.append(1.0)
            for j in range(len(stepped)):
                rows.append(r)
                cols.append(step_var(j, t))
                vals.append(1.0)
            lower_b.append(float(problem.min_instances))
            upper_b.append(np.inf)
            r += 1

    matrix = coo_matrix((vals, (rows, cols)), shape=(r, n)).tocsr()
    started = time.perf_counter()
    result = milp(
        cost,
        constraints=LinearConstraint(matrix, np.array(lower_b), np.array(upper_b)),
        integrality=integer,
        bounds=Bounds(np.zeros(n), upper),
        options={"time_limit": float(time_limit_s), "mip_rel_gap": float(gap), "disp": False},
    )
    solve_s = time.perf_counter() - started
    if result.status == 2:
        raise BadInput(
            "no fleet meets these constraints (check --min-instances and --max-spot-share "
            "against the plans and instance types allowed)"
        )
    if result.x is None:
        if result.status == 1:
            raise BadInput(
                f"the solver found no plan within its time limit of {time_limit_s:g} s; "
                "raise --time-limit or plan fewer steps"
            )
        raise BadInput(f"the solver failed: {result.message}")
    x = result.x
    held_counts = {(offers[k].instance, p): round(x[i]) for i, (k, p) in enumerate(held)}
    per_step = {
        (offers[k].instance, p): np.rint(x[n_held + j * steps : n_held + (j + 1) * steps]).astype(
            int
        )[inverse]
        for j, (k, p) in enumerate(stepped)
    }
    routing = np.zeros((steps, len(offers), classes))
    for i, (t, k, c) in enumerate(routes):
        routing[t, k, c] = x[n_held + n_step + i]
    mip_gap = getattr(result, "mip_gap", None)
    optimal = result.status == 0
    return FleetSolution(
        total_cost_usd=float(result.fun),
        held=held_counts,
        per_step=per_step,
        routing=routing[inverse],
        optimal=optimal,
        gap=None if mip_gap is None or not math.isfinite(mip_gap) else float(mip_gap),
        solve_s=solve_s,
        status="optimal" if optimal else "time limit",
    )


def restricted(
    problem: FleetProblem,
    offer: int,
    *,
    held_plans: Sequence[str] | None = None,
    step_plans: Sequence[str] | None = None,
) -> FleetProblem:
    """The same problem with one instance type and, optionally, other plans."""
    return FleetProblem(
        offers=(problem.offers[offer],),
        rates=problem.rates,
        step_h=problem.step_h,
        target_utilization=problem.target_utilization,
        max_spot_share=problem.max_spot_share,
        min_instances=problem.min_instances,
        held_plans=tuple(problem.held_plans if held_plans is None else held_plans),
        step_plans=tuple(problem.step_plans if step_plans is None else step_plans),
    )
