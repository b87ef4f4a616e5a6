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
from dataclasses import dataclass, field, replace

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


def _useful(offer: Offer, plans: Sequence[str], *, interchangeable: bool) -> list[str]:
    """The plans worth a variable. Plans that differ only in price (held plans: each is held the
    whole horizon; spot and on demand when spot is not capped) need only the cheapest: no
    optimal fleet buys a dearer copy of the same instance-hours."""
    priced = [p for p in plans if p in offer.prices_per_hour_usd]
    if not interchangeable or len(priced) < 2:
        return priced
    return [min(priced, key=lambda p: offer.prices_per_hour_usd[p])]


DECOMPOSE_ABOVE_INTEGERS = 400
"""Past this many per-step integer counts (distinct steps × instance types × step plans)
`solve` decomposes: one branch-and-bound over every step at once spends its time on the sum of
many small rounding choices, while each step alone is solved in a fraction of a second."""


STEP_FLOOR_S = 1.0
"""Seconds each step may take while the time limit has not passed, however many are left."""


STEP_GRACE_S = 5.0
"""Seconds a step that found no plan in its share of the time limit gets to find one."""


@dataclass
class _Layout:
    """Where each variable of one program sits: held (offer, plan), stepped (offer, plan) with
    one column per step, and routes (step, offer, class)."""

    held: list[tuple[int, str]]
    stepped: list[tuple[int, str]]
    routes: list[tuple[int, int, int]]
    steps: int

    @property
    def n_held(self) -> int:
        return len(self.held)

    @property
    def n_step(self) -> int:
        return len(self.stepped) * self.steps

    def step_var(self, j: int, t: int) -> int:
        return self.n_held + j * self.steps + t


@dataclass
class _Outcome:
    x: np.ndarray | None
    fun: float
    status: int
    message: str
    mip_gap: float | None
    layout: _Layout
    dual_bound: float = -math.inf
    """a proven lower bound of the program's optimum"""


@dataclass
class _Built:
    """One program ready for HiGHS: `row_step[r]` is the step row r belongs to."""

    cost: np.ndarray
    matrix: object
    lower_b: np.ndarray
    upper_b: np.ndarray
    integer: np.ndarray
    upper: np.ndarray
    layout: _Layout
    row_step: np.ndarray


