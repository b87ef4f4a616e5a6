"""Summaries of per-iteration samples. Empty input gives None, never 0."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), q in [0, 100]."""
    data = sorted(v for v in values if v is not None and not math.isnan(v))
    if not data:
        return None
    if len(data) == 1:
        return data[0]
    pos = (len(data) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def mean(values: Sequence[float | None]) -> float | None:
    data = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.fmean(data) if data else None


def cv(values: Sequence[float | None]) -> float | None:
    """Coefficient of variation (sample stdev / mean); None below two samples."""
    data = [v for v in values if v is not None and not math.isnan(v)]
    if len(data) < 2:
        return None
    m = statistics.fmean(data)
    return statistics.stdev(data) / m if m else None
