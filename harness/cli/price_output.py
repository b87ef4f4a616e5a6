"""`gpucost price` (and the closing table of `gpucost run`) as text: the answer first.

The default screen is one table with the cheapest option per workload and unit — instance,
plan, batch, cost (the break-even price), the candidate price and the margin it leaves — a line
naming the caveats above it, and only the notes about what it shows below. `-v` adds the
cheapest options per batch size, the prices for target margins, sensitivity and every note.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from harness.errors import GpucostError
from harness.money.margin import margin_column
from harness.money.prices import CandidatePrice
from harness.money.pricing import PriceRequest, PriceResult, Sensitivity, price_runs
from harness.money.units import display_scale, primary_unit, units_by_workload
from harness.render.cached_input import cached_input_lines
from harness.render.notes import Note, NoteKind, about, caveats
from harness.render.terminal import Cell, Column, Screen, TextTable
from harness.render.text import (
    ESTIMATE_MARK,
    UNSTABLE_MARK,
    cost_text,
    flagged_batch,
    margin_range_text,
    margin_text,
    quote_text,
)

_KEYS = ["batch_size", "provider", "instance", "plan", "utilization"]
_GROUP = ["run_id", "workload"]


def _candidates_for(
    candidates: Sequence[CandidatePrice], workload: str, unit: str
) -> list[CandidatePrice]:
    return [p for p in candidates if p.workload == workload and p.unit == unit]


def _key(record: dict) -> str:
    return f"{record['provider']}:{record['instance']}"


def _star(record: dict) -> str:
    return ESTIMATE_MARK if record.get("energy_estimated") is True else ""


def _margin(record: dict) -> str:
    return margin_range_text(record.get("gross_margin"), record.get("gross_margin_low"),
                             record.get("gross_margin_high"))  # fmt: skip


def _margin_cell(record: dict) -> Cell:
    """The margin with its interval, or alone where the table is short of room."""
    return Cell(_margin(record), margin_text(record.get("gross_margin"), short=True))


def _shown_units(frame: pd.DataFrame, workload: str) -> list[str]:
    """The units a workload is answered per: those with a candidate price, else its primary."""
    rows = frame[frame["workload"] == workload]
    priced = set(rows.loc[rows["price_label"].notna(), "unit"])
    return [u for u in units_by_workload().get(workload, ())
            if u in priced or (not priced and u == primary_unit(workload))]  # fmt: skip


def caveat_line(notes: Sequence[Note]) -> str:
    """One line naming the caveats, above the answer; their texts follow the table."""
    kinds = list(dict.fromkeys(n.kind for n in caveats(notes)))
    if not kinds:
        return ""
    return "Read with care: " + ", ".join(k.value for k in kinds) + " (see the notes below)."


def answer_table(result: PriceResult, title: str) -> tuple[TextTable, pd.DataFrame]:
    """The cheapest option per run × workload × unit × candidate price. Returns the table and
    the rows it shows."""
    frame = result.costs[result.costs["cost_per_unit_usd"].notna()]
    runs = frame["run_id"].nunique() > 1
    columns = [
        Column("workload", shorten=True, min_width=9),
        *([Column("run", drop=7, shorten=True, min_width=13, cut_middle=True)] if runs else []),
        Column("per", shorten=True, min_width=16),
        Column("instance", shorten=True, min_width=14),
        Column("plan", drop=6),
        Column("batch", align="right", drop=5),
        Column("cost", align="right"),
        Column("price", align="right"),
        Column("margin", align="right", abbreviate=8),
        *(Column(f"{m * 100:g}% at", align="right", drop=10 + i)
          for i, m in enumerate(sorted(result.target_margins))),
    ]  # fmt: skip
    table = TextTable(title, columns)
    shown: list[dict] = []
    best = frame.sort_values(["cost_per_unit_usd", "provider", "instance"], kind="stable")
    for (run_id, workload), rows in best.groupby(_GROUP, sort=True):
        for unit in _shown_units(rows, str(workload)):
            by_price = rows[rows["unit"] == unit].drop_duplicates("price_label", keep="first")
            scale, name = display_scale(str(workload), unit)
            for record in by_price.to_dict("records"):
                shown.append(record)
                table.add_row(
                    str(workload),
                    *([str(run_id)] if runs else []),
                    name,
                    _key(record),
                    str(record["plan"]),
                    flagged_batch(record["batch_size"], record.get("unstable")),
                    cost_text(record["cost_per_unit_usd"], scale, _star(record)),
                    quote_text(_scaled(record.get("price_per_unit_usd"), scale)),
                    _margin_cell(record),
                    *(cost_text(record.get(margin_column(m)), scale)
                      for m in sorted(result.target_margins)),
                )  # fmt: skip
    return table, pd.DataFrame(shown, columns=frame.columns)


def _scaled(value: float | None, scale: float) -> float | None:
    return None if value is None else value * scale


def _instances(frame: pd.DataFrame) -> set[str]:
    return {f"{p}:{i}" for p, i in zip(frame["provider"], frame["instance"], strict=True)}


def _marks_notes(frame: pd.DataFrame) -> list[Note]:
    notes = []
    if "unstable" in frame.columns and bool((frame["unstable"] == True).any()):  # noqa: E712
        notes.append(Note(NoteKind.UNSTABLE, f"{UNSTABLE_MARK} after a batch: noisy timing or a "
                          "wide cost interval (CV above 10%); its cost is uncertain"))  # fmt: skip
    if "energy_estimated" in frame.columns and bool((frame["energy_estimated"] == True).any()):  # noqa: E712
        notes.append(Note(NoteKind.ENERGY_ESTIMATE, f"{ESTIMATE_MARK} includes an energy estimate "
                          "(power limit × wall time): the run measured no energy"))  # fmt: skip
    return notes


def _price_notes(result: PriceResult, workloads: set[str]) -> list[Note]:
    return [
        Note(NoteKind.PRICE_SOURCE, f"price {p.key} {p.quoted}: {p.label}"
             + (f" ({p.source}, {p.as_of})" if p.source else ""), p.workload)
        for p in result.candidates
        if p.workload in workloads
    ]  # fmt: skip


def _shown_notes(result: PriceResult, frame: pd.DataFrame, instances: set[str]) -> list[Note]:
    """The notes about what a screen shows: its instances, workloads, runs and marks."""
    workloads = {str(w) for w in frame["workload"].dropna().unique()}
    runs = {str(r) for r in frame["run_id"].dropna().unique()}
    notes = result.all_notes(instances) + _marks_notes(frame) + _price_notes(result, workloads)
    return about(notes, workloads | runs | instances)


def write_notes(screen: Screen, notes: Sequence[Note]) -> None:
    """Caveats first, then the rest, each once."""
    ordered = caveats(notes) + [n for n in notes if not n.kind.is_caveat]
    screen.notes(list(dict.fromkeys(ordered)), heading="Notes:")


def render_answer(result: PriceResult, screen: Screen, title: str) -> set[str]:
    table, rows = answer_table(result, title)
    shown = _instances(rows)
    notes = _shown_notes(result, rows, shown)
    line = caveat_line(notes)
    if line:
        screen.line(line)
    screen.table(table)
    for text in cached_input_lines(rows.to_dict("records")):
        screen.line(text)
    write_notes(screen, notes)
    return shown


def _wide(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per run × workload × batch × instance × plan × utilisation with a cost column and
    a goodput cost column per unit, and per unit × candidate price a margin column and its
    interval's ends."""
    keys = [*_GROUP, *_KEYS]
    extra = ["unstable"] if "unstable" in frame.columns else []
    wide = frame[[*keys, "preset", "batch_cost_usd", "energy_estimated", *extra]]
    wide = wide.drop_duplicates(keys)
    first = frame.drop_duplicates([*keys, "unit"]).set_index([*keys, "unit"])
    for source, prefix in (("cost_per_unit_usd", "cost"), ("goodput_cost_per_unit_usd", "good")):
        costs = first[source].unstack("unit")
        costs.columns = [f"{prefix}:{u}" for u in costs.columns]
        wide = wide.merge(costs.reset_index(), on=keys)
    priced = frame[frame["price_label"].notna()]
    if not priced.empty:
        for source in ("gross_margin", "gross_margin_low", "gross_margin_high"):
            margins = priced.set_index([*keys, "unit", "price_label"])[source]
            margins = margins[~margins.index.duplicated()].unstack(["unit", "price_label"])
            margins.columns = [f"{source}:{u}:{label}" for u, label in margins.columns]
            wide = wide.merge(margins.reset_index(), on=keys, how="left")
    return wide


