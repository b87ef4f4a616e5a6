"""Reconcile output: a terminal table, CSV, JSON, or a self-contained HTML page with the trend plot.

Machine-readable outputs keep every cost per single unit and empty cells for what is unknown;
only the terminal table and the page scale small unit costs (per 1M tokens, per 1K queries).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from harness.cli.price_output import caveat_line
from harness.money.caveats import caveat_kinds_text, caveat_records, floor_row_caveats
from harness.money.units import primary_unit, unit_label, unit_scale
from harness.reconcile.bill_formats import CHARGE_GROUPS
from harness.reconcile.floor import ALL_GROUPS, CALL_UNIT, WHOLE
from harness.render.terminal import Cell, Column, Screen, TextTable, render_text
from harness.render.text import EMPTY, money_text, percent_text, usd_cell

if TYPE_CHECKING:
    import pandas as pd

    from harness.reconcile.engine import Reconciliation
    from harness.render.notes import Note

FORMATS = ("table", "csv", "json")


def _scale(unit: str) -> int:
    return unit_scale(unit)


def _missing(value: Any) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    import pandas as pd

    return value is pd.NA


def _num(value: Any, digits: int = 4) -> str:
    if _missing(value):
        return ""
    if isinstance(value, int) or (hasattr(value, "is_integer") and value.is_integer()):
        return f"{int(value):,}"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def _usd(value: Any) -> str:
    return usd_cell(value)


def _share(value: Any) -> str:
    if _missing(value):
        return ""
    return f"{value * 100:.1f}%"


def display_rows(table: pd.DataFrame) -> list[dict[str, str]]:
    """Rows as a person reads them: dates, dollars, unit costs per 1M/1K where small."""
    out = []
    for row in table.to_dict("records"):
        scale = _scale(str(row["unit"]))
        split = "" if row.get("split") in (None, "whole") else f" ({row['split']} split)"
        shown = {
            "period": str(row["period_start"])[:10],
            "instance": str(row["instance"]),
            "workload": "" if _missing(row.get("workload")) else str(row["workload"]),
            "unit": unit_label(str(row["unit"])) + split,
            "cost": _usd(row["cost_usd"]),
            "inferences": _num(row["inferences"]),
            "units": _num(row["units"], 6),
            "actual / unit": _usd(row["cost_per_unit_usd"] * scale),
            "floor / unit": _usd(row["floor_cost_per_unit_usd"] * scale),
            "utilisation": _share(row["implied_utilization"]),
            "idle": _usd(row["idle_cost_usd"]),
        }
        if "gross_margin" in row:
            shown["margin"] = _share(row["gross_margin"])
        out.append(shown)
    return out


def render_table(table: pd.DataFrame) -> str:
    rows = display_rows(table)
    if not rows:
        return "(no rows)"
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    left = {"period", "instance", "workload", "unit"}

    def line(values: dict[str, str]) -> str:
        cells = [
            values[c].ljust(widths[c]) if c in left else values[c].rjust(widths[c]) for c in columns
        ]
        return "  ".join(cells).rstrip()

    header = line({c: c for c in columns})
    rule = "  ".join("─" * widths[c] for c in columns)
    return "\n".join([header, rule, *(line(r) for r in rows)])


def _count(value: float) -> str:
    """1,000 · 100K · 2.5M: a count of units, short."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= 10 * size:
            return f"{value / size:,.3g}{suffix}"
    return f"{value:,.0f}"


def _served(rows: pd.DataFrame) -> Cell:
    """The units a group served, beside its one cost: "1,000 requests, 50K output tokens"
    (short: "1,000 request, 50K output")."""
    full, short = [], []
    for record in rows.to_dict("records"):
        units = record.get("units")
        if _missing(units):
            continue
        name = str(record["unit"]).replace("_", " ")
        full.append(f"{_count(float(units))} {name}{'' if units == 1 else 's'}")
        short.append(f"{_count(float(units))} {name.split(' ')[0]}")
    return Cell(", ".join(full) or EMPTY, ", ".join(short) or EMPTY)


