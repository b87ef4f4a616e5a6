"""Compare's plain-text answer: the comparison blocks, the frontier's Pareto points and the SLO
answer, cheapest first."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from harness.analysis.frontier import MAX_TEXT_POINTS
from harness.analysis.slo_choice import SloAnswer, describe_targets
from harness.analysis.work import choice_label, describe_signature, work_signature
from harness.money.units import display_scale, primary_unit
from harness.render.terminal import Column, TextTable, render_text
from harness.report import format as fmt
from harness.slo import Slo

if TYPE_CHECKING:
    import pandas as pd

    from harness.analysis.compare import Comparison


ANSWER_ROWS = 5
"""Choices shown per workload in compare's default answer (`-v` shows every one)."""


def _best_per_choice(frame: pd.DataFrame) -> pd.DataFrame:
    """Per run × instance × plan, its cheapest batch size, cheapest first."""
    ordered = frame.sort_values(["cost_per_unit_usd", "run_id", "provider", "instance"],
                                kind="stable")  # fmt: skip
    return ordered.drop_duplicates(["run_id", "provider", "instance", "plan"])


def format_answer(comparison: Comparison, width: int | None) -> str:
    """The answer first: per work (group) and its primary unit, a line naming the cheapest run,
    instance and plan and how much cheaper it is than the best of every other run; then a table
    of the cheapest choices fitted to `width`. `-v` prints `format_table` instead."""
    frame = comparison.rows[comparison.rows["cost_per_unit_usd"].notna()]

    def draw(screen: Any) -> None:
        for (group, workload), block in frame.groupby(["group", "workload"], sort=False):
            unit = primary_unit(str(workload)) or str(block["unit"].iloc[0])
            rows = block[block["unit"] == unit]
            if rows.empty:
                rows = block[block["unit"] == block["unit"].iloc[0]]
                unit = str(rows["unit"].iloc[0])
            util = rows["utilization"].max()
            best = _best_per_choice(rows[rows["utilization"] == util])
            scale, unit_name = display_scale(str(workload), unit)
            top = best.iloc[0]
            line = (f"{workload} ({group}): cheapest {choice_label(top)}, run {top['run_id']}, "
                    f"batch {top['batch_size']:g}: {fmt.usd(top['cost_per_unit_usd'] * scale)} "
                    f"per {unit_name}")  # fmt: skip
            others = best[best["run_id"] != top["run_id"]].drop_duplicates("run_id")
            for other in others.to_dict("records"):
                ratio = other["cost_per_unit_usd"] / top["cost_per_unit_usd"]
                line += (f"; run {other['run_id']}'s best ({choice_label(other)}) costs "
                         f"{fmt.ratio(ratio)} as much")  # fmt: skip
            screen.line(line + ".")
            table = TextTable(
                f"{workload}: USD per {unit_name}, utilization {util:.0%}, "
                f"{min(ANSWER_ROWS, len(best))} cheapest of {len(best)}",
                [Column("cost", align="right"), Column("×cheapest", align="right"),
                 Column("instance · plan", shorten=True, min_width=20),
                 Column("run", shorten=True, drop=3, min_width=13, cut_middle=True),
                 Column("batch", align="right", drop=4), Column("gpu", drop=5),
                 Column("MFU", align="right", drop=7), Column("MBU", align="right", drop=6)],
            )  # fmt: skip
            for r in best.head(ANSWER_ROWS).to_dict("records"):
                table.add_row(
                    fmt.usd(r["cost_per_unit_usd"] * scale),
                    fmt.ratio(r["ratio_to_cheapest"]),
                    choice_label(r),
                    str(r["run_id"]),
                    f"{r['batch_size']:g}",
                    str(r["gpu"]),
                    fmt.percent(r["mfu"]),
                    fmt.percent(r["mbu"]),
                )
            screen.table(table)
        screen.line("(projected) rows are estimates. -v shows every batch size, unit and "
                    "choice.")  # fmt: skip

    return render_text(draw, width)


