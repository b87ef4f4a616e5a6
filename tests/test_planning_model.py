"""The fleet model against optima worked out by hand, and Mélange's published example."""

from __future__ import annotations

import numpy as np
import pytest

from harness.errors import BadInput
from harness.planning.model import FleetProblem, Offer, restricted, solve
from harness.planning.plan import BASELINE_AUTOSCALED, BASELINE_PEAK, PlanSettings, baselines


def _problem(offers, rates, **kwargs) -> FleetProblem:
    return FleetProblem(tuple(offers), np.asarray(rates, dtype=float), 1.0, **kwargs)


# Two types, two buckets (small, large), constant demand of 20 small and 10 large requests/s.
# Per request/s an hour, A costs $1/10 = 0.10 (small) and $1/2 = 0.50 (large); B costs $3/20 =
# 0.15 and $3/10 = 0.30. Small on A, large on B is the LP optimum: 20 × 0.10 + 10 × 0.30 = $5/h,
# and it is integral (2 A, 1 B), so it is the MIP optimum. All on B: 1 + 1 = 2 B = $6/h; all on
# A: 2 + 5 = 7 A = $7/h.
TYPE_A = Offer("t:a", {"on_demand": 1.0}, (10.0, 2.0))
TYPE_B = Offer("t:b", {"on_demand": 3.0}, (20.0, 10.0))


def test_two_types_two_buckets_constant_demand() -> None:
    solution = solve(_problem([TYPE_A, TYPE_B], [[20, 10]] * 3, target_utilization=1.0))
    assert solution.optimal and solution.gap == pytest.approx(0, abs=1e-9)
    assert solution.total_cost_usd == pytest.approx(3 * 5.0)
    assert list(solution.per_step[("t:a", "on_demand")]) == [2, 2, 2]
    assert list(solution.per_step[("t:b", "on_demand")]) == [1, 1, 1]
    # Small requests all on A, large all on B.
    assert solution.routing[0, 0, 0] == pytest.approx(1) and solution.routing[0, 1, 1] == pytest.approx(1)


def test_target_utilization_doubles_the_fleet_at_one_half() -> None:
    # At u = 0.5 every load doubles: 4 A ($4) + 2 B ($6) = $10/h, again the LP bound.
    solution = solve(_problem([TYPE_A, TYPE_B], [[20, 10]], target_utilization=0.5))
    assert solution.total_cost_usd == pytest.approx(10.0)


# One type at 10 requests/s: on demand $4/h, reserved (1 year) $2.50/h. A day of 12 quiet hours
# at 10 requests/s (one instance) and 12 busy hours at 30 (three).
#   on demand, autoscaled:   (12 × 1 + 12 × 3) × $4            = $192
#   reserved for the peak:    3 × 24 × $2.50                    = $180
#   reserve 1, on demand 2 in the busy hours: 60 + 2 × 12 × $4  = $156   (reserve 2: 120 + 48 = 168)
DIURNAL = [[10.0]] * 12 + [[30.0]] * 12
MIXED = Offer("t:one", {"on_demand": 4.0, "reserved_1y": 2.5}, (10.0,))


def test_diurnal_reserved_base_and_on_demand_peak_beat_both_pure_plans() -> None:
    problem = _problem([MIXED], DIURNAL, target_utilization=1.0)
    mixed = solve(problem)
    on_demand = solve(restricted(problem, 0, held_plans=(), step_plans=("on_demand",)))
    reserved = solve(restricted(problem, 0, held_plans=("reserved_1y",), step_plans=()))
    assert on_demand.total_cost_usd == pytest.approx(192.0)
    assert reserved.total_cost_usd == pytest.approx(180.0)
    assert mixed.total_cost_usd == pytest.approx(156.0)
    assert on_demand.total_cost_usd - mixed.total_cost_usd == pytest.approx(36.0)
    assert reserved.total_cost_usd - mixed.total_cost_usd == pytest.approx(24.0)
    assert mixed.held[("t:one", "reserved_1y")] == 1
    assert list(mixed.per_step[("t:one", "on_demand")]) == [0] * 12 + [2] * 12


