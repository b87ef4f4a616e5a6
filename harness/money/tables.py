"""Tables for people: cheapest instances, margins, target prices, scenario and sensitivity."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from rich.console import Console

from harness.errors import GpucostError
from harness.money.console import (
    cost_text,
    emit,
    make_console,
    margin_range_text,
    margin_text,
    table_for,
)
from harness.money.margin import margin_column
from harness.money.prices import CandidatePrice
from harness.money.pricing import PriceRequest, PriceResult, Sensitivity, price_runs
from harness.money.units import display_scale, primary_unit, units_by_workload

_KEYS = ["batch_size", "provider", "instance", "plan", "utilization"]


def _candidates_for(
    candidates: Sequence[CandidatePrice], workload: str, unit: str
) -> list[CandidatePrice]:
    return [p for p in candidates if p.workload == workload and p.unit == unit]


_GROUP = ["run_id", "workload"]


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
    return "none met SLO" if value == math.inf else cost_text(value, scale) + mark


def margin_cell(record: dict, unit: str, label: str) -> str:
    """"62% (58–65%)", or the margin alone where the run measured no interval."""
    value, low, high = (record.get(f"{c}:{unit}:{label}", math.nan)
                        for c in ("gross_margin", "gross_margin_low", "gross_margin_high"))  # fmt: skip
    return margin_range_text(value, low, high)


def _grouped(frame: pd.DataFrame) -> dict[tuple[str, str], list[dict]]:
    """Records of a frame sorted by run and workload, keyed by (run_id, workload)."""
    grouped: dict[tuple[str, str], list[dict]] = {}
    for record in frame.to_dict("records"):
        grouped.setdefault((record["run_id"], record["workload"]), []).append(record)
    return grouped


UNSTABLE_MARK = "!"


def _preset_text(record: dict) -> str:
    """" (preset)" after the workload's name; nothing for a row without one (endpoint, import)."""
    preset = record.get("preset")
    return "" if preset is None or preset != preset or preset == "" else f" ({preset})"


def is_unstable(record: dict) -> bool:
    return record.get("unstable") is True or record.get("unstable") == 1.0


def batch_text(record: dict) -> str:
    """The batch size, marked when the run flagged the row's timing as noisy."""
    return str(record["batch_size"]) + (UNSTABLE_MARK if is_unstable(record) else "")


def render_costs(result: PriceResult, console: Console, top: int = 3) -> set[str]:
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
    priced_units = set(
        zip(*(frame.loc[frame["price_label"].notna(), c] for c in ("workload", "unit")),
            strict=True)
    )  # fmt: skip
    shown: set[str] = set()
    for (run_id, workload), records in sorted(_grouped(cheapest).items()):
        units = [u for u in units_by_workload()[workload]
                 if (workload, u) in priced_units or u == primary_unit(workload)]  # fmt: skip
        table = table_for(
            f"{workload}{_preset_text(records[0])}, run {run_id}: {result.currency} per unit, "
            f"{top} cheapest options per batch size",
            console,
        )
        table.add_column("batch", justify="right")
        table.add_column("instance", no_wrap=True)
        table.add_column("plan", no_wrap=True)
        if many_us:
            table.add_column("u", justify="right")
        columns: list[tuple[str, str, str, int]] = []  # (kind, unit, price label, scale)
        used: list[CandidatePrice] = []
        for unit in units:
            scale, name = display_scale(workload, unit)
            table.add_column(f"per {name}", justify="right")
            columns.append(("cost", unit, "", scale))
            # The primary unit only: the table stays readable, and csv/json have every unit.
            if unit == primary_unit(workload) and any(
                not pd.isna(r.get(f"good:{unit}")) for r in records
            ):
                table.add_column("on goodput", justify="right")
                columns.append(("good", unit, "", scale))
            prices = _candidates_for(result.candidates, workload, unit)
            for price in prices:
                header = "margin" if len(prices) == 1 else f"margin at {price.quoted}"
                # Folded, never cut, where an interval does not fit beside the goodput cost.
                table.add_column(header, justify="right", overflow="fold")
                columns.append(("margin", unit, price.label, 0))
            used += prices
        previous = None
        for record in records:
            key = f"{record['provider']}:{record['instance']}"
            shown.add(key)
            star = "*" if record["energy_estimated"] else ""
            batch = "" if record["batch_size"] == previous else batch_text(record)
            previous = record["batch_size"]
            cells = [batch, key, record["plan"]]
            if many_us:
                cells.append(f"{record['utilization']:g}")
            for kind, unit, label, scale in columns:
                if kind == "margin":
                    cells.append(margin_cell(record, unit, label))
                elif kind == "good":
                    cells.append(goodput_text(record.get(f"good:{unit}", math.nan), scale, star))
                else:
                    cells.append(cost_text(record.get(f"cost:{unit}", math.nan), scale) + star)
            table.add_row(*cells)
        emit(table, console)
        if used:
            console.print(
                "Margins at "
                + "; ".join(f"{p.key.split('.')[1]} {p.quoted} ({p.label})" for p in used)
                + ".\n",
                highlight=False,
            )
        _render_targets(workload, targets.get((run_id, workload), []), result, console)
    return shown