def format_table(comparison: Comparison) -> str:
    """Plain-text blocks, one per group × batch size × unit × utilisation, cheapest first."""
    lines: list[str] = []
    frame = comparison.rows
    headers = ("cost", "×cheapest", "gpu", "instance · plan", "run", "MFU", "MBU")
    current = None
    for (group, batch, unit, util), block in frame.groupby(
        ["group", "batch_size", "unit", "utilization"], sort=False
    ):
        first = block.iloc[0]
        scale, unit_name = display_scale(first["workload"], unit)
        if group != current:
            signature = describe_signature(work_signature(first))
            runs = ", ".join(dict.fromkeys(frame.loc[frame["group"] == group, "run_id"]))
            lines += [f"{group} · {first['workload']} · {signature}", f"  runs: {runs}", ""]
            current = group
        lines.append(f"  batch {batch:g} · USD per {unit_name} · utilization {util:.0%}")
        cells = [
            (
                fmt.usd(r["cost_per_unit_usd"] * scale),
                fmt.ratio(r["ratio_to_cheapest"]) + (" ★" if r["cheapest"] else ""),
                str(r["gpu"]),
                choice_label(r),
                str(r["run_id"]),
                fmt.percent(r["mfu"]),
                fmt.percent(r["mbu"]),
            )
            for r in block.to_dict("records")
        ]
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
        for row in (headers, *cells):
            lines.append("    " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        lines.append("")
    lines.append("★ cheapest choice for that batch size and unit; (projected) rows are estimates.")
    return "\n".join(lines)


def format_frontier(points: pd.DataFrame) -> str:
    """Compare's text section: per work, utilisation and axis, the Pareto points, cheapest first."""
    if points.empty:
        return ""
    lines = [
        "Cost–interactivity frontier: the Pareto points (no other choice is both as cheap and "
        "as interactive); one curve per instance, plan and run"
    ]
    keys = ["workload", "work", "utilization", "axis"]
    works = points.groupby("workload", sort=False)["work"].nunique()
    for (workload, work, util, _), block in points.groupby(keys, sort=False):
        first = block.iloc[0]
        scale, unit_name = display_scale(str(workload), str(first["unit"]))
        on = block[block["pareto"].astype(bool)].sort_values("cost_per_unit_usd", kind="stable")
        # The work is named only where one workload has several.
        title = f"{workload} · {work}" if works[workload] > 1 else str(workload)
        lines += [
            "",
            f"  {title} · utilization {float(util):.0%}",
            f"  USD per {unit_name} vs {first['axis_label']}, {first['better']} is better: "
            f"{len(on)} Pareto point{'s' if len(on) != 1 else ''} of {len(block)}",
        ]
        cells = [
            (fmt.usd(r["cost_per_unit_usd"] * scale), fmt.sig(r["value"]),
             choice_label(r), str(r["run_id"]), str(r["level"]))
            for r in on.head(MAX_TEXT_POINTS).to_dict("records")
        ]  # fmt: skip
        headers = ("cost", str(first["axis_label"]), "instance · plan", "run", "level")
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
        for row in (headers, *cells):
            lines.append("    " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        if len(on) > MAX_TEXT_POINTS:
            lines.append(f"    … {len(on) - MAX_TEXT_POINTS} more in --format json")
    return "\n".join(lines)


def _values(values: Mapping[str, float | None]) -> str:
    return ", ".join(f"{name} {_seconds(v)}" for name, v in values.items())


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g} s"


def _where(record: Mapping[str, Any]) -> str:
    return f"run {record['run_id']}, {record['level']}"


def answer_lines(answer: SloAnswer, slo: Slo, several_works: bool) -> list[str]:
    """The plain-text answer: what meets the SLO, its cost and margin, or that nothing does."""
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
    if choice.get("client_bound"):
        lines.append(
            "  ! client-bound: the load generator was the limit at this level (the only one "
            "that meets it); measure again with more --workers"
        )
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
            m["gross_margin"], m.get("gross_margin_low"), m.get("gross_margin_high")
        )
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
