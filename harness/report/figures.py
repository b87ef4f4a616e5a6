"""The blocks of one workload's report: each plot with its table, or a note saying why not."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.analysis.work import choice_label
from harness.money import apply_prices
from harness.money.units import display_scale, workload_spec
from harness.report import format as fmt
from harness.report.document import Block, Note
from harness.report.plots import (
    FrontierPanel,
    MarginCurve,
    MarginPanel,
    Panel,
    Series,
    frontier_figure,
    margin_figure,
    panels_figure,
    timeline_figure,
)

if TYPE_CHECKING:
    import pandas as pd

    from harness.money import CandidatePrice
    from workloads.spec import UnitSpec

MAX_COST_LINES = 8
"""Cost plots show this many of the cheapest instance/plan choices; the table has them all."""


def _series(
    label: str, rows: pd.DataFrame, column: str, scale: float = 1.0, style: str = "-o"
) -> Series | None:
    import pandas as pd

    rows = rows.sort_values("batch_size")
    values = pd.to_numeric(rows[column], errors="coerce") * scale if column in rows else None
    if values is None or values.notna().sum() == 0:
        return None
    keep = values.notna()
    x = tuple(float(b) for b in rows["batch_size"][keep])
    return Series(label, x, tuple(float(v) for v in values[keep]), style)


def _present(*series: Series | None) -> tuple[Series, ...]:
    return tuple(s for s in series if s is not None)


def primary_spec(workload: str) -> UnitSpec | None:
    """The workload spec's primary unit, None for a workload without a spec."""
    spec = workload_spec(workload)
    return None if spec is None else spec.primary


def has_section(workload: str, section: str) -> bool:
    """Whether the workload's spec adds this optional report section (REPORT_SECTIONS)."""
    spec = workload_spec(workload)
    return spec is not None and section in spec.report_sections


def primary_throughput(workload: str, rows: pd.DataFrame) -> tuple[str, pd.Series] | None:
    """(label, units per second) of the workload's primary unit, from wall_s_p50."""
    spec = primary_spec(workload)
    if spec is None or spec.count_column not in rows:
        return None
    import pandas as pd

    count = pd.to_numeric(rows[spec.count_column], errors="coerce") / spec.count_divisor
    wall = pd.to_numeric(rows["wall_s_p50"], errors="coerce")
    return f"{spec.unit}/s", count / wall


def latency_blocks(workload: str, ok: pd.DataFrame, stem: str) -> list[Block]:
    panels = []
    throughput = primary_throughput(workload, ok)
    if throughput is not None:
        label, values = throughput
        frame = ok.assign(_throughput=values)
        panels.append(Panel("throughput", label, _present(_series(label, frame, "_throughput"))))
    # The unit the tables print these latencies in (fmt.seconds: ms below a second).
    import pandas as pd

    slowest = pd.to_numeric(ok.get("wall_s_p99", ok["wall_s_p50"]), errors="coerce").max()
    scale, unit = (1000.0, "ms") if not slowest >= 1 else (1.0, "s")
    panels.append(
        Panel(
            "latency per batch",
            unit,
            _present(
                _series("p50", ok, "wall_s_p50", scale),
                _series("p99", ok, "wall_s_p99", scale, style="--s"),
            ),
        )
    )
    blocks: list[Block] = [
        panels_figure(
            f"{stem}-latency",
            f"{workload}: throughput and latency vs batch size",
            [p for p in panels if p.series],
        )
    ]
    if has_section(workload, "ttft_tpot"):
        series = (
            Panel(
                "time to first token", "ms", _present(_series("TTFT p50", ok, "ttft_s_p50", 1000))
            ),
            Panel(
                "time per output token", "ms", _present(_series("TPOT p50", ok, "tpot_s_p50", 1000))
            ),
        )
        if all(p.series for p in series):
            blocks.append(
                panels_figure(
                    f"{stem}-ttft-tpot", "text: TTFT and TPOT (p50) vs batch size", series
                )
            )
        else:
            blocks.append(Note("TTFT/TPOT: not measured in this run."))
    return blocks


