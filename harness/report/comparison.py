"""The page `gpucost compare -o FILE` writes: per group of comparable runs, cost vs batch size by
GPU; then per workload the cost–interactivity frontier."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from harness.analysis.work import choice_label, describe_signature, work_signature
from harness.gpus import canonical_gpu
from harness.money.units import display_scale
from harness.report import format as fmt
from harness.report.document import Block, Document, Note, Section, Table
from harness.report.figures import frontier_blocks
from harness.report.plots import Panel, Series, panels_figure

if TYPE_CHECKING:
    import pandas as pd

    from harness.analysis.compare import Comparison
    from harness.results.runs import RunRecord


def comparison_document(comparison: Comparison, runs: Sequence[RunRecord]) -> Document:
    intro: list[Block] = [runs_table(runs)]
    intro += [Note(str(text)) for text in (*comparison.kept_apart, *comparison.notes)]
    intro.append(
        Note(
            "Rows marked (projected) are estimates scaled from another GPU by roofline "
            "bounds, not measurements."
        )
    )
    sections = [Section("Runs", tuple(intro))]
    for group, rows in comparison.rows.groupby("group", sort=False):
        first = rows.iloc[0]
        title = f"{group} · {first['workload']} · {describe_signature(work_signature(first))}"
        sections.append(Section(title, group_blocks(str(group), rows)))
    sections += frontier_sections(comparison.frontier)
    names = ", ".join(dict.fromkeys(r.run_id for r in runs))
    return Document(f"gpucost compare: {names}", tuple(sections))


def frontier_sections(points: pd.DataFrame | None) -> list[Section]:
    """A section per workload with a cost–interactivity frontier."""
    if points is None or points.empty:
        return []
    sections = []
    for workload in dict.fromkeys(str(w) for w in points["workload"]):
        stem = "frontier-" + re.sub(r"[^A-Za-z0-9_-]+", "_", workload)
        blocks = frontier_blocks(workload, points, stem)
        if blocks:
            sections.append(Section(f"Cost–interactivity frontier · {workload}", tuple(blocks)))
    return sections


def runs_table(runs: Sequence[RunRecord]) -> Table:

    records = []
    for run in runs:
        device = run.meta.get("device") or {}
        host = run.meta.get("host") or {}
        records.append(
            {
                "run": run.run_id,
                "gpu": device.get("gpu_name") or "CPU",
                "key": canonical_gpu(device.get("gpu_name")),
                "host": host.get("hostname"),
                "created": run.meta.get("created_at"),
                "calibrated": "yes" if run.meta.get("calibration") else "no",
            }
        )
    columns: list[fmt.Column] = [
        ("run", "run", fmt.text),
        ("GPU", "gpu", fmt.text),
        ("key", "key", fmt.text),
        ("host", "host", fmt.text),
        ("created", "created", fmt.text),
        ("calibrated", "calibrated", fmt.text),
    ]
    return fmt.table("Runs compared", records, columns)


def group_blocks(group: str, rows: pd.DataFrame) -> tuple[Block, ...]:
    blocks: list[Block] = []
    workload = str(rows.iloc[0]["workload"])
    rows = rows.assign(_line=[_line_label(r) for r in rows.to_dict("records")])
    for unit, part in rows.groupby("unit", sort=False):
        scale, unit_name = display_scale(workload, str(unit))
        for util, at_util in part.groupby("utilization", sort=False):
            best = at_util.loc[
                at_util.groupby(["batch_size", "_line"])["cost_per_unit_usd"].idxmin()
            ]
            series = tuple(
                Series(
                    str(line),
                    tuple(float(b) for b in line_rows["batch_size"]),
                    tuple(float(c) * scale for c in line_rows["cost_per_unit_usd"]),
                    "--o" if line_rows["projected"].any() else "-o",
                )
                for line, line_rows in best.sort_values("batch_size").groupby("_line", sort=False)
            )
            title = f"USD per {unit_name}, utilization {float(util):.0%}"
            blocks.append(
                panels_figure(
                    f"{group}-{unit}-{float(util):g}".replace(".", "_"),
                    f"{workload}: cheapest instance and plan per GPU vs batch size (dashed: projected)",
                    [Panel(title, "USD", series, log_y=True)],
                )
            )
            records = [
                {
                    **r,
                    "_cost": r["cost_per_unit_usd"] * scale,
                    "_choice": choice_label(r),
                    "_best": "★" if r["cheapest"] else "",
                }
                for r in best.sort_values(["batch_size", "cost_per_unit_usd"]).to_dict("records")
            ]
            blocks.append(
                fmt.table(
                    f"{workload}.{unit}: cheapest choice per GPU and batch size (utilization "
                    f"{float(util):.0%}; every choice is in --format csv)",
                    records,
                    [
                        ("batch", "batch_size", fmt.sig),
                        ("", "_best", fmt.text),
                        ("USD per " + unit_name, "_cost", fmt.usd),
                        ("× cheapest", "ratio_to_cheapest", fmt.ratio),
                        ("GPU", "gpu", fmt.text),
                        ("instance · plan", "_choice", fmt.text),
                        ("run", "run_id", fmt.text),
                        ("MFU", "mfu", fmt.percent),
                        ("MBU", "mbu", fmt.percent),
                    ],
                )
            )
    return tuple(blocks)


def _line_label(row: dict) -> str:
    label = f"{row['gpu']} ({row['run_id']})"
    return f"{label} (projected)" if row.get("projected") else label