def goodput_text(value: float, scale: int, mark: str = "") -> str:
    """A cost on goodput; "none met SLO" when no request met it (an unbounded cost)."""
    return "none met SLO" if value == math.inf else cost_text(value, scale, mark)


def margin_cell(record: dict, unit: str, label: str) -> str:
    """A margin with its interval, or the margin alone where the run measured no interval."""
    value, low, high = (record.get(f"{c}:{unit}:{label}", math.nan)
                        for c in ("gross_margin", "gross_margin_low", "gross_margin_high"))  # fmt: skip
    return margin_range_text(value, low, high)


def _grouped(frame: pd.DataFrame) -> dict[tuple[str, str], list[dict]]:
    """Records of a frame sorted by run and workload, keyed by (run_id, workload)."""
    grouped: dict[tuple[str, str], list[dict]] = {}
    for record in frame.to_dict("records"):
        grouped.setdefault((record["run_id"], record["workload"]), []).append(record)
    return grouped


def _preset_text(record: dict) -> str:
    """ " (preset)" after the workload's name; nothing for a row without one (endpoint, import)."""
    preset = record.get("preset")
    return "" if preset is None or preset != preset or preset == "" else f" ({preset})"


def render_costs(result: PriceResult, screen: Screen, top: int = 3) -> set[str]:
    """Per run × workload: the `top` cheapest options per batch size, then prices for the target
    margins. Returns the instances shown."""
    frame = result.costs
    many_us = frame["utilization"].nunique() > 1
    cheapest = (
        _wide(frame)
        .sort_values([*_GROUP, "batch_size", "batch_cost_usd", "provider", "instance"])
        .groupby([*_GROUP, "batch_size"], sort=False)
        .head(top)
    )
    best = frame[frame["cost_per_unit_usd"].notna()].sort_values("batch_cost_usd", kind="stable")
    targets = _grouped(best.drop_duplicates([*_GROUP, "batch_size", "unit"]))
    shown: set[str] = set()
    for (run_id, workload), records in sorted(_grouped(cheapest).items()):
        units = _shown_units(frame, workload)
        columns = [Column("batch", align="right"), Column("instance", shorten=True),
                   Column("plan", drop=3)]  # fmt: skip
        if many_us:
            columns.append(Column("u", align="right", drop=2))
        cells_of: list[tuple[str, str, str, int]] = []  # (kind, unit, price label, scale)
        used: list[CandidatePrice] = []
        for unit in units:
            scale, name = display_scale(workload, unit)
            columns.append(Column(f"per {name}", align="right"))
            cells_of.append(("cost", unit, "", scale))
            # The primary unit only: the table stays readable, and csv/json have every unit.
            if unit == primary_unit(workload) and any(
                not pd.isna(r.get(f"good:{unit}")) for r in records
            ):
                columns.append(Column("on goodput", align="right", drop=1))
                cells_of.append(("good", unit, "", scale))
            prices = _candidates_for(result.candidates, workload, unit)
            for price in prices:
                header = "margin" if len(prices) == 1 else f"margin at {price.quoted}"
                columns.append(Column(header, align="right"))
                cells_of.append(("margin", unit, price.label, 0))
            used += prices
        table = TextTable(
            f"{workload}{_preset_text(records[0])}, run {run_id}: {result.currency} per unit, "
            f"{top} cheapest options per batch size",
            columns,
        )
        previous = None
        for record in records:
            shown.add(_key(record))
            star = _star(record)
            batch = "" if record["batch_size"] == previous else flagged_batch(
                record["batch_size"], record.get("unstable"))  # fmt: skip
            previous = record["batch_size"]
            cells = [batch, _key(record), str(record["plan"])]
            if many_us:
                cells.append(f"{record['utilization']:g}")
            for kind, unit, label, scale in cells_of:
                if kind == "margin":
                    cells.append(margin_cell(record, unit, label))
                elif kind == "good":
                    cells.append(goodput_text(record.get(f"good:{unit}", math.nan), scale, star))
                else:
                    cells.append(cost_text(record.get(f"cost:{unit}", math.nan), scale, star))
            table.add_row(*cells)
        screen.table(table)
        if used:
            screen.line("Margins at "
                        + "; ".join(f"{p.key.split('.')[1]} {p.quoted} ({p.label})" for p in used)
                        + ".")  # fmt: skip
            screen.line()
        _render_targets(workload, targets.get((run_id, workload), []), result, screen)
    return shown


