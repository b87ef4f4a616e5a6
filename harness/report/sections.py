"""The report of one or more runs: machine and settings, then per workload its tables and plots.

Costs come from the money layer (`unit_costs` on the instances that carry the run's GPU, or the
ones named), margins from `apply_prices` at the candidate prices (market prices unless given).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.report import format as fmt
from harness.report.document import Block, Document, Note, Section, Table
from harness.report.figures import (
    cost_blocks,
    efficiency_blocks,
    energy_blocks,
    has_section,
    latency_blocks,
    margin_blocks,
    primary_throughput,
    timeline_blocks,
)

if TYPE_CHECKING:
    import pandas as pd

    from harness.money import CandidatePrice, Instance
    from harness.results.runs import RunRecord


@dataclass(frozen=True)
class ReportOptions:
    instances: tuple[Instance, ...]
    prices: tuple[CandidatePrice, ...]
    gpu_key: str | None = None
    """Price and roofline as this GPU (a canonical key) instead of the one the run names."""
    plans: tuple[str, ...] | None = None
    utilization: float = 1.0


def build_report(runs: Sequence[RunRecord], options: ReportOptions) -> Document:
    sections: list[Section] = []
    for run in runs:
        sections += run_sections(run, options)
    return Document(f"gpucost report: {', '.join(r.run_id for r in runs)}", tuple(sections))


def run_sections(run: RunRecord, options: ReportOptions) -> list[Section]:
    from harness.analysis.compare import matched_unit_costs
    from harness.analysis.roofline import efficiency

    rows = efficiency(run.measurements, run.meta, options.gpu_key)
    ok = rows[rows["status"] == "ok"]
    costs = matched_unit_costs(
        ok, options.instances, options.plans, (options.utilization,), options.gpu_key
    )
    sections = [Section(f"Run {run.run_id}", (machine_table(run.meta), settings_table(run.meta)))]
    for workload in dict.fromkeys(rows["workload"]):
        part = rows[rows["workload"] == workload]
        sections.append(
            Section(
                _workload_title(workload, part),
                workload_blocks(run, str(workload), part, costs, options),
                level=3,
            )
        )
    sections.append(
        Section(
            f"Power, utilisation and clock timeline ({run.run_id})",
            timeline_blocks(run.path / "samples.csv", _stem(run.run_id)),
            level=3,
        )
    )
    return sections


def workload_blocks(
    run: RunRecord,
    workload: str,
    rows: pd.DataFrame,
    costs: pd.DataFrame,
    options: ReportOptions,
) -> tuple[Block, ...]:
    stem = _stem(f"{run.run_id}-{workload}")
    ok = rows[rows["status"] == "ok"].sort_values("batch_size")
    blocks: list[Block] = [measurement_table(workload, rows)]
    if ok.empty:
        blocks.append(Note("No batch size finished (status ok): nothing to plot or price."))
        return tuple(blocks)
    mine = costs[costs["workload"] == workload]
    blocks += latency_blocks(workload, ok, stem)
    blocks += energy_blocks(workload, ok, stem)
    blocks += efficiency_blocks(workload, ok, stem)
    blocks += cost_blocks(workload, mine, stem, _gpu_label(ok, options))
    prices = [p for p in options.prices if p.workload == workload]
    blocks += margin_blocks(workload, mine, prices, stem)
    return tuple(blocks)


def _workload_title(workload: str, rows: pd.DataFrame) -> str:
    first = rows.iloc[0]
    parts = [str(workload), f"preset {fmt.text(first.get('preset'))}"]
    model = fmt.text(first.get("model"))
    if model not in (fmt.EMPTY, fmt.text(first.get("preset"))):
        parts.append(f"model {model}")
    parts.append(fmt.text(first.get("dtype")))
    return " · ".join(parts)


def _gpu_label(rows: pd.DataFrame, options: ReportOptions) -> str:
    from harness.money import CPU_ONLY

    keys = (
        [options.gpu_key] if options.gpu_key else sorted({str(k) for k in rows["gpu_key"].dropna()})
    )
    names = ["CPU-only instances" if k == CPU_ONLY else k for k in keys]
    return ", ".join(names) or "an unknown GPU"


def measurement_table(workload: str, rows: pd.DataFrame) -> Table:
    records = rows.sort_values("batch_size").to_dict("records")
    throughput = primary_throughput(workload, rows.sort_values("batch_size"))
    label = "throughput"
    if throughput is not None:
        label = throughput[0]
        for record, value in zip(records, throughput[1].tolist(), strict=True):
            record["_throughput"] = value
    columns: list[fmt.Column] = [
        ("batch", "batch_size", fmt.sig),
        ("status", "status", fmt.text),
        ("wall p50", "wall_s_p50", fmt.seconds),
        ("wall p99", "wall_s_p99", fmt.seconds),
        ("cv", "wall_s_cv", fmt.percent),
        (label, "_throughput", fmt.sig),
    ]
    if has_section(workload, "ttft_tpot"):
        columns += [
            ("TTFT p50", "ttft_s_p50", fmt.seconds),
            ("TPOT p50", "tpot_s_p50", fmt.seconds),
        ]
    columns += [
        ("energy J/batch", "energy_j", fmt.sig),
        ("avg power W", "avg_power_w", fmt.sig),
        ("peak memory", "peak_mem_allocated_bytes", fmt.data_size),
        ("MFU", "mfu", fmt.percent),
        ("MBU", "mbu", fmt.percent),
        ("bound", "bound", fmt.text),
        ("ceiling", "ceiling_source", fmt.text),
        ("error", "error", fmt.text),
    ]
    return fmt.table(f"Measurements: {workload}", records, columns)


def machine_table(meta: Mapping[str, Any]) -> Table:
    from harness.money import canonical_gpu

    device = meta.get("device") or {}
    pairs: list[tuple[str, Any]] = [
        ("run id", meta.get("run_id")),
        ("status", meta.get("status")),
        ("created", meta.get("created_at")),
        ("finished", meta.get("finished_at")),
        ("gpucost version", meta.get("gpucost_version")),
        ("command", " ".join(str(c) for c in meta.get("command") or [])),
    ]
    pairs += _flat("host", meta.get("host"))
    pairs += _flat("device", device)
    if isinstance(device, Mapping) and device.get("gpu_name"):
        pairs.append(("GPU key", canonical_gpu(device.get("gpu_name")) or "not in the rate cards"))
    pairs += _flat("library", meta.get("libraries"))
    pairs.append(("idle power W", meta.get("idle_power_w")))
    calibration = meta.get("calibration")
    if isinstance(calibration, Mapping):
        pairs += [
            ("measured matmul TFLOP/s", calibration.get("matmul_tflops")),
            ("measured copy bytes/s", calibration.get("copy_bytes_per_s")),
        ]
    else:
        pairs.append(("ceilings", "datasheet (run `gpucost calibrate --run` to measure them)"))
    return _pairs_table("Machine", pairs)


def settings_table(meta: Mapping[str, Any]) -> Table:
    config = dict(meta.get("config") or {})
    workloads = config.pop("workloads", None) or []
    pairs = _flat("config", config)
    for entry in workloads if isinstance(workloads, list) else []:
        if isinstance(entry, Mapping):
            name = entry.get("name", "?")
            pairs.append((f"workload {name}", json.dumps(entry, sort_keys=True, default=str)))
    return _pairs_table("Settings", pairs)


def _flat(prefix: str, data: Any) -> list[tuple[str, Any]]:
    if not isinstance(data, Mapping):
        return []
    return [
        (f"{prefix} {k}", json.dumps(v, default=str) if isinstance(v, (dict, list)) else v)
        for k, v in data.items()
    ]


def _pairs_table(caption: str, pairs: list[tuple[str, Any]]) -> Table:
    rows = tuple((str(k), fmt.text(v)) for k, v in pairs)
    return Table(caption, ("what", "value"), rows)


def _stem(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text)[:80]
