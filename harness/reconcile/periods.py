"""Reporting periods in UTC, and timestamp parsing shared by bill and request-log readers.

Timestamps become int64 nanoseconds since the epoch (UTC) so periods are integer arithmetic:
a day is a floor division, a week starts on Monday (ISO), a month is numpy's calendar month.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Literal

from harness.errors import BadInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

Period = Literal["day", "week", "month"]
PERIODS: tuple[Period, ...] = ("day", "week", "month")

NS_PER_S = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_S
NAT = -(2**63)  # numpy's NaT as int64

# Plausible times for a bill or a request: 2000-01-01 .. 2100-01-01 UTC. Outside is a unit
# mistake (milliseconds read as seconds) or garbage ("5" is no date), never a real charge.
EARLIEST_NS = 946_684_800 * NS_PER_S
LATEST_NS = 4_102_444_800 * NS_PER_S
_ISO_DATE = r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}"


def check_period(period: str) -> Period:
    if period not in PERIODS:
        raise BadInput(f"--period must be one of {', '.join(PERIODS)} (got {period!r})")
    return period  # type: ignore[return-value]


def parse_timestamps_ns(values: pd.Series) -> np.ndarray:
    """Timestamps (ISO 8601 text, or epoch seconds as numbers or text) → int64 ns UTC.

    Text without an offset is taken as UTC. Values that do not parse, text without a full date
    ("2026"), and times outside 2000..2100 come back as NAT.
    """
    import numpy as np
    import pandas as pd

    out = np.full(len(values), NAT, dtype=np.int64)
    if len(values) == 0:
        return out
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        naive = values.dt.tz_convert("UTC").dt.tz_localize(None) if values.dt.tz else values
        return _plausible(_as_ns(naive))
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
        return _epoch_ns(values.to_numpy(dtype=np.float64, na_value=np.nan))
    cells = values.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=True) == "string":
        is_text = values.notna().to_numpy()
    else:  # mixed: epoch numbers beside ISO text
        is_text = np.fromiter((type(v) is str for v in cells), dtype=bool, count=len(cells))
    if is_text.any():
        # ISO first: trying every string as a number first costs ten times more.
        parsed = pd.to_datetime(
            pd.Series(cells[is_text], dtype=object), format="ISO8601", utc=True, errors="coerce"
        )
        iso = _as_ns(parsed.dt.tz_localize(None))
        dated = pd.Series(cells[is_text], dtype=object).str.match(_ISO_DATE).to_numpy(dtype=bool)
        out[is_text] = _plausible(np.where(dated, iso, NAT))
        retry = is_text & (out == NAT)  # epoch seconds written as text
        if retry.any():
            out[retry] = _epoch_ns(_numbers(cells[retry]))
    if not is_text.all():
        out[~is_text] = _epoch_ns(_numbers(cells[~is_text]))
    return out


def _plausible(ns: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.where((ns >= EARLIEST_NS) & (ns < LATEST_NS), ns, NAT)


def _numbers(cells: np.ndarray) -> np.ndarray:

    return numbers_or_nan(cells)


def numbers_or_nan(cells: np.ndarray) -> np.ndarray:
    """Cells as float64; what is no number, a boolean, or an integer too large for a float is
    NaN (pandas raises on the last)."""
    import numpy as np
    import pandas as pd

    series = pd.Series(cells, dtype=object)
    try:
        numbers = pd.to_numeric(series, errors="coerce")
    except (OverflowError, ValueError):
        numbers = pd.to_numeric(series.map(_safe_number), errors="coerce")
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan)


def _safe_number(value: object) -> object:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            return None
    return value


def _as_ns(naive: pd.Series) -> np.ndarray:
    """Naive UTC datetimes → int64 ns; out of 2000..2100 (9999-12-31 overflows ns) → NAT."""
    import numpy as np

    seconds = naive.to_numpy().astype("datetime64[s]")
    whole = seconds.view(np.int64)
    inside = (
        ~np.isnat(seconds) & (whole >= EARLIEST_NS // NS_PER_S) & (whole < LATEST_NS // NS_PER_S)
    )
    out = np.full(len(naive), NAT, dtype=np.int64)
    if inside.any():
        out[inside] = naive[inside].astype("datetime64[ns]").to_numpy().view(np.int64)
    return out


def _epoch_ns(seconds: np.ndarray) -> np.ndarray:
    """Epoch seconds → int64 ns; NaN and implausible values (e.g. milliseconds) → NAT."""
    import numpy as np

    out = np.full(len(seconds), NAT, dtype=np.int64)
    valid = (
        np.isfinite(seconds)
        & (seconds >= EARLIEST_NS / NS_PER_S)
        & (seconds < LATEST_NS / NS_PER_S)
    )
    whole = np.floor(seconds[valid])
    # Whole and fractional seconds apart: float64 ns near 1.8e18 would lose ~100 ns.
    fraction = np.round((seconds[valid] - whole) * NS_PER_S).astype(np.int64)
    out[valid] = whole.astype(np.int64) * NS_PER_S + fraction
    return out


def period_starts_ns(stamps_ns: np.ndarray, period: Period) -> np.ndarray:
    """The UTC start (int64 ns) of the period each timestamp falls in; NAT stays NAT."""
    import numpy as np

    valid = stamps_ns != NAT
    out = np.full(stamps_ns.shape, NAT, dtype=np.int64)
    ns = stamps_ns[valid]
    days = ns // NS_PER_DAY  # floor division: right for times before 1970 too
    if period == "day":
        out[valid] = days * NS_PER_DAY
    elif period == "week":
        # 1970-01-01 was a Thursday: day 0 is weekday 3 (Monday = 0).
        out[valid] = (days - (days + 3) % 7) * NS_PER_DAY
    else:
        months = ns.view("datetime64[ns]").astype("datetime64[M]")
        out[valid] = months.astype("datetime64[ns]").view(np.int64)
    return out


def period_end_ns(start_ns: int, period: Period) -> int:
    """The exclusive end of the period that starts at `start_ns`."""
    import numpy as np

    if period == "day":
        return start_ns + NS_PER_DAY
    if period == "week":
        return start_ns + 7 * NS_PER_DAY
    month = np.int64(start_ns).view("datetime64[ns]").astype("datetime64[M]") + 1
    return int(month.astype("datetime64[ns]").view(np.int64))


def iso_utc(ns: int) -> str:
    """ISO 8601 with an explicit UTC offset, seconds precision (period bounds are whole seconds)."""
    return datetime.fromtimestamp(ns // NS_PER_S, tz=timezone.utc).isoformat()