def _build(
    problem: FleetProblem,
    unique: np.ndarray,
    weights: np.ndarray,
    *,
    fixed_held: np.ndarray | None = None,
    held_cost: np.ndarray | None = None,
) -> _Built:
    """The program for the steps `unique` (each weighted by how often it occurs). With
    `fixed_held` (instances per offer already held, paid for elsewhere) there are no held
    variables; `held_cost` replaces the held variables' costs (one per held variable)."""
    from scipy.sparse import coo_matrix  # heavy: only planning needs it

    steps, classes = unique.shape
    offers = problem.offers
    u = problem.target_utilization
    cap = np.array(
        [[c if c else np.nan for c in o.capacity_per_class] for o in offers], dtype=float
    )
    if cap.shape[1] != classes:
        raise BadInput("capacity and demand disagree on the size classes")
    spot_interchangeable = problem.max_spot_share >= 1 or SPOT_PLAN not in problem.step_plans
    layout = _Layout(
        held=[]
        if fixed_held is not None
        else [
            (k, p)
            for k, o in enumerate(offers)
            for p in _useful(o, problem.held_plans, interchangeable=True)
        ],
        stepped=[
            (k, p)
            for k, o in enumerate(offers)
            for p in _useful(o, problem.step_plans, interchangeable=spot_interchangeable)
        ],
        routes=[
            (t, k, c)
            for t in range(steps)
            for c in range(classes)
            if unique[t, c] > 0
            for k in range(len(offers))
            if not math.isnan(cap[k, c])
        ],
        steps=steps,
    )
    fixed = np.zeros(len(offers)) if fixed_held is None else np.asarray(fixed_held, dtype=float)
    n_held, n_step = layout.n_held, layout.n_step
    n = n_held + n_step + len(layout.routes)

    # Upper bounds: the most instances of one type any step could need (all demand on it).
    safe_cap = np.where(np.isnan(cap), np.inf, cap)
    need = (unique[:, None, :] / safe_cap[None, :, :]).sum(axis=2)
    most = np.ceil(need.max(axis=0) / u) + problem.min_instances + 1

    cost = np.zeros(n)
    upper = np.ones(n)
    integer = np.zeros(n)
    for i, (k, p) in enumerate(layout.held):
        cost[i] = offers[k].prices_per_hour_usd[p] * problem.horizon_h
        upper[i] = most[k]
        integer[i] = 1
    if held_cost is not None:
        cost[:n_held] = held_cost
    for j, (k, p) in enumerate(layout.stepped):
        for t in range(steps):
            v = layout.step_var(j, t)
            cost[v] = offers[k].prices_per_hour_usd[p] * problem.step_h * weights[t]
            upper[v] = most[k]
            integer[v] = 1

    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lower_b: list[float] = []
    upper_b: list[float] = []
    row_step: list[int] = []

    def add(row: int, col: int, value: float) -> None:
        rows.append(row)
        cols.append(col)
        vals.append(value)

    def new_row(low: float, high: float, t: int) -> int:
        lower_b.append(low)
        upper_b.append(high)
        row_step.append(t)
        return len(lower_b) - 1

    route0 = n_held + n_step
    # Every class's demand routed somewhere.
    demand_row = {
        (t, c): new_row(1.0, 1.0, t)
        for t in range(steps)
        for c in range(classes)
        if unique[t, c] > 0
    }
    for i, (t, _, c) in enumerate(layout.routes):
        add(demand_row[(t, c)], route0 + i, 1.0)
    # Load under u × instances, per step and type (instances held elsewhere on the right).
    load_row = {
        (t, k): new_row(-np.inf, u * fixed[k], t)
        for t in range(steps)
        for k in range(len(offers))
    }
    for i, (t, k, c) in enumerate(layout.routes):
        add(load_row[(t, k)], route0 + i, unique[t, c] / cap[k, c])
    for i, (k, _) in enumerate(layout.held):
        for t in range(steps):
            add(load_row[(t, k)], i, -u)
    for j, (k, _) in enumerate(layout.stepped):
        for t in range(steps):
            add(load_row[(t, k)], layout.step_var(j, t), -u)
    # Spot share and minimum instances, per step.
    s = problem.max_spot_share
    has_spot = any(p == SPOT_PLAN for _, p in layout.stepped)
    for t in range(steps):
        if has_spot and s < 1:
            r = new_row(-np.inf, s * fixed.sum(), t)
            for i in range(n_held):
                add(r, i, -s)
            for j, (_, p) in enumerate(layout.stepped):
                add(r, layout.step_var(j, t), 1 - s if p == SPOT_PLAN else -s)
        if problem.min_instances > 0:
            r = new_row(float(problem.min_instances) - fixed.sum(), np.inf, t)
            for i in range(n_held):
                add(r, i, 1.0)
            for j in range(len(layout.stepped)):
                add(r, layout.step_var(j, t), 1.0)

    matrix = coo_matrix((vals, (rows, cols)), shape=(len(lower_b), n)).tocsr()
    return _Built(
        cost=cost,
        matrix=matrix,
        lower_b=np.array(lower_b),
        upper_b=np.array(upper_b),
        integer=integer,
        upper=upper,
        layout=layout,
        row_step=np.array(row_step, dtype=int),
    )


def _run(built: _Built, integer: np.ndarray, *, time_limit_s: float, gap: float) -> _Outcome:
    from scipy.optimize import Bounds, LinearConstraint, milp  # heavy: only planning needs it

    n = built.cost.shape[0]
    result = milp(
        built.cost,
        constraints=LinearConstraint(built.matrix, built.lower_b, built.upper_b),
        integrality=integer,
        bounds=Bounds(np.zeros(n), built.upper),
        options={
            "time_limit": max(float(time_limit_s), 0.01),
            "mip_rel_gap": float(gap),
            "disp": False,
        },
    )
    mip_gap = getattr(result, "mip_gap", None) if integer.any() else 0.0
    dual = getattr(result, "mip_dual_bound", None) if integer.any() else None
    fun = float(result.fun) if result.x is not None else math.inf
    return _Outcome(
        x=result.x,
        fun=fun,
        status=int(result.status),
        message=str(result.message),
        mip_gap=None if mip_gap is None or not math.isfinite(mip_gap) else float(mip_gap),
        layout=built.layout,
        dual_bound=fun if dual is None or not math.isfinite(dual) else float(dual),
    )