def _per_unit(rows: pd.DataFrame, workload: str) -> tuple[str, str, str]:
    """(actual, floor, utilisation) per the workload's primary unit (else the first unit)."""
    unit = primary_unit(workload) if workload else None
    pick = rows[rows["unit"] == unit] if unit in set(rows["unit"]) else rows.head(1)
    if pick.empty:
        return EMPTY, EMPTY, EMPTY
    record = pick.iloc[0].to_dict()
    scale = _scale(str(record["unit"]))
    label = unit_label(str(record["unit"]))
    actual = record.get("cost_per_unit_usd")
    floor = record.get("floor_cost_per_unit_usd")
    shown = EMPTY if _missing(actual) else f"{money_text(actual * scale)}/{label}"
    return (
        shown,
        EMPTY if _missing(floor) else money_text(floor * scale),
        percent_text(record.get("implied_utilization")),
    )


def unattributed_notes(table: pd.DataFrame) -> list[str]:
    """Per period, the requests no group could claim (a log line without `instance` where the
    bill has several groups): counted in the `all` row only."""
    notes = []
    whole = table[(table["split"] == WHOLE) & (table["unit"] == CALL_UNIT)]
    for start, rows in whole.groupby("period_start", sort=True):
        everything = rows[rows["instance"] == ALL_GROUPS]
        if everything.empty:
            continue
        total = everything["inferences"].iloc[0]
        claimed = rows.loc[rows["instance"] != ALL_GROUPS, "inferences"].fillna(0).sum()
        missing = 0 if _missing(total) else int(total - claimed)
        if missing > 0:
            notes.append(
                f"{str(start)[:10]}: {missing:,} request(s) name no instance that the bill has "
                "several of; they are counted in the 'total' row only, so no group's cost per "
                "unit is known that day"
            )
    return notes


def render_terminal(
    result: Reconciliation,
    notes: list[str],
    width: int | None,
    every_unit: bool = False,
    caveats: Sequence[Note] = (),
) -> str:
    """One row per period and group: its one cost with the units it served beside it, the cost
    per the workload's primary unit, the floor and what idle cost; tax and credits on their own
    rows; the notes once, after the table, the floor's `caveats` first and named above it.
    `every_unit` (-v) adds the table of every unit and split."""
    table = result.table
    basis = cost_basis_of(table)
    view = TextTable(
        f"Billed cost per unit of work, per {result.period}"
        + (f" (cost basis {basis})" if basis else ""),
        [Column("period"), Column("group", shorten=True, min_width=10),
         Column("workload", shorten=True, min_width=8, drop=3),
         Column("cost", align="right"),
         Column("served", shorten=True, min_width=16, abbreviate=6),
         Column("per unit", shorten=True, min_width=14),
         Column("floor", align="right", drop=5), Column("utilisation", align="right", drop=4),
         Column("idle", align="right", drop=2)],
    )  # fmt: skip
    whole = table[table["split"] == WHOLE] if "split" in table else table
    keys = ["period_start", "instance", "workload"]
    groups = whole.groupby(keys, sort=True, dropna=False)

    def order(key: tuple[Any, ...]) -> tuple[str, int, str]:
        # Per period: the groups that served work, then tax and credits, then the total.
        start, group = str(key[0]), str(key[1])
        return start, 2 if group == ALL_GROUPS else 1 if group in CHARGE_GROUPS else 0, group

    for start, group, workload in sorted(groups.groups, key=order):
        rows = groups.get_group((start, group, workload))
        name = "" if _missing(workload) else str(workload)
        charge = str(group) in CHARGE_GROUPS
        label = "total" if group == ALL_GROUPS else str(group)
        actual, floor, share = (EMPTY, EMPTY, EMPTY) if charge else _per_unit(rows, name)
        idle = rows["idle_cost_usd"].iloc[0] if "idle_cost_usd" in rows else None
        view.add_row(
            str(start)[:10], label, name, usd_cell(rows["cost_usd"].iloc[0]) or EMPTY,
            Cell(EMPTY, EMPTY) if charge else _served(rows), actual, floor, share,
            usd_cell(idle) or EMPTY,
        )  # fmt: skip

    def draw(screen: Screen) -> None:
        line = caveat_line(caveats)
        if line:
            screen.line(line)
        screen.table(view)
        if every_unit:
            screen.line("Every unit and split (each unit row carries its group's whole cost):")
            for line in render_table(table).splitlines():
                screen.line(line)
            screen.line()
        texts = [*(n.text for n in caveats), *unattributed_notes(table), *notes]
        screen.notes(texts, heading="Notes:")

    return render_text(draw, width)


def render_csv(table: pd.DataFrame, caveats: Sequence[Note] = ()) -> str:
    kinds = [caveat_kinds_text(row) for row in floor_row_caveats(caveats, table)]
    return table.assign(caveats=kinds).to_csv(index=False, na_rep="", lineterminator="\n")