def test_baselines_of_the_diurnal_day() -> None:
    found = {b.name: b for b in baselines(_problem([MIXED], DIURNAL, target_utilization=1.0),
                                          PlanSettings())}  # fmt: skip
    assert found[BASELINE_PEAK].total_cost_usd == pytest.approx(3 * 24 * 4.0)
    assert found[BASELINE_AUTOSCALED].total_cost_usd == pytest.approx(192.0)


# Mélange (Griggs et al. 2024), melange/config/example.json: A10G $1.01/h with capacities
# [[2, 1], [5, 2]] requests/s, A100-80GB $3.67/h with [[20, 20], [40, 20]], 30 requests/s spread
# [[0.2, 0.1], [0.5, 0.2]] over the 2 × 2 grid: 6, 3, 15 and 6 requests/s. Its solver assigns
# whole slices to one type: $6.70/h at slice factor 1 (1 A100 + 3 A10G), $5.69/h at 4 or more
# (1 A100 + 2 A10G). Split freely, the A100 takes loads 0.30 + 0.15 + 0.375 + 0.30 = 1.125, one
# A100 holds 1.0 of it, and the cheapest 0.125 to move is 5 requests/s of the (1, 0) bucket (8
# A10G-loads per A100-load, the fewest): 5/5 = 1.0 A10G. $3.67 + $1.01 = $4.68/h.
A10G = Offer("mel:a10g", {"on_demand": 1.01}, (2.0, 1.0, 5.0, 2.0))
A100 = Offer("mel:a100", {"on_demand": 3.67}, (20.0, 20.0, 40.0, 20.0))
MELANGE_RATES = [[30 * 0.2, 30 * 0.1, 30 * 0.5, 30 * 0.2]]


def test_melange_example_split_across_types() -> None:
    solution = solve(_problem([A10G, A100], MELANGE_RATES, target_utilization=1.0))
    assert solution.total_cost_usd == pytest.approx(4.68)
    assert solution.total_cost_usd < 5.69 < 6.70
    assert solution.per_step[("mel:a100", "on_demand")][0] == 1
    assert solution.per_step[("mel:a10g", "on_demand")][0] == 1
    # The A10G serves the part of bucket (1, 0) that the A100 has no room for: 5 of 15 req/s.
    assert solution.routing[0, 0, 2] * 15 == pytest.approx(5.0)
    only_a100 = solve(restricted(_problem([A10G, A100], MELANGE_RATES, target_utilization=1.0), 1))
    assert only_a100.total_cost_usd == pytest.approx(2 * 3.67)


def test_spot_share_caps_spot_instances() -> None:
    offer = Offer("t:s", {"on_demand": 4.0, "spot": 1.0}, (10.0,))
    free = solve(_problem([offer], [[40.0]], target_utilization=1.0))
    assert free.total_cost_usd == pytest.approx(4 * 1.0)  # all four on spot
    capped = solve(_problem([offer], [[40.0]], target_utilization=1.0, max_spot_share=0.5))
    # At most half the instances on spot: 2 spot + 2 on demand = $10.
    assert capped.total_cost_usd == pytest.approx(2 * 1.0 + 2 * 4.0)


def test_min_instances_holds_even_without_demand() -> None:
    solution = solve(_problem([TYPE_A], [[0.0, 0.0], [5.0, 0.0]], min_instances=2))
    assert list(solution.per_step[("t:a", "on_demand")]) == [2, 2]


def test_infeasible_spot_only_with_spot_capped_is_one_line() -> None:
    spot_only = Offer("t:s", {"spot": 1.0}, (10.0,))
    with pytest.raises(BadInput, match="no fleet meets these constraints"):
        solve(_problem([spot_only], [[5.0]], max_spot_share=0.5))


def test_bucket_no_type_serves_is_refused() -> None:
    with pytest.raises(BadInput, match="no instance type can serve"):
        solve(_problem([Offer("t:x", {"on_demand": 1.0}, (10.0, None))], [[1.0, 1.0]]))


def test_time_limit_returns_best_plan_with_gap_or_one_line() -> None:
    rng = np.random.default_rng(7)
    offers = [
        Offer(f"t:{k}", {"on_demand": 1 + k * 0.37, "spot": 0.4 + k * 0.11,
                         "reserved_1y": 0.7 + k * 0.29}, tuple(rng.uniform(1, 20, 8)))
        for k in range(8)
    ]  # fmt: skip
    rates = rng.uniform(0, 30, (40, 8))
    try:
        solution = solve(_problem(offers, rates, max_spot_share=0.3), time_limit_s=0.01, gap=0)
    except BadInput as err:
        assert "time limit" in str(err)
    else:
        assert solution.status in ("time limit", "optimal")
        assert solution.optimal or solution.gap is None or solution.gap >= 0