def _program(
    problem: FleetProblem,
    unique: np.ndarray,
    weights: np.ndarray,
    *,
    fixed_held: np.ndarray | None = None,
    held_cost: np.ndarray | None = None,
    integral: bool = True,
    held_integral: bool = True,
    time_limit_s: float,
    gap: float,
) -> _Outcome:
    """Build the program for the steps `unique` and solve it. Without `integral`, only the held
    counts are whole numbers (all of them too without `held_integral`): a relaxation, whose
    bound is a lower bound of the whole."""
    built = _build(problem, unique, weights, fixed_held=fixed_held, held_cost=held_cost)
    integer = built.integer.copy()
    if not integral:
        integer[built.layout.n_held :] = 0
        if not held_integral:
            integer[: built.layout.n_held] = 0
    return _run(built, integer, time_limit_s=time_limit_s, gap=gap)


def _refuse(outcome: _Outcome, time_limit_s: float) -> None:
    if outcome.status == 2:
        raise BadInput(
            "no fleet meets these constraints (check --min-instances and --max-spot-share "
            "against the plans and instance types allowed)"
        )
    if outcome.x is None:
        if outcome.status == 1:
            raise BadInput(
                f"the solver found no plan within its time limit of {time_limit_s:g} s; "
                "raise --time-limit or plan fewer steps"
            )
        raise BadInput(f"the solver failed: {outcome.message}")


def solve(problem: FleetProblem, *, time_limit_s: float = 60.0, gap: float = 1e-3) -> FleetSolution:
    """The cheapest fleet, or BadInput saying why there is none. Stopped by the time limit, the
    best plan found is returned with `optimal=False` and its gap.

    Up to DECOMPOSE_ABOVE_INTEGERS per-step counts (or with one instance type) the whole
    program goes to HiGHS at once. Past that: the LP relaxation gives a lower bound and the
    held counts (rounded up), then each step is solved exactly with those counts held; the gap
    is (plan − bound) ÷ plan, so it is proven."""
    import time

    _check(problem)
    unique, inverse, weights = np.unique(
        problem.rates, axis=0, return_inverse=True, return_counts=True
    )
    inverse = np.asarray(inverse).reshape(-1)
    started = time.perf_counter()
    counts = unique.shape[0] * len(problem.offers) * len(problem.step_plans)
    if counts <= DECOMPOSE_ABOVE_INTEGERS or len(problem.offers) == 1:
        outcome = _program(problem, unique, weights, time_limit_s=time_limit_s, gap=gap)
        _refuse(outcome, time_limit_s)
        return _solution(problem, outcome, inverse, started, time.perf_counter() - started)
    return _decomposed(problem, unique, weights, inverse, started, time_limit_s, gap)


def _solution(
    problem: FleetProblem,
    outcome: _Outcome,
    inverse: np.ndarray,
    started: float,
    solve_s: float,
) -> FleetSolution:
    offers = problem.offers
    layout = outcome.layout
    x = outcome.x
    assert x is not None
    steps = layout.steps
    held = {(offers[k].instance, p): round(x[i]) for i, (k, p) in enumerate(layout.held)}
    per_step = {
        (offers[k].instance, p): np.rint(
            x[layout.step_var(j, 0) : layout.step_var(j, 0) + steps]
        ).astype(int)[inverse]
        for j, (k, p) in enumerate(layout.stepped)
    }
    classes = problem.rates.shape[1]
    routing = np.zeros((steps, len(offers), classes))
    route0 = layout.n_held + layout.n_step
    for i, (t, k, c) in enumerate(layout.routes):
        routing[t, k, c] = x[route0 + i]
    optimal = outcome.status == 0
    return FleetSolution(
        total_cost_usd=outcome.fun,
        held=held,
        per_step=per_step,
        routing=routing[inverse],
        optimal=optimal,
        gap=outcome.mip_gap,
        solve_s=solve_s,
        status="optimal" if optimal else "time limit",
    )