def _render_targets(
    workload: str, records: list[dict], result: PriceResult, screen: Screen
) -> None:
    if not result.target_margins or not records:
        return
    order = {u: i for i, u in enumerate(units_by_workload()[workload])}
    records = sorted(records, key=lambda r: (r["batch_size"], order[r["unit"]]))
    table = TextTable(
        f"{workload}: price for a target gross margin, on the cheapest option of each batch size",
        [Column("batch", align="right"), Column("per", shorten=True),
         Column("break-even", align="right"),
         *(Column(f"{m * 100:g}% margin", align="right") for m in result.target_margins)],
    )  # fmt: skip
    for record in records:
        scale, name = display_scale(workload, record["unit"])
        cells = [str(record["batch_size"]), name, cost_text(record["cost_per_unit_usd"], scale)]
        cells += [cost_text(record[margin_column(m)], scale) for m in result.target_margins]
        table.add_row(*cells)
    screen.table(table)


def _month_line(result: PriceResult, best: dict) -> str:
    """The scenario's month at its expected calls, on the cheapest option."""
    calls = best.get("expected_monthly_calls")
    if calls is None or calls != calls:
        return ""
    free = result.scenario is not None and result.scenario.revenue.model == "free"
    parts = [f"A month of {calls:,.0f} calls on {_key(best)} ({best['plan']}): "
             f"cost {cost_text(best.get('monthly_cost_usd'))}"]  # fmt: skip
    if not free:
        parts.append(f"revenue {cost_text(best.get('monthly_revenue_usd'))}")
        parts.append(f"margin {margin_text(best.get('gross_margin'))}")
    return ", ".join(parts) + "."


