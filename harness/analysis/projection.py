"""Projection: a measured row estimated on a GPU that was not measured (clearly an estimate).

Each phase (text: prefill and decode; other workloads: the whole batch) keeps the efficiency it
had. A phase whose FLOPs per byte reach the measured GPU's ridge point (datasheet FLOP/s ÷
bandwidth, in the row's dtype) is compute-bound, and its time scales by the ratio of datasheet
FLOP/s; any other phase is memory-bound and scales by the ratio of memory bandwidth:

    t_target = t_measured × peak_measured / peak_target      (the bounding resource's peaks)

Host time outside the phases (wall − prefill − decode: tokenising, launches) is kept as it was.
Energy, power, clocks and other readings are left empty: only a run on the target can give them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from harness.analysis.roofline import Ceiling, Work, bound_of, number, roofline_formula, utilisation
from harness.errors import BadInput
from harness.gpus import Gpu, datasheet_keys, gpu_spec

if TYPE_CHECKING:
    import pandas as pd


PROJECTION_CLEARED = (
    "energy_j",
    "avg_power_w",
    "idle_power_w",
    "gpu_util_mean",
    "throttled",
    "energy_method",
    "nvml_mem_used_bytes_max",
    "sm_clock_mhz_mean",
    "temperature_c_max",
    "power_limit_w",
)
"""Readings that only a run on the target GPU can give: empty in projected rows."""

WALL_SCALED = ("wall_s_mean", "wall_s_p50", "wall_s_p90", "wall_s_p99", "gpu_s_p50", "gpu_s_mean")
TEXT_PHASE_COLUMNS = {
    "prefill_s_p50": "prefill",
    "ttft_s_p50": "prefill",
    "decode_s_p50": "decode",
    "tpot_s_p50": "decode",
}


def project(rows: pd.DataFrame, target_key: str) -> tuple[pd.DataFrame, list[str]]:
    """Estimate measured rows (with efficiency columns) on the GPU `target_key` (an estimate).

    Each phase (text: prefill and decode; others: the whole batch) keeps the efficiency it had:
    a phase whose FLOPs per byte reach the measured GPU's ridge point is compute-bound and its
    time scales by the ratio of datasheet FLOP/s, any other by the ratio of memory bandwidth.
    Host time outside the phases (wall − prefill − decode) is kept as it was. Energy and other
    readings are left empty. Rows that do not fit the target's memory, or have no model FLOPs,
    are left out with a note. Returns (projected rows, notes); projected rows carry
    `projected=True`, `projected_from` and `projection_bound`.
    """
    import pandas as pd

    target = gpu_spec(target_key)
    if target is None:
        raise BadInput(
            f"--project {target_key!r}: no datasheet figures for this GPU "
            f"(known: {', '.join(datasheet_keys())})"
        )
    out: list[dict[str, Any]] = []
    notes: list[str] = []
    for row in rows.to_dict("records"):
        projected, note = _project_row(row, target)
        if note:
            notes.append(
                f"{row.get('run_id')} {row.get('workload')} batch {row.get('batch_size')}: {note}"
            )
        if projected is not None:
            out.append(projected)
    return pd.DataFrame.from_records(
        out, columns=[*rows.columns, "projected", "projected_from", "projection_bound"]
    ), notes


def _project_row(row: dict[str, Any], target: Gpu) -> tuple[dict[str, Any] | None, str | None]:
    if row.get("status") != "ok":
        return None, None
    source = gpu_spec(row.get("gpu_key"))
    if source is None:
        return None, "not measured on a GPU with datasheet figures: nothing to scale from"
    if source.key == target.key:
        return None, f"already measured on {target.key}"
    dtype = str(row.get("dtype"))
    src_flops, tgt_flops = source.peak_flops_per_s(dtype), target.peak_flops_per_s(dtype)
    if src_flops is None or tgt_flops is None:
        lacking = source.key if src_flops is None else target.key
        return None, f"{lacking} has no {dtype} rate to scale by"
    need = number(row.get("peak_mem_reserved_bytes")) or number(row.get("peak_mem_allocated_bytes"))
    if need is not None and need > target.memory_bytes:
        return (
            None,
            f"needs {need / 2**30:.1f} GiB, {target.key} has {target.memory_bytes / 2**30:.0f} GiB",
        )
    split = roofline_formula(str(row.get("workload"))) == "decoder"
    names = ("prefill", "decode") if split else ("batch",)
    ratios: dict[str, float] = {}
    bounds: dict[str, str] = {}
    for name in names:
        flops, nbytes = _phase_work(row, name)
        if flops is None or not nbytes:
            return None, "no model FLOPs for this row: cannot tell what bounds it"
        compute = flops / nbytes >= src_flops / source.memory_bw_bytes_per_s
        bounds[name] = "compute" if compute else "memory"
        ratios[name] = (
            src_flops / tgt_flops
            if compute
            else source.memory_bw_bytes_per_s / target.memory_bw_bytes_per_s
        )
    wall = number(row.get("wall_s_p50"))
    if wall is None or wall <= 0:
        return None, "no wall time"
    new = dict(row)
    scale = ratios["batch"] if "batch" in ratios else _text_wall_scale(row, wall, ratios)
    if scale is None:
        return None, "no prefill/decode times to scale"
    for column, value in row.items():
        measured = number(value)
        phase = TEXT_PHASE_COLUMNS.get(column)
        if measured is None:
            continue
        if phase in ratios:
            new[column] = measured * ratios[phase]
        elif column in WALL_SCALED or column.endswith("_s_p50"):
            new[column] = measured * scale
    for column in PROJECTION_CLEARED:
        new[column] = None
    new_wall = wall * scale
    ceiling = Ceiling(tgt_flops, target.memory_bw_bytes_per_s, "datasheet")
    total = Work(float(row["model_flops"]), float(row["min_bytes"]))
    new.update(
        gpu_name=target.key,
        gpu_key=target.key,
        peak_flops_per_s=tgt_flops,
        peak_bytes_per_s=ceiling.bytes_per_s,
        ceiling_source="datasheet",
        bound=bound_of(total, tgt_flops, ceiling.bytes_per_s),
    )
    new["mfu"], new["mbu"] = utilisation(total, new_wall, ceiling)
    for name in ("prefill", "decode"):
        if name in ratios:
            flops, nbytes = _phase_work(row, name)
            seconds = number(new.get(f"{name}_s_p50"))
            new[f"{name}_mfu"], new[f"{name}_mbu"] = utilisation(
                Work(flops, nbytes), seconds, ceiling
            )
    distinct = set(bounds.values())
    new.update(
        projected=True,
        projected_from=source.key,
        projection_bound=distinct.pop()
        if len(distinct) == 1
        else ", ".join(f"{n} {b}" for n, b in bounds.items()),
    )
    return new, None


def _text_wall_scale(
    row: Mapping[str, Any], wall: float, ratios: Mapping[str, float]
) -> float | None:
    """New wall time / old: phases scaled, host time outside them (tokenising, launches) kept."""
    prefill, decode = number(row.get("prefill_s_p50")), number(row.get("decode_s_p50"))
    if prefill is None or decode is None:
        return None
    host = max(wall - prefill - decode, 0.0)
    return (prefill * ratios["prefill"] + decode * ratios["decode"] + host) / wall


def _phase_work(row: Mapping[str, Any], name: str) -> tuple[float | None, float | None]:
    if name == "batch":
        return number(row.get("model_flops")), number(row.get("min_bytes"))
    return number(row.get(f"{name}_flops")), number(row.get(f"{name}_bytes"))