def test_decomposed_plan_and_its_bound_bracket_the_true_optimum() -> None:
    from harness.planning import model

    # 120 distinct steps: past DECOMPOSE_ABOVE_INTEGERS, so solved step by step. The whole
    # program given to HiGHS at once (for a few seconds) brackets the optimum between its own
    # bound and its own plan: the plan cannot beat that bound, its bound cannot beat that plan.
    rng = np.random.default_rng(3)
    rates = rng.uniform(2, 40, (120, 2))
    held_too = Offer("t:b", {"on_demand": 3.0, "reserved_1y": 1.8, "spot": 1.2}, (20.0, 10.0))
    problem = _problem([TYPE_A, held_too], rates, max_spot_share=0.3, min_instances=1)
    assert np.unique(rates, axis=0).shape[0] * 2 * 2 > model.DECOMPOSE_ABOVE_INTEGERS
    plan = solve(problem)
    unique, _, weights = np.unique(rates, axis=0, return_inverse=True, return_counts=True)
    whole = model._program(problem, unique, weights, time_limit_s=5, gap=0)
    assert whole.x is not None and whole.mip_gap is not None
    assert plan.gap is not None
    assert plan.total_cost_usd >= whole.fun * (1 - whole.mip_gap) - 1e-6
    assert plan.total_cost_usd * (1 - plan.gap) <= whole.fun + 1e-6
    # Every step's instances carry its load under the target utilisation.
    counts = {k: v for k, v in plan.per_step.items()}
    held = plan.held.get(("t:b", "reserved_1y"), 0)
    for t in range(120):
        for k, offer in enumerate(problem.offers):
            load = sum(plan.routing[t, k, c] * rates[t, c] / offer.capacity_per_class[c]
                       for c in range(2))  # fmt: skip
            have = sum(series[t] for (name, _), series in counts.items() if name == offer.instance)
            have += held if offer.instance == "t:b" else 0
            assert load <= 0.8 * have + 1e-6


def _plan_cost(problem: FleetProblem, solution) -> float:
    """The bill of a plan's own counts, recomputed from the prices."""
    price = {(o.instance, p): v for o in problem.offers for p, v in o.prices_per_hour_usd.items()}
    held = sum(n * price[key] for key, n in solution.held.items()) * problem.horizon_h
    stepped = sum(series.sum() * price[key] for key, series in solution.per_step.items())
    return held + stepped * problem.step_h


@pytest.mark.parametrize("decompose", [False, True])
def test_reported_gap_is_a_proven_bound_on_the_true_optimum(monkeypatch, decompose) -> None:
    from harness.planning import model

    # Small enough that the whole program solves to its optimum (gap 0); solved whole, and
    # solved step by step (decomposition forced), the plan's cost can never beat that optimum
    # and the bound it reports, cost × (1 − gap), can never exceed it.
    rng = np.random.default_rng(11)
    rates = np.round(rng.uniform(2, 40, (12, 2)), 1)
    held_too = Offer("t:b", {"on_demand": 3.0, "reserved_1y": 1.8, "spot": 1.2}, (20.0, 10.0))
    problem = _problem([TYPE_A, held_too], rates, max_spot_share=0.3, min_instances=1)
    unique, _, weights = np.unique(rates, axis=0, return_inverse=True, return_counts=True)
    whole = model._program(problem, unique, weights, time_limit_s=30, gap=0)
    assert whole.status == 0
    optimum = whole.fun
    if decompose:
        monkeypatch.setattr(model, "DECOMPOSE_ABOVE_INTEGERS", 0)
    plan = solve(problem, gap=0)
    assert plan.gap is not None and plan.gap >= 0
    assert plan.total_cost_usd == pytest.approx(_plan_cost(problem, plan))
    assert plan.total_cost_usd >= optimum - 1e-6
    assert plan.total_cost_usd * (1 - plan.gap) <= optimum + 1e-6
    if not decompose:
        assert plan.optimal and plan.total_cost_usd == pytest.approx(optimum)