def render_scenario(result: PriceResult, screen: Screen, top: int = 5) -> set[str]:
    scenario, rows = result.scenario, result.scenario_rows
    if scenario is None or rows is None:
        return set()
    free = scenario.revenue.model == "free"
    shown_rows = rows.head(top)
    many_batches = rows["batch_size"].nunique() > 1
    many_us = rows["utilization"].nunique() > 1
    fixed = [] if many_batches else [f"batch {rows['batch_size'].iloc[0]}"] if len(rows) else []
    fixed += [] if many_us or rows.empty else [f"u={rows['utilization'].iloc[0]:g}"]
    columns = [Column("batch", align="right", drop=4)] if many_batches else []
    columns += [Column("instance", shorten=True), Column("plan", drop=3)]
    columns += [Column("u", align="right", drop=2)] if many_us else []
    columns += [Column("compute", align="right", drop=1), Column("direct", align="right", drop=1),
                Column("cost", align="right")]  # fmt: skip
    columns += ([Column("per month", align="right")] if free else
                [Column("revenue", align="right"), Column("margin", align="right")])  # fmt: skip
    table = TextTable(
        f"Scenario {scenario.name}: {scenario.workload}"
        + (f" ({', '.join(fixed)})" if fixed else "")
        + f", cost per call in {result.currency}, revenue {scenario.revenue.model}, "
        f"{top} cheapest",
        columns,
    )
    shown: set[str] = set()
    for record in shown_rows.to_dict("records"):
        shown.add(_key(record))
        star = _star(record)
        cells = (
            [flagged_batch(record["batch_size"], record.get("unstable"))] if many_batches else []
        )
        cells += [_key(record), str(record["plan"])]
        cells += [f"{record['utilization']:g}"] if many_us else []
        cells += [
            cost_text(record["compute_cost_per_call_usd"], 1, star),
            cost_text(record["direct_cost_per_call_usd"]),
            cost_text(record["cost_per_unit_usd"], 1, star),
        ]
        if free:
            cells.append(cost_text(record["monthly_cost_usd"]))
        else:
            cells += [cost_text(record["price_per_unit_usd"]), _margin(record)]
        table.add_row(*cells)
    if not rows.empty:
        best = rows.iloc[0].to_dict()
        month = _month_line(result, best)
        if not free:
            screen.line(f"Scenario {scenario.name}: cheapest {_key(best)} ({best['plan']}), "
                        f"cost {cost_text(best['cost_per_unit_usd'])} per call, revenue "
                        f"{cost_text(best['price_per_unit_usd'])}, margin {_margin(best)}.")  # fmt: skip
        if month:
            screen.line(month)
    screen.table(table)
    parts = ", ".join(
        f"{name.replace('_', ' ')} {cost_text(value)}"
        for name, value in scenario.direct_costs.breakdown_usd().items()
        if value
    )
    screen.line(f"Direct costs per call: {parts or 'none'}.")
    if free:
        screen.line(f"Free service: no revenue, so no margin; the cost is shown at "
                    f"{scenario.expected_monthly_calls:,.0f} calls a month.")  # fmt: skip
    elif not rows.empty and result.target_margins:
        best = rows.iloc[0]
        targets = ", ".join(
            f"{m * 100:g}% {cost_text(best[margin_column(m)])}" for m in result.target_margins
        )
        screen.line(f"Price per call for a target margin on {best['provider']}:"
                    f"{best['instance']} ({best['plan']}): break-even "
                    f"{cost_text(best['cost_per_unit_usd'])}; {targets}.")  # fmt: skip
    return shown