def _render_targets(
    workload: str, records: list[dict], result: PriceResult, console: Console
) -> None:
    if not result.target_margins or not records:
        return
    order = {u: i for i, u in enumerate(units_by_workload()[workload])}
    records = sorted(records, key=lambda r: (r["batch_size"], order[r["unit"]]))
    table = table_for(
        f"{workload}: price for a target gross margin, on the cheapest option of each batch size",
        console,
    )
    table.add_column("batch", justify="right")
    table.add_column("per")
    table.add_column("break-even", justify="right")
    for margin in result.target_margins:
        table.add_column(f"{margin * 100:g}% margin", justify="right")
    for record in records:
        scale, name = display_scale(workload, record["unit"])
        cells = [str(record["batch_size"]), name, cost_text(record["cost_per_unit_usd"], scale)]
        cells += [cost_text(record[margin_column(m)], scale) for m in result.target_margins]
        table.add_row(*cells)
    emit(table, console)


def render_scenario(result: PriceResult, console: Console, top: int = 5) -> set[str]:
    scenario, rows = result.scenario, result.scenario_rows
    if scenario is None or rows is None:
        return set()
    free = scenario.revenue.model == "free"
    shown_rows = rows.head(top)
    many_batches = rows["batch_size"].nunique() > 1
    many_us = rows["utilization"].nunique() > 1
    fixed = [] if many_batches else [f"batch {rows['batch_size'].iloc[0]}"] if len(rows) else []
    fixed += [] if many_us or rows.empty else [f"u={rows['utilization'].iloc[0]:g}"]
    table = table_for(
        f"Scenario {scenario.name}: {scenario.workload}"
        + (f" ({', '.join(fixed)})" if fixed else "")
        + f", cost per call in {result.currency}, revenue {scenario.revenue.model}, "
        f"{top} cheapest",
        console,
    )
    if many_batches:
        table.add_column("batch", justify="right")
    table.add_column("instance", no_wrap=True)
    table.add_column("plan", no_wrap=True)
    if many_us:
        table.add_column("u", justify="right")
    for name in ("compute", "direct", "cost"):
        table.add_column(name, justify="right")
    if free:
        table.add_column("per month", justify="right")
    else:
        table.add_column("revenue", justify="right")
        table.add_column("margin", justify="right")
    shown: set[str] = set()
    for record in shown_rows.to_dict("records"):
        key = f"{record['provider']}:{record['instance']}"
        shown.add(key)
        star = "*" if record["energy_estimated"] else ""
        cells = [batch_text(record)] if many_batches else []
        cells += [key, record["plan"]]
        cells += [f"{record['utilization']:g}"] if many_us else []
        cells += [
            cost_text(record["compute_cost_per_call_usd"]) + star,
            cost_text(record["direct_cost_per_call_usd"]),
            cost_text(record["cost_per_unit_usd"]) + star,
        ]
        if free:
            cells.append(cost_text(record["monthly_cost_usd"]))
        else:
            cells += [
                cost_text(record["price_per_unit_usd"]),
                margin_range_text(record["gross_margin"], record.get("gross_margin_low"),
                                  record.get("gross_margin_high")),
            ]  # fmt: skip
        table.add_row(*cells)
    emit(table, console)
    parts = ", ".join(
        f"{name.replace('_', ' ')} {cost_text(value)}"
        for name, value in scenario.direct_costs.breakdown_usd().items()
        if value
    )
    lines = [f"Direct costs per call: {parts or 'none'}."]
    if free:
        lines.append(
            f"Free service: no revenue, so no margin; the cost is shown at "
            f"{scenario.expected_monthly_calls:,.0f} calls a month."
        )
    elif not rows.empty and result.target_margins:
        best = rows.iloc[0]
        targets = ", ".join(
            f"{m * 100:g}% {cost_text(best[margin_column(m)])}" for m in result.target_margins
        )
        lines.append(
            f"Price per call for a target margin on {best['provider']}:"
            f"{best['instance']} ({best['plan']}): break-even "
            f"{cost_text(best['cost_per_unit_usd'])}; {targets}."
        )
    for line in lines:
        console.print(line, highlight=False)
    return shown