def energy_blocks(workload: str, ok: pd.DataFrame, stem: str) -> list[Block]:
    spec = primary_spec(workload)
    import pandas as pd

    energy = pd.to_numeric(ok.get("energy_j"), errors="coerce") if "energy_j" in ok else None
    if spec is None or energy is None or energy.notna().sum() == 0:
        return [
            Note(
                "Energy per unit: not measured (no energy readings in this run: a CPU run, "
                "or a GPU without an energy counter)."
            )
        ]
    count = pd.to_numeric(ok[spec.count_column], errors="coerce") / spec.count_divisor
    frame = ok.assign(_j_per_unit=energy / count)
    label = f"J per {spec.unit}"
    series = _present(_series(label, frame, "_j_per_unit"))
    return [
        panels_figure(
            f"{stem}-energy",
            f"{workload}: energy per {spec.unit} vs batch size (whole batch energy / units)",
            [Panel("energy per unit", label, series)],
        )
    ]


def efficiency_blocks(workload: str, ok: pd.DataFrame, stem: str) -> list[Block]:
    if ok["mfu"].notna().sum() == 0 and ok["mbu"].notna().sum() == 0:
        return [Note(f"MFU/MBU: empty ({_why_no_efficiency(ok)}).")]
    phases = [("whole iteration", "mfu", "mbu")]
    if has_section(workload, "phase_efficiency"):
        phases += [
            ("prefill", "prefill_mfu", "prefill_mbu"),
            ("decode", "decode_mfu", "decode_mbu"),
        ]
    panels = [
        Panel(
            "model FLOPs utilisation",
            "MFU (%)",
            _present(*(_series(name, ok, mfu, 100) for name, mfu, _ in phases)),
        ),
        Panel(
            "memory bandwidth utilisation",
            "MBU (%)",
            _present(*(_series(name, ok, mbu, 100) for name, _, mbu in phases)),
        ),
    ]
    source = (
        fmt.text(ok["ceiling_source"].dropna().iloc[0])
        if ok["ceiling_source"].notna().any()
        else "?"
    )
    caption = f"{workload}: roofline efficiency vs batch size (ceilings: {source})"
    return [panels_figure(f"{stem}-efficiency", caption, [p for p in panels if p.series])]


def _why_no_efficiency(ok: pd.DataFrame) -> str:
    if ok["model_flops"].isna().all():
        return "the shapes this workload records are not enough to count its FLOPs"
    if ok["device"].astype(str).str.startswith("cpu").all():
        return "measured on a CPU"
    return "no datasheet figures for this GPU; run `gpucost calibrate`"


def cost_blocks(workload: str, costs: pd.DataFrame, stem: str, gpu_label: str) -> list[Block]:
    costs = costs[costs["cost_per_unit_usd"].notna()]
    if costs.empty:
        return [
            Note(
                f"Cost per unit: no rate-card instance carries {gpu_label}. Name one with "
                "--instance, price as another GPU with --gpu, or add a card with --ratecard."
            )
        ]
    panels, records = [], []
    plotted = _plotted_unit(workload, costs)
    for unit, part in costs.groupby("unit", sort=False):
        scale, unit_name = display_scale(workload, str(unit))
        part = part.assign(_choice=part["provider"] + ":" + part["instance"] + " " + part["plan"])
        if unit == plotted:
            panels.append(_cost_panel(part, unit_name, scale))
        for batch, at in part.groupby("batch_size"):
            best = at.loc[at["cost_per_unit_usd"].idxmin()]
            records.append(
                {
                    "unit": unit_name,
                    "batch": fmt.flagged(batch, best.get("unstable")),
                    "choice": best["_choice"],
                    "cost": best["cost_per_unit_usd"] * scale,
                    "interval": fmt.usd_range(best.get("cost_per_unit_usd_low"),
                                              best.get("cost_per_unit_usd_high"), scale),
                    "worst": at["cost_per_unit_usd"].max() / best["cost_per_unit_usd"],
                    "choices": len(at),
                }
            )
    others = costs["unit"].nunique() - 1
    caption = (
        f"{workload}: cost per unit vs batch size on {gpu_label} (one line per instance and plan)"
        + (
            f"; the {others} other unit{'s' if others > 1 else ''} rank the choices the same way "
            "and are in the table"
            if others
            else ""
        )
    )
    table = fmt.table(
        f"Cheapest instance and plan per batch size: {workload}",
        records,
        [
            ("unit", "unit", fmt.text),
            ("batch", "batch", fmt.text),
            ("cheapest", "choice", fmt.text),
            ("USD per unit", "cost", fmt.usd),
            ("95 % interval", "interval", fmt.text),
            ("dearest ×", "worst", fmt.ratio),
            ("choices", "choices", fmt.sig),
        ],
    )
    return [panels_figure(f"{stem}-cost", caption, panels), table]