def render_sensitivity(item: Sensitivity, screen: Screen, currency: str) -> set[str]:
    scale, name = display_scale(item.workload, item.unit)
    frame = item.frame
    us = sorted(frame["utilization"].unique())
    table = TextTable(
        f"Sensitivity: {item.workload}, batch {item.batch_size}, {currency} per "
        f"{name} by plan and utilisation u",
        [Column("plan"), Column("cheapest instance", shorten=True),
         *(Column(f"u={u:g}", align="right") for u in us)],
    )  # fmt: skip
    shown: set[str] = set()
    for (plan, provider, instance), rows in frame.groupby(
        ["plan", "provider", "instance"], sort=False
    ):
        shown.add(f"{provider}:{instance}")
        by_u = rows.drop_duplicates("utilization").set_index("utilization")
        costs = [cost_text(by_u["cost_per_unit_usd"].get(u, math.nan), scale) for u in us]
        table.add_row(str(plan), f"{provider}:{instance}", *costs)
        margins = [by_u["gross_margin"].get(u, math.nan) for u in us]
        if any(math.isfinite(m) for m in margins):
            table.add_row("", "margin", *[margin_text(m) for m in margins])
    screen.table(table)
    return shown


def render_price_result(
    result: PriceResult, screen: Screen, top: int = 3, verbose: bool = False
) -> None:
    """The answer; with `verbose`, the per-batch options, target prices, sensitivity and every
    note."""
    if result.scenario is not None:
        frame = result.scenario_rows if result.scenario_rows is not None else result.costs
        rows = max(top, 5) if verbose else 3
        shown = _instances(frame.head(rows))
        for item in result.sensitivity if verbose else ():
            shown |= _instances(item.frame)
        notes = _shown_notes(result, frame.head(rows), shown)
        line = caveat_line(notes)
        if line:
            screen.line(line)
        render_scenario(result, screen, top=rows)
        for item in result.sensitivity if verbose else ():
            render_sensitivity(item, screen, result.currency)
        write_notes(screen, notes)
        return
    plans = sorted(result.costs["plan"].dropna().unique())
    us = sorted(result.costs["utilization"].dropna().unique())
    title = (f"Cheapest option per workload ({result.currency}; {', '.join(plans)}; "
             f"u={', '.join(f'{u:g}' for u in us)}): cost is the break-even price")  # fmt: skip
    if not verbose:
        render_answer(result, screen, title)
        screen.line("More: -v shows the options per batch size, target prices and sensitivity.")
        return
    table, rows = answer_table(result, title)
    screen.table(table)
    for text in cached_input_lines(rows.to_dict("records")):
        screen.line(text)
    shown = _instances(rows) | render_costs(result, screen, top)
    for item in result.sensitivity:
        shown |= render_sensitivity(item, screen, result.currency)
    write_notes(screen, result.all_notes(shown) + _marks_notes(result.costs)
                + _price_notes(result, set(result.costs["workload"].dropna())))  # fmt: skip


def print_market_summary(run_dir: Path, screen: Screen) -> None:
    """The answer table for one run at market prices (on-demand, u = 1.0): what `gpucost run`
    ends with, in-process or against a server.

    Never raises for a run that cannot be priced: it prints one line saying why instead.
    """
    try:
        result = price_runs(
            PriceRequest(
                run_paths=(Path(run_dir),),
                plans=("on_demand",),
                utilizations=(1.0,),
                target_margins=(),
                with_sensitivity=False,
            )
        )
    except (GpucostError, OSError) as err:
        screen.line(f"Cost at market prices: not available ({err})")
        return
    render_answer(
        result, screen,
        f"Cost and margin at market prices ({result.currency}, on-demand, full utilisation)",
    )  # fmt: skip


__all__ = ["answer_table", "print_market_summary", "render_price_result"]
