"""How numbers print in every output (terminal, HTML, Markdown): money, margins, shares, marks.

One home per format, so `price`, `report`, `compare` and `reconcile` cannot drift apart. Nothing
here imports pandas or torch: a value is a float, None, NaN or pandas' NA.
"""

from __future__ import annotations

import math
from typing import Any

EMPTY = "—"
"""A value not measured or not known: never 0."""

MONEY_DIGITS = 3
"""Significant digits of every amount below $1 ($0.0000879, $0.0610); cents from $1 to $100
($1.20, $12.34), whole dollars from $100 ($123, $1,235)."""

UNSTABLE_MARK = "!"
"""After a batch size whose timing was noisy or whose cost interval is wide (CV above 10 %)."""

ESTIMATE_MARK = "*"
"""After a cost that includes an energy estimate (power limit × wall time)."""


def finite(value: Any) -> float | None:
    """A finite float, or None for None, NaN, ±inf, pandas' NA or a non-number."""
    if value is None or isinstance(value, (str, bytes)):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def money_text(value: float | None, digits: int = MONEY_DIGITS) -> str:
    """Dollars as `MONEY_DIGITS` says, written out (never in e-notation)."""
    number = finite(value)
    if number is None:
        return EMPTY
    if number == 0:
        return "$0"
    sign = "-" if number < 0 else ""
    size = abs(number)
    if round(size) >= 100:
        return f"{sign}${size:,.0f}"
    if size < 1:
        size = float(f"{size:.{digits}g}")  # rounded first: 0.09999 is $0.100, not $0.1000
    decimals = max(2, digits - 1 - math.floor(math.log10(size)))
    return f"{sign}${size:,.{decimals}f}"


def quote_text(value: float | None) -> str:
    """A price as a person writes it in a price list or a `--price` (its trailing zeros
    dropped, at least cents from a cent up): $0.60, $0.006, $15.00. Measured figures print
    through `money_text`."""
    number = finite(value)
    if number is None:
        return EMPTY
    text = money_text(number, digits=4)
    if "." not in text or abs(number) >= 100:
        return text
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    if abs(number) >= 0.01:
        frac = frac.ljust(2, "0")
    return f"{whole}.{frac}" if frac else whole


def cost_text(value: Any, scale: float = 1, mark: str = "") -> str:
    """A cost per `scale` units (per 1M tokens: scale 1e6), or the empty mark."""
    number = finite(value)
    return EMPTY if number is None else money_text(number * scale) + mark


def usd_cell(value: Any) -> str:
    """`money_text` for a machine-friendly cell: empty (not a dash) for a missing value."""
    number = finite(value)
    return "" if number is None else money_text(number)


def percent_text(value: Any) -> str:
    """A share in percent with one decimal below 100 % ("99.6%"), whole percent above."""
    number = finite(value)
    if number is None:
        return EMPTY
    return f"{number * 100:.1f}%" if abs(number) < 1 else f"{number * 100:,.0f}%"


def ratio_text(value: Any) -> str:
    """A multiple with two significant digits: "2.1×", "58×", "1,234×"."""
    number = finite(value)
    if number is None:
        return EMPTY
    return f"{number:.2g}×" if number < 100 else f"{number:,.0f}×"


def _beyond(margin: float) -> bool:
    """A margin below −100 %: the cost is more than twice the price, said as a multiple."""
    return margin <= -1


def margin_text(value: Any, short: bool = False) -> str:
    """The one margin format: "62.5%", or "cost is 58× the price" beyond −100 % ("cost 58×
    price" where a table is short of room)."""
    number = finite(value)
    if number is None:
        return EMPTY
    if _beyond(number):
        ratio = ratio_text(1 - number)
        return f"cost {ratio} price" if short else f"cost is {ratio} the price"
    return percent_text(number)


def _range(low: str, high: str, unit: str) -> str:
    # "-12 to -3%" reads as a range where "-12–-3%" would not.
    dash = " to " if low.startswith("-") or high.startswith("-") else "–"
    return f"{low.removesuffix(unit)}{dash}{high}"


def margin_range_text(value: Any, low: Any, high: Any) -> str:
    """A margin with its 95 % interval: "62.5% (58.1–65.5%)"; the margin alone when the run
    measured no interval or the interval rounds to the margin itself; a multiple of the price
    when all three are beyond −100 %: "cost is 58× the price (41–80×)"."""
    shown = margin_text(value)
    ends = [finite(v) for v in (low, high)]
    if shown == EMPTY or ends[0] is None or ends[1] is None:
        return shown
    lo, hi = ends
    point = finite(value)
    assert point is not None
    if _beyond(point) and _beyond(lo) and _beyond(hi):
        # A higher margin is a smaller multiple: the range reads from the smaller multiple.
        parts = [ratio_text(1 - hi), ratio_text(1 - lo)]
        inner = parts[0] if parts[0] == parts[1] else _range(parts[0], parts[1], "×")
        return shown if parts == [ratio_text(1 - point)] * 2 else f"{shown} ({inner})"
    parts = [percent_text(lo), percent_text(hi)]
    if parts[0] == parts[1] == percent_text(point):
        return shown  # narrower than the figure's last digit
    return f"{shown} ({_range(parts[0], parts[1], '%')})"


def is_unstable(value: Any) -> bool:
    """True for a row the run flagged `unstable` (Python or numpy true, 1.0); a row dict works
    too. Missing, NaN, NA and text are not flagged."""
    if isinstance(value, dict):
        value = value.get("unstable")
    if value is None or isinstance(value, (str, bytes)):
        return False
    try:
        return bool(value == 1)
    except TypeError:  # pandas' NA: not said
        return False


def flagged_batch(batch: Any, unstable: Any) -> str:
    """A batch size, marked when its row is unstable."""
    return f"{batch}{UNSTABLE_MARK if is_unstable(unstable) else ''}"


def seconds_text(value: Any) -> str:
    number = finite(value)
    if number is None:
        return EMPTY
    return f"{number * 1000:.3g} ms" if number < 1 else f"{number:.3g} s"