def render_sensitivity(item: Sensitivity, console: Console, currency: str) -> set[str]:
    scale, name = display_scale(item.workload, item.unit)
    frame = item.frame
    us = sorted(frame["utilization"].unique())
    table = table_for(
        f"Sensitivity: {item.workload}, batch {item.batch_size}, {currency} per "
        f"{name} by plan and utilisation u",
        console,
    )
    table.add_column("plan", no_wrap=True)
    table.add_column("cheapest instance", no_wrap=True)
    for u in us:
        table.add_column(f"u={u:g}", justify="right")
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
    emit(table, console)
    return shown


def render_footer(result: PriceResult, console: Console, shown: set[str]) -> None:
    lines: list[str] = []
    if result.scenario is None:
        lines += [
            f"Price {p.key} {p.quoted}: {p.label}"
            + (f" ({p.source}, {p.as_of})" if p.source else "")
            for p in result.candidates
        ]
    frames = [result.costs] if result.scenario_rows is None else [result.scenario_rows]
    if any("unstable" in f.columns and bool((f["unstable"] == True).any()) for f in frames):  # noqa: E712
        lines.append(
            f"{UNSTABLE_MARK} unstable: noisy timing or a wide cost interval (CV above 10%); "
            "cost uncertain"
        )
    if bool(result.costs["energy_estimated"].any()):
        lines.append(
            "* includes an energy estimate (power limit × wall time): the run measured no energy"
        )
    lines += [f"{i.key}: {i.caveat}" for i in result.instances if i.key in shown and i.caveat]
    lines += list(result.notes)
    cards = sorted({(i.provider, i.as_of, i.source) for i in result.instances})
    lines += [f"{provider} prices as of {as_of}: {source}" for provider, as_of, source in cards]
    for line in dict.fromkeys(lines):
        console.print(line, highlight=False)


def render_price_result(result: PriceResult, console: Console, top: int = 3) -> None:
    if result.scenario is not None:
        shown = render_scenario(result, console, top=max(top, 5))
    else:
        shown = render_costs(result, console, top)
    for item in result.sensitivity:
        shown |= render_sensitivity(item, console, result.currency)
    render_footer(result, console, shown)


def print_market_summary(run_dir: Path, console: Console | None = None) -> None:
    """A compact cost and margin table for one run at market prices (on-demand, u = 1.0).

    Never raises for a run that cannot be priced: it prints one line saying why instead.
    """
    console = make_console(console)
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
        console.print(
            f"Cost at market prices: not available ({err})", highlight=False, soft_wrap=True
        )
        return
    best = result.costs.sort_values("batch_cost_usd", kind="stable").drop_duplicates(
        ["run_id", "workload", "batch_size", "unit", "price_label"]
    )
    table = table_for(
        f"Cost and margin at market prices ({result.currency}, on-demand, full utilisation)",
        console,
    )
    for name in ("workload", "batch", "per", "cheapest instance", "cost", "market", "margin"):
        table.add_column(
            name, justify="right" if name in ("batch", "cost", "market", "margin") else "left"
        )
    for (workload, _batch), rows in best.groupby(["workload", "batch_size"], sort=True):
        priced_units = set(rows.loc[rows["price_label"].notna(), "unit"])
        units = [
            u
            for u in units_by_workload()[workload]
            if u in priced_units or (not priced_units and u == primary_unit(workload))
        ]
        for record in rows[rows["unit"].isin(units)].to_dict("records"):
            scale, name = display_scale(workload, record["unit"])
            table.add_row(
                workload,
                batch_text(record),
                name,
                f"{record['provider']}:{record['instance']}",
                cost_text(record["cost_per_unit_usd"], scale),
                cost_text(record["price_per_unit_usd"], scale),
                margin_range_text(record["gross_margin"], record.get("gross_margin_low"),
                                  record.get("gross_margin_high")),
            )  # fmt: skip
    emit(table, console)
    for note in result.notes:
        if note.startswith(("measured:", "unstable:", "no request met", "--price")):
            console.print(note, highlight=False, soft_wrap=True)
    measured = set(best["workload"])
    for price in result.candidates:
        if price.key.partition(".")[0] not in measured:
            continue
        console.print(
            f"Market {price.key} {price.quoted}: {price.label} ({price.source}, {price.as_of})",
            highlight=False,
        )