def render_json(table: pd.DataFrame, caveats: Sequence[Note] = ()) -> str:
    records = [
        {
            k: (None if _missing(v) else v.item() if hasattr(v, "item") else v)
            for k, v in row.items()
        }
        | {"caveats": caveat_records(notes)}
        for row, notes in zip(
            table.to_dict("records"), floor_row_caveats(caveats, table), strict=True
        )
    ]
    return json.dumps(records, indent=2, allow_nan=False) + "\n"


def cost_basis_of(table: pd.DataFrame) -> str:
    if "cost_basis" not in table or table.empty:
        return ""
    return ", ".join(dict.fromkeys(str(b) for b in table["cost_basis"]))


def render(table: pd.DataFrame, fmt: str, caveats: Sequence[Note] = ()) -> str:
    """The table as text, csv or json; csv and json rows end with their floor's `caveats`."""
    if fmt == "csv":
        return render_csv(table, caveats)
    if fmt == "json":
        return render_json(table, caveats)
    basis = cost_basis_of(table)
    title = f"Cost basis: {basis}\n" if basis else ""
    return title + render_table(table) + "\n"


def trend_png(table: pd.DataFrame) -> bytes | None:
    """Actual vs floor cost per unit over periods, one panel per unit; None when nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    served = table[table["cost_per_unit_usd"].notna() & (table["split"] == "whole")]
    units = list(dict.fromkeys(served["unit"]))[:4]
    if not units:
        return None
    fig, axes = plt.subplots(len(units), 1, figsize=(8, 2.6 * len(units)), squeeze=False)
    for ax, unit in zip(axes[:, 0], units, strict=True):
        scale = _scale(unit)
        for label, rows in served[served["unit"] == unit].groupby("instance"):
            x = pd.to_datetime(rows["period_start"])
            ax.plot(x, rows["cost_per_unit_usd"] * scale, marker="o", label=f"actual ({label})")
            if rows["floor_cost_per_unit_usd"].notna().any():
                ax.plot(
                    x,
                    rows["floor_cost_per_unit_usd"] * scale,
                    linestyle="--",
                    marker=".",
                    label=f"benchmark floor ({label})",
                )
        ax.set_ylabel(f"USD per {unit_label(unit)}")
        shown = served.loc[served["unit"] == unit, ["cost_per_unit_usd", "floor_cost_per_unit_usd"]]
        values = shown.to_numpy(dtype=float).ravel()
        values = values[values > 0]
        if len(values) and values.max() > 10 * values.min():
            ax.set_yscale("log")  # a floor far below the actual cost stays visible
        else:
            ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def render_html(result: Reconciliation, summary: list[tuple[str, str]]) -> str:
    """One self-contained page: summary, trend plot (embedded PNG), the table. All text escaped."""
    esc = html.escape
    rows = display_rows(result.table)
    png = trend_png(result.table)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>gpucost reconcile</title>',
        "<style>body{font-family:sans-serif;margin:2em;max-width:80em}"
        "table{border-collapse:collapse;font-size:0.9em}"
        "td,th{border:1px solid #ccc;padding:0.2em 0.5em;text-align:right}"
        "th{background:#eee}td.t{text-align:left}</style></head><body>",
        f"<h1>Billed cost per unit of work, per {esc(result.period)}</h1>",
        f"<p>Cost basis: <strong>{esc(cost_basis_of(result.table) or 'not known')}</strong></p>",
        "<dl>",
        *(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in summary),
        "</dl>",
    ]
    if result.notes:
        parts += ["<ul>", *(f"<li>{esc(n)}</li>" for n in result.notes), "</ul>"]
    if png is not None:
        data = base64.b64encode(png).decode("ascii")
        parts.append(
            f'<figure><img alt="actual and floor cost per unit by period" '
            f'src="data:image/png;base64,{data}"><figcaption>Actual cost per unit (bill ÷ served '
            "work) and the benchmark floor, per period.</figcaption></figure>"
        )
    if rows:
        columns = list(rows[0])
        text_columns = {"period", "instance", "workload", "unit"}
        parts.append("<table><tr>" + "".join(f"<th>{esc(c)}</th>" for c in columns) + "</tr>")
        for row in rows:
            cells = "".join(
                f"<td{' class=t' if c in text_columns else ''}>{esc(row[c])}</td>" for c in columns
            )
            parts.append(f"<tr>{cells}</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
