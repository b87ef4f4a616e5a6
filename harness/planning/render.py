"""A plan as text (answer first, 80 columns), CSV (the full schedule) or JSON (the contract)."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import numpy as np

from harness.planning.capacity import bucket_text
from harness.planning.model import HELD_PLANS, STEP_PLANS
from harness.planning.plan import HOURS_PER_MONTH, PlanResult
from harness.render.text import money_text

WIDTH = 80
PER_MILLION = 1_000_000
FLEET_KEYS = ("instance", "plan", "count_max", "instance_hours", "count_min", "count_median")


def _savings(result: PlanResult) -> list[dict[str, Any]]:
    out = []
    for b in result.baselines:
        saved = None if b.total_cost_usd is None else b.total_cost_usd - result.total_cost_usd
        out.append(
            {
                "name": b.name,
                "instance": b.instance,
                "total_cost_usd": b.total_cost_usd,
                "savings_usd": saved,
                "savings_share": None
                if saved is None or not b.total_cost_usd
                else saved / b.total_cost_usd,
                "reason": b.reason,
            }
        )
    return out


def fleet_rows(result: PlanResult) -> list[dict[str, Any]]:
    """One row per instance and plan used: counts over the steps and instance-hours."""
    rows = []
    step_h = result.demand.step_s / 3600.0
    for (instance, plan), n in sorted(result.solution.held.items()):
        if n:
            rows.append(
                {
                    "instance": instance,
                    "plan": plan,
                    "held": True,
                    "count_min": n,
                    "count_median": n,
                    "count_max": n,
                    "instance_hours": n * result.demand.horizon_h,
                }
            )
    for (instance, plan), series in sorted(result.solution.per_step.items()):
        if series.any():
            rows.append(
                {
                    "instance": instance,
                    "plan": plan,
                    "held": False,
                    "count_min": int(series.min()),
                    "count_median": float(np.median(series)),
                    "count_max": int(series.max()),
                    "instance_hours": float(series.sum() * step_h),
                }
            )
    return rows


def plan_json(result: PlanResult) -> dict[str, Any]:
    solution = result.solution
    money = result.money
    months = result.demand.horizon_h / HOURS_PER_MONTH

    def per_month(value: float | None) -> float | None:
        return None if value is None else value / months

    return {
        "total_cost_usd": result.total_cost_usd,
        "total_cost_usd_at_low_capacity": result.cost_at_low_capacity_usd,
        "monthly_cost_usd": result.monthly_cost_usd,
        "horizon_hours": result.demand.horizon_h,
        "step_hours": result.demand.step_s / 3600.0,
        "requests": result.demand.requests,
        "input_tokens": result.demand.tokens("input"),
        "output_tokens": result.demand.tokens("output"),
        "cost_per_request_usd": result.per_unit_usd("request"),
        "cost_per_1m_input_tokens_usd": _scaled(result.per_unit_usd("input_token")),
        "cost_per_1m_output_tokens_usd": _scaled(result.per_unit_usd("output_token")),
        "mean_utilization": result.mean_utilization(),
        "fleet": [{k: r[k] for k in FLEET_KEYS} for r in fleet_rows(result)],
        "baselines": _savings(result),
        "money": {
            "price_source": money.price_source,
            "monthly_revenue_usd": per_month(money.revenue_usd),
            "monthly_direct_cost_usd": per_month(money.direct_cost_usd),
            "monthly_total_cost_usd": per_month(result.total_cost_usd + money.direct_cost_usd),
            "gross_margin": money.gross_margin,
            "break_even_price_per_request_usd": money.break_even_usd.get("request"),
            "break_even_price_per_1m_input_tokens_usd": _scaled(
                money.break_even_usd.get("input_token")
            ),
            "break_even_price_per_1m_output_tokens_usd": _scaled(
                money.break_even_usd.get("output_token")
            ),
        },
        "solver": {
            "name": "HiGHS (scipy.optimize.milp)",
            "status": solution.status,
            "optimal": solution.optimal,
            "gap": solution.gap,
            "solve_s": solution.solve_s,
            "time_limit_s": result.settings.time_limit_s,
        },
        "settings": {
            "target_utilization": result.settings.target_utilization,
            "max_spot_share": result.settings.max_spot_share,
            "min_instances": result.settings.min_instances,
            "plans": list(result.settings.plans) if result.settings.plans else None,
        },
        "buckets": [bucket_text(c) for c in result.demand.classes],
        "schedule": schedule_rows(result),
        "projected_instances": result.projected,
        "caveats": result.caveats,
    }


def _scaled(value: float | None) -> float | None:
    return None if value is None else value * PER_MILLION


def schedule_rows(result: PlanResult) -> list[dict[str, Any]]:
    """Per step: demand and the count of each instance and plan."""
    counts = result.instance_counts()
    plans = (*HELD_PLANS, *STEP_PLANS)
    rows = []
    for t in range(result.demand.steps):
        row: dict[str, Any] = {
            "step": t,
            "start_h": t * result.demand.step_s / 3600.0,
            "requests_per_s": float(result.demand.rates[t].sum()),
        }
        for k, offer in enumerate(result.offers):
            for p, plan in enumerate(plans):
                if counts[:, k, p].any():
                    row[f"{offer.instance} {plan}"] = int(counts[t, k, p])
        rows.append(row)
    return rows


def plan_csv(result: PlanResult) -> str:
    import csv
    import io

    rows = schedule_rows(result)
    names: list[str] = []
    for row in rows:
        names.extend(k for k in row if k not in names)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n", restval=0)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _wrap(text: str, indent: str = "  ") -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent + "  ")


def plan_text(result: PlanResult, verbose: bool = False) -> str:
    d = result.demand
    lines: list[str] = []
    days = d.horizon_h / 24
    span = f"{d.horizon_h:g} h" if d.horizon_h < 48 else f"{days:g} days"
    range_text = ""
    if result.cost_at_low_capacity_usd is not None:
        range_text = f" (up to {money_text(result.cost_at_low_capacity_usd)} at low capacity)"
    lines.append(f"Fleet for {d.requests:,.0f} requests over {span}:")
    for r in fleet_rows(result):
        if r["held"]:
            count = f"{r['count_max']} held"
        else:
            count = f"{r['count_min']}/{r['count_median']:g}/{r['count_max']} min/med/max"
        lines.append(f"  {r['instance'][:30]:<30} {r['plan']:<12} {count}")
    lines.extend(
        _wrap(
            f"Bill: {money_text(result.total_cost_usd)} over the horizon{range_text}, "
            f"{money_text(result.monthly_cost_usd)} a month",
            "",
        )
    )
    per = []
    for unit, label, scale in (
        ("request", "request", 1),
        ("input_token", "1M input tokens", PER_MILLION),
        ("output_token", "1M output tokens", PER_MILLION),
    ):
        value = result.per_unit_usd(unit)
        if value is not None:
            per.append(f"{money_text(value * scale)} per {label}")
    lines.extend(_wrap("Cost: " + ", ".join(per) + " (the whole bill on each unit)", ""))
    util = result.mean_utilization()
    if util is not None:
        lines.append(f"Mean utilisation: {100 * util:.0f} % of SLO capacity")
    lines.append("Savings:")
    for s in _savings(result):
        if s["total_cost_usd"] is None:
            lines.extend(_wrap(f"vs {s['name']}: none ({s['reason']})"))
            continue
        lines.extend(
            _wrap(
                f"{money_text(s['savings_usd'])} ({100 * (s['savings_share'] or 0):.1f} %) vs "
                f"{s['name']} ({s['instance']}, {money_text(s['total_cost_usd'])})"
            )
        )
    lines.extend(_money_lines(result))
    sol = result.solution
    gap = "" if sol.gap is None else f", gap {100 * sol.gap:.2f} %"
    lines.append(f"Solver: HiGHS via SciPy milp, {sol.status}{gap}, {sol.solve_s:.1f} s")
    if verbose:
        lines.append("Buckets: " + ", ".join(bucket_text(c) for c in d.classes))
        lines.append(f"Traffic: {d.source}")
    lines.append("Caveats:")
    for caveat in result.caveats:
        lines.extend(_wrap(f"- {caveat}"))
    return "\n".join(lines) + "\n"


def _money_lines(result: PlanResult) -> list[str]:
    m = result.money
    months = result.demand.horizon_h / HOURS_PER_MONTH
    lines = []
    if m.revenue_usd is not None:
        margin = "—" if m.gross_margin is None else f"{100 * m.gross_margin:.1f} %"
        lines.extend(
            _wrap(
                f"Margin at {m.price_source}: revenue {money_text(m.revenue_usd / months)} a "
                f"month, direct costs {money_text(m.direct_cost_usd / months)}, gross margin "
                f"{margin}",
                "",
            )
        )
    even = m.break_even_usd
    parts = [f"{money_text(even['request'])} per request"] if even.get("request") else []
    if even.get("output_token"):
        parts.append(f"{money_text(even['output_token'] * PER_MILLION)} per 1M output tokens")
    if parts:
        lines.extend(_wrap("Break-even price: " + " or ".join(parts), ""))
    return lines


def render(result: PlanResult, fmt: str, verbose: bool = False) -> str:
    if fmt == "json":
        return json.dumps(plan_json(result), indent=2) + "\n"
    if fmt == "csv":
        return plan_csv(result)
    return plan_text(result, verbose)
