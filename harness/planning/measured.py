"""The capacity table from endpoint runs: each run's best load level under the SLO.

A run measures load levels (concurrencies or request rates) at one request size. Its capacity is
the requests/s served at the highest level that meets the SLO below the lowest level that misses
it (latency grows with load, so a meeting level above a miss is noise), or, without `--slo`, the
level `--find-max-load` marked (`slo_max_load`). The interval comes from the row's bootstrap
interval of cost per unit (`cost_factor_low/high`): cost per request is the reciprocal of the
rate, so the rate's low end is rate ÷ cost_factor_high. A GPU not measured may be added by the
roofline projection (`--project KEY`), which scales the level's time; such rows say `projected`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from harness.analysis.projection import project
from harness.errors import BadInput
from harness.gpus import canonical_gpu
from harness.planning.capacity import CapacityEntry
from harness.results.runs import measurements_frame
from harness.slo import Slo, row_meets

if TYPE_CHECKING:
    from harness.money.ratecard import Instance
    from harness.results.runs import RunRecord


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _length(value: Any) -> int | None:
    number = _number(value)
    return None if number is None or number < 1 else int(number)


def _level(row: dict[str, Any]) -> float:
    return _number(row.get("request_rate")) or _number(row.get("concurrency")) or 0.0


def best_level(rows: list[dict[str, Any]], slo: Slo | None) -> dict[str, Any] | None:
    """The row of the highest level meeting the SLO below the first miss; None when none does.
    Without an SLO, the row `--find-max-load` marked."""
    if slo is None:
        marked = [r for r in rows if str(r.get("slo_max_load")).lower() in ("true", "1")]
        return max(marked, key=_level) if marked else None
    judged = [(r, row_meets(slo, r)) for r in rows]
    misses = [_level(r) for r, met in judged if met is False]
    first_miss = min(misses) if misses else math.inf
    meets = [r for r, met in judged if met is True and _level(r) < first_miss]
    return max(meets, key=_level) if meets else None


def _instances_for(
    gpu_key: str, gpus: float, instances: Sequence[Instance], run_id: str
) -> list[Instance]:
    count = max(1, round(gpus))
    found = [i for i in instances if i.gpu == gpu_key and i.gpu_count == count]
    if not found:
        raise BadInput(
            f"run {run_id}: no instance with {count} × {gpu_key} among those selected "
            "(pass --instance PROVIDER:NAME or --gpu KEY, or add a rate card)"
        )
    return found


def capacity_from_runs(
    records: Sequence[RunRecord],
    instances: Sequence[Instance],
    *,
    slo: Slo | None = None,
    gpu: str | None = None,
    project_keys: Sequence[str] = (),
) -> tuple[list[CapacityEntry], list[str]]:
    """Capacity entries (one per matching instance and bucket) and notes on what was left out."""
    frame = measurements_frame(records)
    if "requests_per_s" not in frame.columns:
        frame["requests_per_s"] = math.nan
    rows = frame[(frame["status"] == "ok") & frame["requests_per_s"].notna()]
    if rows.empty:
        names = ", ".join(r.run_id for r in records)
        raise BadInput(
            f"{names}: no endpoint load levels (rows with requests_per_s); capacity comes from "
            "`gpucost run --endpoint` runs"
        )
    entries: list[CapacityEntry] = []
    chosen: list[dict[str, Any]] = []
    notes: list[str] = []
    records_by_bucket: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows.to_dict("records"):
        key = (row["run_id"], _length(row.get("input_len")), _length(row.get("output_len")))
        records_by_bucket.setdefault(key, []).append(row)
    for (run_id, in_len, out_len), levels in records_by_bucket.items():
        best = best_level(levels, slo)
        if best is None:
            if slo is None:
                raise BadInput(
                    f"run {run_id}: no level marked as its max load under an SLO; pass --slo "
                    "(e.g. ttft_p99=0.5,tpot_p99=0.05) to judge its levels"
                )
            notes.append(f"run {run_id}: no load level meets {slo.text}; left out")
            continue
        shown = row_gpu = best.get("gpu_name")
        key = gpu or canonical_gpu("" if row_gpu is None else str(row_gpu))
        if key is None:
            raise BadInput(f"run {run_id}: GPU {shown!r} is not in any rate card; pass --gpu KEY")
        gpus = _number(best.get("gpus_used")) or 1.0
        chosen.append({**best, "gpu_key": key})
        entries.extend(
            _entry(best, instance, in_len, out_len, slo, 1.0, None)
            for instance in _instances_for(key, gpus, instances, run_id)
        )
    for target in project_keys:
        entries.extend(_projected(chosen, target, instances, slo, notes))
    if not entries:
        raise BadInput("no run has a load level that meets the SLO: " + "; ".join(notes))
    return entries, notes


def _entry(
    row: dict[str, Any],
    instance: Instance,
    in_len: int | None,
    out_len: int | None,
    slo: Slo | None,
    time_scale: float,
    projected_from: str | None,
) -> CapacityEntry:
    rate = float(row["requests_per_s"]) / time_scale
    low_factor = _number(row.get("cost_factor_high"))
    high_factor = _number(row.get("cost_factor_low"))
    level = _level(row)
    judged = slo.text if slo is not None else str(row.get("slo") or "its SLO")
    source = f"{row['run_id']} level {level:g} under {judged}"
    if projected_from:
        source = f"projected from {projected_from} ({source})"
    return CapacityEntry(
        instance=instance.key,
        input_len_max=in_len,
        output_len_max=out_len,
        max_requests_per_s=rate,
        max_requests_per_s_low=rate / low_factor if low_factor and low_factor >= 1 else None,
        max_requests_per_s_high=rate / high_factor
        if high_factor and 0 < high_factor <= 1
        else None,
        source=source,
        projected=projected_from is not None,
    )


def _projected(
    chosen: list[dict[str, Any]],
    target: str,
    instances: Sequence[Instance],
    slo: Slo | None,
    notes: list[str],
) -> list[CapacityEntry]:
    """Entries on GPU `target` from the chosen levels, through the roofline projection: the
    level's rate scales by measured wall time ÷ projected wall time."""
    import pandas as pd


    key = canonical_gpu(target) or target
    out: list[CapacityEntry] = []
    reasons: list[str] = []
    for before in chosen:
        projected, project_notes = project(pd.DataFrame.from_records([before]), target)
        reasons.extend(project_notes)
        notes.extend(f"--project {target}: {n}" for n in project_notes)
        if projected.empty:
            continue
        after = projected.to_dict("records")[0]
        old, new = _number(before.get("wall_s_p50")), _number(after.get("wall_s_p50"))
        if not old or not new:
            continue
        gpus = max(1, round(_number(before.get("gpus_used")) or 1.0))
        matches = [i for i in instances if i.gpu == key and i.gpu_count == gpus]
        if not matches:
            reasons.append(f"no instance with {gpus} × {key} selected")
            continue
        in_len, out_len = _length(before.get("input_len")), _length(before.get("output_len"))
        origin = str(after.get("projected_from") or before.get("gpu_name"))
        out.extend(_entry(before, i, in_len, out_len, slo, new / old, origin) for i in matches)
    if not out:
        reason = "; ".join(reasons) or "nothing to project"
        raise BadInput(f"--project {target}: no level could be projected ({reason})")
    return out