def _plotted_unit(workload: str, costs: pd.DataFrame) -> str:
    """The workload's primary unit when it was priced, else the first priced one.

    Only one unit is drawn: every unit of a row shares its hourly cost and wall time, so the
    others order the instances identically and their numbers are in the table below.
    """
    spec = primary_spec(workload)
    units = [str(u) for u in dict.fromkeys(costs["unit"])]
    return spec.unit if spec is not None and spec.unit in units else units[0]


def _cost_panel(part: pd.DataFrame, unit_name: str, scale: float) -> Panel:
    ranked = part.groupby("_choice")["cost_per_unit_usd"].min().sort_values()
    shown = ranked.index[:MAX_COST_LINES]
    series = _present(
        *(
            _series(choice, part[part["_choice"] == choice], "cost_per_unit_usd", scale)
            for choice in shown
        )
    )
    title = f"USD per {unit_name}" + (
        f" ({len(shown)} cheapest of {len(ranked)})" if len(ranked) > len(shown) else ""
    )
    return Panel(title, "USD", series, log_y=True)


def margin_blocks(
    workload: str, costs: pd.DataFrame, prices: Sequence[CandidatePrice], stem: str
) -> list[Block]:
    costs = costs[costs["cost_per_unit_usd"].notna()]
    if costs.empty:
        return []
    if not prices:
        return [Note(f"Margin: no candidate price for {workload} (give one with --price).")]
    cheapest = costs.loc[costs.groupby(["unit", "batch_size"])["cost_per_unit_usd"].idxmin()]
    priced = apply_prices(cheapest, prices)
    priced = priced[priced["price_per_unit_usd"].notna()]
    if priced.empty:
        return [Note(f"Margin: no candidate price for the units of {workload} that were priced.")]
    panels, records = [], []
    for unit, part in priced.groupby("unit", sort=False):
        scale, unit_name = display_scale(workload, str(unit))
        by_batch = part.drop_duplicates("batch_size").sort_values("batch_size")
        curves = tuple(
            MarginCurve(
                f"batch {r['batch_size']:g} ({r['provider']}:{r['instance']} {r['plan']})",
                r["cost_per_unit_usd"] * scale,
            )
            for r in by_batch.to_dict("records")
        )
        candidates = part.drop_duplicates("price_label")
        marks = tuple(
            (str(label), float(price) * scale)
            for label, price in zip(
                candidates["price_label"], candidates["price_per_unit_usd"], strict=True
            )
            if price > 0  # a free tier has no margin to draw
        )
        panels.append(MarginPanel(f"{workload}.{unit}", unit_name, curves, marks))
        for r in part.sort_values(["batch_size", "price_label"]).to_dict("records"):
            records.append(
                {
                    **r,
                    "_unit": unit_name,
                    "_price": r["price_per_unit_usd"] * scale,
                    "_margin": fmt.margin_range_text(r["gross_margin"], r.get("gross_margin_low"),
                                                 r.get("gross_margin_high")),
                    "_break_even": r["break_even_price_usd"] * scale,
                }
            )
    table = fmt.table(
        f"Gross margin at candidate prices (cheapest choice per batch size): {workload}",
        records,
        [
            ("unit", "_unit", fmt.text),
            ("batch", "batch_size", fmt.sig),
            ("price", "price_label", fmt.text),
            ("USD per unit", "_price", fmt.quote),
            ("margin (95 % interval)", "_margin", fmt.text),
            ("break-even USD", "_break_even", fmt.usd),
        ],
    )
    caption = f"{workload}: gross margin vs candidate price; dots mark break-even, dashed lines the candidate prices"
    return [margin_figure(f"{stem}-margin", caption, panels), table]


