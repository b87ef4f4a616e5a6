"""`gpucost compare --slo`: per workload, the cheapest measured level that meets an SLO.

The candidates are the levels of `primary_levels` (each measured row priced on each matched
instance, plan and utilisation, per its workload's primary unit). A level meets the SLO when its
row says so for this very SLO (`slo` equal to the SLO's canonical text, `slo_met` filled), else
when `row_meets` finds every target met by the row's percentiles. A level that cannot be judged
(a target's column is empty) is counted apart and never taken as meeting it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.analysis.compare import ROW_POSITION, choice_label, describe_signature
from harness.analysis.frontier import level_label, work_keys
from harness.analysis.slo import Slo, SloTarget, row_meets, row_value, unjudged_targets

if TYPE_CHECKING:
    import pandas as pd

    from harness.money import CandidatePrice

OPTIONAL_COST_COLUMNS = (
    "goodput_cost_per_unit_usd", "cost_per_unit_usd_low", "cost_per_unit_usd_high",
)  # fmt: skip
"""Cost columns shown beside the cost where the money layer supplies them."""

OPTIONAL_MARGIN_COLUMNS = ("gross_margin_low", "gross_margin_high")


@dataclass(frozen=True)
class SloAnswer:
    """The answer for one work (workload, model, settings) at one utilisation."""

    workload: str
    work: str
    utilization: float
    unit: str
    levels: int
    """Measured levels (rows) considered."""
    met: int
    unjudged: int
    missing: tuple[str, ...]
    """Targets some level has no value for."""
    choice: dict[str, Any] | None
    """The cheapest level × instance × plan that meets the SLO; None when none does."""
    margins: tuple[dict[str, Any], ...] = field(default=())
    """The choice at each candidate price: `price_label`, `price_per_unit_usd`, `gross_margin`
    (and `gross_margin_low/high` where supplied)."""
    nearest: dict[str, Any] | None = None
    """When none meets it: the judged level closest to it, at its cheapest instance and plan."""


def verdict(slo: Slo, row: Mapping[str, Any]) -> bool | None:
    """True/False when the row is judged against `slo`, None when it cannot be."""
    if _text(row.get("slo")) == slo.text:
        met = _flag(row.get("slo_met"))
        if met is not None:
            return met
    return row_meets(slo, row)


def slo_answers(
    levels: pd.DataFrame, slo: Slo, prices: Sequence[CandidatePrice] = ()
) -> list[SloAnswer]:
    """One SloAnswer per work and utilisation, in the order the levels come."""
    from harness.money import apply_prices

    if levels.empty:
        return []
    levels = levels.assign(_work=work_keys(levels))
    rows = levels.drop_duplicates(ROW_POSITION)
    verdicts = {
        int(r[ROW_POSITION]): (verdict(slo, r), unjudged_targets(slo, r))
        for r in rows.to_dict("records")
    }
    meeting = [p for p, (met, _) in verdicts.items() if met is True]
    answers = []
    for (work, util), part in levels.groupby(["_work", "utilization"], sort=False):
        part = part.sort_values("cost_per_unit_usd", kind="stable")
        judged = [verdicts[int(p)] for p in part[ROW_POSITION].unique()]
        met = part[part[ROW_POSITION].isin(meeting)]
        missing = tuple(dict.fromkeys(t.name for _, lacks in judged for t in lacks))
        common = dict(
            workload=str(work[0]),
            work=describe_signature(work),
            utilization=float(util),
            unit=str(part.iloc[0]["unit"]),
            levels=len(judged),
            met=sum(v is True for v, _ in judged),
            unjudged=sum(v is None for v, _ in judged),
            missing=missing,
        )
        if met.empty:
            answers.append(SloAnswer(**common, choice=None, nearest=_nearest(part, verdicts, slo)))
            continue
        choice = _record(met.iloc[0], slo)
        priced = apply_prices(met.iloc[[0]], prices)
        priced = priced[priced["price_per_unit_usd"].notna()]
        keep = ["price_label", "price_per_unit_usd", "gross_margin", *OPTIONAL_MARGIN_COLUMNS]
        margins = tuple(
            {k: _plain(r.get(k)) for k in keep if k in priced.columns}
            for r in priced.to_dict("records")
        )
        answers.append(SloAnswer(**common, choice=choice, margins=margins))
    return answers


def _nearest(
    part: pd.DataFrame, verdicts: dict[int, tuple[bool | None, list[SloTarget]]], slo: Slo
) -> dict[str, Any] | None:
    """The judged level whose worst target is least over its limit, at its cheapest price."""
    best, best_excess = None, math.inf
    for r in part.drop_duplicates(ROW_POSITION).to_dict("records"):
        if verdicts[int(r[ROW_POSITION])][0] is not False:
            continue
        excess = max((row_value(r, t) or 0.0) / t.limit_s for t in slo.targets)
        if excess < best_excess:
            best, best_excess = r, excess
    return None if best is None else _record(best, slo)


def _record(row: Any, slo: Slo) -> dict[str, Any]:
    data = dict(row)
    record = {
        k: _plain(data.get(k))
        for k in ("run_id", "engine", "batch_size", "concurrency", "request_rate", "provider",
                  "instance", "plan", "gpu", "cost_per_unit_usd", *OPTIONAL_COST_COLUMNS)
        if k in data
    }  # fmt: skip
    if "goodput_cost_per_unit_usd" in record and _text(data.get("slo")) != slo.text:
        # The row's goodput counts the requests that met the SLO it was measured with: it says
        # nothing about another one.
        record["goodput_cost_per_unit_usd"] = None
    record["level"] = level_label(data)
    record["values"] = {t.name: row_value(data, t) for t in slo.targets}
    return record


def describe_targets(slo: Slo) -> str:
    """`ttft_p99 ≤ 0.5 s, tpot_p99 ≤ 0.05 s`."""
    return ", ".join(f"{t.name} ≤ {t.limit_s:g} s" for t in slo.targets)


def _values(values: Mapping[str, float | None]) -> str:
    return ", ".join(f"{name} {_seconds(v)}" for name, v in values.items())


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g} s"


def _where(record: Mapping[str, Any]) -> str:
    return f"run {record['run_id']}, {record['level']}"


def answer_lines(answer: SloAnswer, slo: Slo, several_works: bool) -> list[str]:
    """The plain-text answer: what meets the SLO, its cost and margin, or that nothing does."""
    from harness.money.units import display_scale
    from harness.report import format as fmt

    scale, unit_name = display_scale(answer.workload, answer.unit)
    title = f"{answer.workload} · {answer.work}" if several_works else answer.workload
    title += f" · utilization {answer.utilization:.0%}"
    counts = f"{answer.met} of {answer.levels} measured levels meet it"
    if answer.unjudged:
        counts += (
            f"; {answer.unjudged} cannot be judged (no value for "
            f"{', '.join(answer.missing)}) and are not counted as meeting it"
        )
    choice = answer.choice
    if choice is None:
        if answer.nearest is not None:
            near = answer.nearest
            best = f" (best: {_values(near['values'])} at {_where(near)})"
        else:
            best = ""
        verb = "meets" if answer.levels > answer.unjudged else "can be judged against"
        return [f"{title}: no measured level {verb} {describe_targets(slo)}{best}", f"  {counts}"]
    lines = [
        f"{title}: cheapest that meets it: {choice_label(choice)}, {_where(choice)} "
        f"({_values(choice['values'])})"
    ]
    cost = f"  cost: {fmt.usd(choice['cost_per_unit_usd'] * scale)} per {unit_name}"
    low, high = choice.get("cost_per_unit_usd_low"), choice.get("cost_per_unit_usd_high")
    if low is not None and high is not None:
        cost += f" (95% interval {fmt.usd(low * scale)} – {fmt.usd(high * scale)})"
    goodput = choice.get("goodput_cost_per_unit_usd")
    if goodput is not None and math.isfinite(goodput):
        cost += f"; on goodput {fmt.usd(goodput * scale)} per {unit_name}"
    elif goodput is not None:
        cost += "; on goodput: none of its requests met the SLO on their own"
    lines.append(cost)
    if not answer.margins:
        lines.append(f"  margin: no candidate price for {answer.workload}.{answer.unit}")
    for m in answer.margins:
        margin = f"  margin at {m['price_label']} ({fmt.usd(m['price_per_unit_usd'] * scale)}"
        margin += f" per {unit_name}): " + fmt.margin_range_text(
            m["gross_margin"], m.get("gross_margin_low"), m.get("gross_margin_high"))
        lines.append(margin)
    lines.append(f"  {counts}")
    return lines


def format_answers(answers: Sequence[SloAnswer], slo: Slo) -> str:
    lines = [
        f"SLO {describe_targets(slo)}: the cheapest instance, plan and load level per workload"
    ]
    if not answers:
        lines.append("  nothing measured to judge")
    works: dict[str, set[str]] = {}
    for a in answers:
        works.setdefault(a.workload, set()).add(a.work)
    for answer in answers:
        lines += ["", *answer_lines(answer, slo, len(works[answer.workload]) > 1)]
    return "\n".join(lines)


def answer_records(answers: Sequence[SloAnswer]) -> list[dict[str, Any]]:
    """JSON-ready answers (`meets` says whether any level met the SLO)."""
    return [
        {
            "workload": a.workload,
            "work": a.work,
            "utilization": a.utilization,
            "unit": a.unit,
            "meets": a.choice is not None,
            "levels": a.levels,
            "levels_met": a.met,
            "levels_unjudged": a.unjudged,
            "unjudged_targets": list(a.missing),
            "choice": a.choice,
            "margins": list(a.margins),
            "nearest": a.nearest,
        }
        for a in answers
    ]


def answer_rows(answers: Sequence[SloAnswer]) -> list[dict[str, Any]]:
    """Flat rows for CSV: one per answer and candidate price (one without a price)."""
    rows = []
    for a in answers:
        base: dict[str, Any] = {
            "workload": a.workload, "work": a.work, "utilization": a.utilization, "unit": a.unit,
            "meets": a.choice is not None, "levels": a.levels, "levels_met": a.met,
            "levels_unjudged": a.unjudged,
        }  # fmt: skip
        found = a.choice or {}
        for key in ("run_id", "level", "provider", "instance", "plan", "gpu",
                    "cost_per_unit_usd", *OPTIONAL_COST_COLUMNS):  # fmt: skip
            base[key] = found.get(key)
        for name, value in (found.get("values") or {}).items():
            base[f"{name}_s"] = value
        for margin in a.margins or ({},):
            rows.append({**base, **margin})
    return rows


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    return str(value).strip()


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = _text(value)
    if text is None:
        return None
    lowered = text.lower()
    if lowered in ("true", "1", "1.0", "yes"):
        return True
    if lowered in ("false", "0", "0.0", "no"):
        return False
    return None


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: numpy values as Python ones, NaN as None."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value
