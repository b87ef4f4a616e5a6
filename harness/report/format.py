"""Cells as people read them: seconds in ms or s, money with its display unit, empty as a dash."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from harness.analysis.roofline import number
from harness.render.text import (
    EMPTY,
    UNSTABLE_MARK,
    is_unstable,
    margin_range_text,
    margin_text,
    money_text,
    percent_text,
    quote_text,
    seconds_text,
)
from harness.report.document import Table

__all__ = ["EMPTY", "UNSTABLE_MARK", "is_unstable", "margin_range_text", "margin_text"]


def sig(value: Any, digits: int = 3) -> str:
    v = number(value)
    if v is None:
        return EMPTY
    if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-3):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}" if abs(v) < 10**digits else f"{v:,.0f}"


def seconds(value: Any) -> str:
    return seconds_text(number(value))


def data_size(value: Any) -> str:
    v = number(value)
    if v is None:
        return EMPTY
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(v) >= size:
            return f"{v / size:.3g} {unit}"
    return f"{v:.0f} B"


def percent(value: Any) -> str:
    """A share (MFU, utilisation); a margin prints through `margin_text`."""
    return percent_text(number(value))


def usd_range(low: Any, high: Any, scale: float = 1.0) -> str:
    """"$1.20–$1.50" (per `scale` units), or empty where the run measured no interval."""
    ends = [number(v) for v in (low, high)]
    if None in ends:
        return EMPTY
    return "–".join(usd(v * scale) for v in ends if v is not None)


def flagged(value: Any, unstable: Any) -> str:
    """A batch size, marked when its row is `unstable` (noisy timing or a wide interval)."""
    return sig(value) + (UNSTABLE_MARK if is_unstable(unstable) else "")


UNSTABLE_NOTE = (
    f"{UNSTABLE_MARK} unstable: the per-iteration wall time or the cost of the batch size marked "
    "varies by more than 10 % (CV): its cost moves with the load of the machine, so read it with "
    "its interval."
)


def usd(value: Any) -> str:
    v = number(value)
    return EMPTY if v is None else money_text(v)


def quote(value: Any) -> str:
    """A candidate price as it was quoted ($0.60, not $0.600)."""
    return quote_text(number(value))


def ratio(value: Any) -> str:
    v = number(value)
    return EMPTY if v is None else f"{v:.2f}×"


def text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return EMPTY
    return str(value)


Column = tuple[str, str, Callable[[Any], str]]
"""(header, source column, formatter)."""


def without_empty_columns(table: Table) -> Table:
    """The table less the columns with no value in any row (MFU on a CPU, an interval no run
    measured)."""
    keep = [i for i in range(len(table.columns))
            if not table.rows or any(row[i] != EMPTY for row in table.rows)]  # fmt: skip
    return Table(
        caption=table.caption,
        columns=tuple(table.columns[i] for i in keep),
        rows=tuple(tuple(row[i] for i in keep) for row in table.rows),
    )


def table(caption: str, records: Sequence[dict[str, Any]], columns: Sequence[Column]) -> Table:
    """A Table from row dicts; a source column missing from a row shows as empty."""
    return Table(
        caption=caption,
        columns=tuple(header for header, _, _ in columns),
        rows=tuple(tuple(fmt(r.get(src)) for _, src, fmt in columns) for r in records),
    )