def _decomposed(
    problem: FleetProblem,
    unique: np.ndarray,
    weights: np.ndarray,
    inverse: np.ndarray,
    started: float,
    time_limit_s: float,
    gap: float,
) -> FleetSolution:
    import time

    offers = problem.offers
    # The LP relaxation gives the bound and the held counts. Its optimum is a proven lower
    # bound of the whole program (a value short of optimal is not: then the bound is 0). Whole
    # held counts in the relaxation (a MIP over every step) raised the bound by 0.003 % on
    # the week of benchmarks/plan_scale.py and cost several times the LP (past a third of the
    # time limit at 30 days), so the LP's held counts are rounded up: more held instances never make a
    # step infeasible, and each step is then solved exactly with them.
    relaxed = _program(
        problem, unique, weights, integral=False, held_integral=False,
        time_limit_s=max(time_limit_s / 3, STEP_GRACE_S), gap=gap,
    )  # fmt: skip
    _refuse(relaxed, time_limit_s)
    assert relaxed.x is not None
    bound = relaxed.fun if relaxed.status == 0 else 0.0
    held_by_offer = np.zeros(len(offers))
    held: dict[tuple[str, str], int] = {}
    for i, (k, p) in enumerate(relaxed.layout.held):
        count = math.ceil(relaxed.x[i] - 1e-6)
        held[(offers[k].instance, p)] = count
        held_by_offer[k] += count
    held_cost = sum(
        n * offers[next(k for k, o in enumerate(offers) if o.instance == key)].prices_per_hour_usd[p]
        for (key, p), n in held.items()
    ) * problem.horizon_h
    total = held_cost
    per_step_counts: dict[tuple[str, str], np.ndarray] = {}
    routing = np.zeros((unique.shape[0], len(offers), unique.shape[1]))
    timed_out = False
    for t in range(unique.shape[0]):
        left = time_limit_s - (time.perf_counter() - started)
        # Each step's share of the gap is the whole gap: the sum is then within it too.
        step = _program(
            problem,
            unique[t : t + 1],
            weights[t : t + 1],
            fixed_held=held_by_offer,
            # An even share of what is left can be a tenth of a second on a busy machine: a
            # step stopped that soon keeps a poor plan (11 % over at 30 days), so while time is
            # left each step gets at least STEP_FLOOR_S.
            time_limit_s=max(left / (unique.shape[0] - t), STEP_FLOOR_S if left > 0 else 0.05),
            gap=gap / 2,
        )
        if step.x is None and step.status == 1:
            # Out of its share of the time with no plan at all: a plan for every step matters
            # more than the limit, so this step gets a few seconds more (and the plan says so).
            timed_out = True
            step = _program(
                problem,
                unique[t : t + 1],
                weights[t : t + 1],
                fixed_held=held_by_offer,
                time_limit_s=STEP_GRACE_S,
                gap=gap / 2,
            )
        _refuse(step, time_limit_s)
        assert step.x is not None
        timed_out = timed_out or step.status != 0
        total += step.fun
        for j, (k, p) in enumerate(step.layout.stepped):
            series = per_step_counts.setdefault(
                (offers[k].instance, p), np.zeros(unique.shape[0], dtype=int)
            )
            series[t] = round(step.x[step.layout.step_var(j, 0)])
        route0 = step.layout.n_held + step.layout.n_step
        for i, (_, k, c) in enumerate(step.layout.routes):
            routing[t, k, c] = step.x[route0 + i]
    proven_gap = max(0.0, (total - bound) / total) if total > 0 else 0.0
    optimal = proven_gap <= gap and not timed_out
    return FleetSolution(
        total_cost_usd=total,
        held=held,
        per_step={key: series[inverse] for key, series in per_step_counts.items()},
        routing=routing[inverse],
        optimal=optimal,
        gap=proven_gap,
        solve_s=time.perf_counter() - started,
        status="optimal" if optimal else ("time limit" if timed_out else "gap above target"),
    )


def restricted(
    problem: FleetProblem,
    offer: int,
    *,
    held_plans: Sequence[str] | None = None,
    step_plans: Sequence[str] | None = None,
) -> FleetProblem:
    """The same problem with one instance type and, optionally, other plans."""
    return replace(
        problem,
        offers=(problem.offers[offer],),
        held_plans=tuple(problem.held_plans if held_plans is None else held_plans),
        step_plans=tuple(problem.step_plans if step_plans is None else step_plans),
    )
