"""The report of one or more runs: the answer first (per workload the cheapest instance and
plan, its cost per unit, margin and break-even), then per workload its tables and plots, and the
machine and settings (host metadata, raw configuration) at the end.

Costs come from the money layer (`unit_costs` on the instances that carry the run's GPU, or the
ones named), margins from `apply_prices` at the candidate prices (market prices unless given).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.analysis.frontier import frontier_points, level_costs
from harness.analysis.roofline import efficiency
from harness.analysis.row_costs import matched_unit_costs
from harness.analysis.work import choice_label
from harness.credentials import redact, redact_argv
from harness.gpus import CPU_ONLY, canonical_gpu
from harness.money import apply_prices
from harness.money.caveats import run_caveats
from harness.money.context import PricingContext
from harness.money.units import display_scale
from harness.report import format as fmt
from harness.report.document import Block, Document, Note, Section, Table
from harness.report.figures import (
    cost_blocks,
    efficiency_blocks,
    energy_blocks,
    frontier_blocks,
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

    @property
    def pricing(self) -> PricingContext:
        return PricingContext(self.instances, self.plans, (self.utilization,), self.gpu_key)


def build_report(runs: Sequence[RunRecord], options: ReportOptions) -> Document:
    answers: list[Section] = []
    bodies: list[Section] = []
    metadata: list[Section] = []
    caveats: list[str] = []
    for run in runs:
        answer, body, meta, notes = run_sections(run, options, named=len(runs) > 1)
        answers.append(answer)
        bodies += body
        metadata.append(meta)
        caveats += notes
    title = f"gpucost report: {', '.join(r.run_id for r in runs)}"
    return Document(title, (*answers, *bodies, *metadata), tuple(dict.fromkeys(caveats)))


def run_sections(
    run: RunRecord, options: ReportOptions, named: bool = True
) -> tuple[Section, list[Section], Section, list[str]]:
    """(the answer, the per-workload sections and timeline, the machine and settings, the
    caveats of what the answer shows). `named`: headings name the run (a page of several);
    a page of one names it once, in its title."""
    rows = efficiency(run.measurements, run.meta, options.gpu_key)
    ok = rows[rows["status"] == "ok"]
    costs = matched_unit_costs(ok, options.pricing)
    workloads = [str(w) for w in dict.fromkeys(rows["workload"])]
    of_run = f": run {run.run_id}" if named else ""
    answer = Section(f"Answer{of_run}", answer_blocks(workloads, costs, options))
    caveats = [str(n) for n in run_caveats(ok, _answer_instances(costs, options), options.gpu_key)]
    sections = [Section(f"Details{of_run}", (), collapsed=True)]
    for workload in workloads:
        part = rows[rows["workload"] == workload]
        sections.append(
            Section(
                _workload_title(workload, part),
                workload_blocks(run, workload, part, costs, options),
                level=3,
                collapsed=True,
            )
        )
    sections.append(
        Section(
            f"Power, utilisation and clock timeline ({run.run_id})",
            timeline_blocks(run.path / "samples.csv", _stem(run.run_id)),
            level=3,
            collapsed=True,
        )
    )
    meta = Section(
        f"Machine and settings{of_run}",
        (machine_table(run.meta), settings_table(run.meta)),
        collapsed=True,
    )
    return answer, sections, meta, caveats


def _answer_instances(costs: pd.DataFrame, options: ReportOptions) -> list[Instance]:
    """The instances the answer names: the cheapest per workload and unit."""
    priced = costs[costs["cost_per_unit_usd"].notna()]
    if priced.empty:
        return []
    cheapest = priced.loc[priced.groupby(["workload", "unit"])["cost_per_unit_usd"].idxmin()]
    keys = {f"{p}:{i}" for p, i in zip(cheapest["provider"], cheapest["instance"], strict=True)}
    return [i for i in options.instances if i.key in keys]


def answer_blocks(
    workloads: Sequence[str], costs: pd.DataFrame, options: ReportOptions
) -> tuple[Block, ...]:
    """Per workload and unit: the cheapest instance, plan and batch size over the whole run,
    its cost per unit, and the margin and break-even price at each candidate price."""
    priced_costs = costs[costs["cost_per_unit_usd"].notna()]
    records: list[dict[str, Any]] = []
    unpriced = [w for w in workloads if w not in set(priced_costs["workload"])]
    if not priced_costs.empty:
        cheapest = priced_costs.loc[
            priced_costs.groupby(["workload", "unit"], sort=False)["cost_per_unit_usd"].idxmin()
        ]
        order = {w: i for i, w in enumerate(workloads)}
        priced = apply_prices(cheapest, options.prices)
        priced = priced.assign(_order=priced["workload"].map(order)).sort_values(
            ["_order", "unit"], kind="stable"
        )
        for r in priced.to_dict("records"):
            scale, unit_name = display_scale(str(r["workload"]), str(r["unit"]))
            records.append(
                {
                    **r,
                    "_unit": unit_name,
                    "_choice": choice_label(r),
                    "_batch": fmt.flagged(r["batch_size"], r.get("unstable")),
                    "_cost": r["cost_per_unit_usd"] * scale,
                    "_cost_range": fmt.usd_range(
                        r.get("cost_per_unit_usd_low"), r.get("cost_per_unit_usd_high"), scale
                    ),
                    "_price": r["price_per_unit_usd"] * scale,
                    "_margin": fmt.margin_range_text(
                        r["gross_margin"], r.get("gross_margin_low"), r.get("gross_margin_high")
                    ),
                    "_break_even": r["break_even_price_usd"] * scale,
                }
            )
    blocks: list[Block] = [
        fmt.without_empty_columns(
            fmt.table(
                "Cheapest instance and plan per workload, margin at the candidate price",
                records,
                [
                    ("workload", "workload", fmt.text),
                    ("unit", "_unit", fmt.text),
                    ("cheapest instance and plan", "_choice", fmt.text),
                    ("at batch", "_batch", fmt.text),
                    ("cost, USD per unit", "_cost", fmt.usd),
                    ("candidate price", "price_label", fmt.text),
                    ("price, USD per unit", "_price", fmt.quote),
                    ("margin (95 % interval)", "_margin", fmt.text),
                    ("break-even, USD per unit", "_break_even", fmt.usd),
                    ("cost, 95 % interval", "_cost_range", fmt.text),
                ],
            )
        )
    ]
    if any(fmt.is_unstable(r.get("unstable")) for r in records):
        blocks.append(Note(fmt.UNSTABLE_NOTE))
    if unpriced:
        blocks.append(
            Note(
                f"Not priced: {', '.join(unpriced)} (no batch size finished, or no rate-card "
                "instance carries its GPU; see its section)."
            )
        )
    return tuple(blocks)


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
    blocks += _frontier(workload, ok, options, stem)
    return tuple(blocks)


def _frontier(workload: str, ok: pd.DataFrame, options: ReportOptions, stem: str) -> list[Block]:
    """Cost against interactivity, Pareto points marked, for a workload whose spec has axes."""
    if len(ok) < 2 or not options.instances:
        return []
    levels = level_costs(ok, options.pricing)
    return frontier_blocks(workload, frontier_points(levels), stem)


def _workload_title(workload: str, rows: pd.DataFrame) -> str:
    first = rows.iloc[0]
    parts = [str(workload), f"preset {fmt.text(first.get('preset'))}"]
    model = fmt.text(first.get("model"))
    if model not in (fmt.EMPTY, fmt.text(first.get("preset"))):
        parts.append(f"model {model}")
    parts.append(fmt.text(first.get("dtype")))
    return " · ".join(parts)


def _gpu_label(rows: pd.DataFrame, options: ReportOptions) -> str:
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

    device = meta.get("device") or {}
    pairs: list[tuple[str, Any]] = [
        ("run id", meta.get("run_id")),
        ("status", meta.get("status")),
        ("created", meta.get("created_at")),
        ("finished", meta.get("finished_at")),
        ("gpucost version", meta.get("gpucost_version")),
        ("command", " ".join(redact_argv([str(c) for c in meta.get("command") or []]))),
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
    pairs = []
    for k, v in data.items():
        v = _masked(v)
        pairs.append(
            (f"{prefix} {k}", json.dumps(v, default=str) if isinstance(v, (dict, list)) else v)
        )
    return pairs


def _pairs_table(caption: str, pairs: list[tuple[str, Any]]) -> Table:
    rows = tuple((str(k), fmt.text(_masked(v))) for k, v in pairs)
    return Table(caption, ("what", "value"), rows)


def _masked(value: Any) -> Any:
    """A run folder written before credentials were masked on the way in may still hold one."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return redact_argv(value)
    return value


def _stem(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text)[:80]
