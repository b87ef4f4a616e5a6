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

from harness.analysis.frontier import level_label, work_keys
from harness.analysis.row_costs import ROW_POSITION
from harness.analysis.work import describe_signature
from harness.money import apply_prices
from harness.slo import Slo, SloTarget, row_meets, row_value, unjudged_targets

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
        trusted = met[~_client_bound(met)]
        if not trusted.empty:
            # A level where the load generator was the limit priced the client, not the
            # server: the answer only when no other level meets the SLO.
            met = trusted
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


def _client_bound(frame: pd.DataFrame) -> Any:
    """A boolean array: the rows whose load generator was the limit."""
    if "client_bound" not in frame.columns:
        return frame.index.isin([])
    return frame["client_bound"].map(lambda v: _flag(v) is True).to_numpy(dtype=bool)


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
    record["client_bound"] = _flag(data.get("client_bound")) is True
    record["values"] = {t.name: row_value(data, t) for t in slo.targets}
    return record


def describe_targets(slo: Slo) -> str:
    """`ttft_p99 ≤ 0.5 s, tpot_p99 ≤ 0.05 s`."""
    return ", ".join(f"{t.name} ≤ {t.limit_s:g} s" for t in slo.targets)


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
