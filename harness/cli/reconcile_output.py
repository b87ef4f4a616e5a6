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
from typing import TYPE_CHECKING, Any

from harness.money.units import unit_label, unit_scale
from harness.render.text import usd_cell

if TYPE_CHECKING:
    import pandas as pd

    from harness.reconcile.engine import Reconciliation

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
    return "\n".join([header, "-" * len(header), *(line(r) for r in rows)])


def render_csv(table: pd.DataFrame) -> str:
    return table.to_csv(index=False, na_rep="", lineterminator="\n")


def render_json(table: pd.DataFrame) -> str:
    records = [
        {
            k: (None if _missing(v) else v.item() if hasattr(v, "item") else v)
            for k, v in row.items()
        }
        for row in table.to_dict("records")
    ]
    return json.dumps(records, indent=2, allow_nan=False) + "\n"


def cost_basis_of(table: pd.DataFrame) -> str:
    if "cost_basis" not in table or table.empty:
        return ""
    return ", ".join(dict.fromkeys(str(b) for b in table["cost_basis"]))


def render(table: pd.DataFrame, fmt: str) -> str:
    if fmt == "csv":
        return render_csv(table)
    if fmt == "json":
        return render_json(table)
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