def frontier_blocks(workload: str, points: pd.DataFrame, stem: str) -> list[Block]:
    """The cost–interactivity frontier (harness/analysis/frontier.py `frontier_points`) of one
    workload: per work and utilisation a figure with a panel per axis its spec declares, and a
    table of the Pareto points. Nothing when no level has an axis value and a cost."""
    mine = points[points["workload"] == workload] if not points.empty else points
    blocks: list[Block] = []
    groups = list(mine.groupby(["work", "utilization"], sort=False)) if not mine.empty else []
    for number, ((work, util), part) in enumerate(groups, start=1):
        panels, records = [], []
        for _, at in part.groupby("axis", sort=False):
            first = at.iloc[0]
            scale, unit_name = display_scale(workload, str(first["unit"]))
            series = []
            ranked = at.groupby("curve", sort=False)["cost_per_unit_usd"].min().sort_values()
            for curve in ranked.index:
                line = at[at["curve"] == curve].sort_values("value")
                series.append(
                    Series(
                        str(curve),
                        tuple(float(v) for v in line["value"]),
                        tuple(float(c) * scale for c in line["cost_per_unit_usd"]),
                    )
                )
            on = at[at["pareto"].astype(bool)].sort_values("cost_per_unit_usd", kind="stable")
            panels.append(
                FrontierPanel(
                    f"{first['axis_label']}: {first['better']} is better",
                    str(first["axis_label"]),
                    f"USD per {unit_name}",
                    tuple(series),
                    tuple(
                        (float(v), float(c) * scale)
                        for v, c in zip(on["value"], on["cost_per_unit_usd"], strict=True)
                    ),
                )
            )
            records += [
                {**r, "_cost": r["cost_per_unit_usd"] * scale, "_unit": unit_name,
                 "_choice": choice_label(r)}
                for r in on.to_dict("records")
            ]  # fmt: skip
        suffix = f"-{number}" if len(groups) > 1 else ""
        where = f" ({work})" if len(groups) > 1 else ""
        blocks.append(
            frontier_figure(
                f"{stem}-frontier{suffix}",
                f"{workload}: cost vs interactivity, one line per instance and plan, the "
                f"Pareto-optimal points ringed (utilization {float(util):.0%}){where}",
                panels,
            )
        )
        blocks.append(
            fmt.table(
                f"Pareto-optimal choices (no other is both as cheap and as interactive): "
                f"{workload}, utilization {float(util):.0%}{where}",
                records,
                [
                    ("axis", "axis_label", fmt.text),
                    ("value", "value", fmt.sig),
                    ("unit", "_unit", fmt.text),
                    ("USD per unit", "_cost", fmt.usd),
                    ("instance · plan", "_choice", fmt.text),
                    ("run", "run_id", fmt.text),
                    ("level", "level", fmt.text),
                ],
            )
        )
    return blocks


def timeline_blocks(samples_path: Path, stem: str) -> list[Block]:
    import pandas as pd

    if not samples_path.is_file():
        return [Note("No sampler timeline: the run folder has no samples.csv.")]
    try:
        samples = pd.read_csv(samples_path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        return [Note(f"No sampler timeline: samples.csv cannot be read ({_first_line(err)}).")]
    if samples.empty:
        return [
            Note("No sampler timeline: samples.csv has no rows (a CPU run has no GPU sampler).")
        ]
    for column in ("t_s", "power_w", "gpu_util_pct", "sm_clock_mhz"):
        samples[column] = pd.to_numeric(samples.get(column), errors="coerce")
    if "throttled" not in samples:
        samples["throttled"] = False
    samples = samples[samples["t_s"].notna()].sort_values("t_s")
    if samples.empty or samples[["power_w", "gpu_util_pct", "sm_clock_mhz"]].isna().all().all():
        return [
            Note("No sampler timeline: samples.csv has no power, utilisation or clock readings.")
        ]
    return [
        timeline_figure(
            f"{stem}-timeline",
            "power, GPU utilisation and SM clock over the run (shaded: throttled)",
            samples,
        )
    ]


def _first_line(err: Any) -> str:
    return (str(err).splitlines() or [type(err).__name__])[0]
