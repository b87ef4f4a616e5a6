"""`--find-max-load`: the highest load level that still meets the SLO.

Given the levels already measured (concurrency or request rate → met the SLO, missed it, or
could not be judged), bisect between the highest level that meets the SLO below the lowest one
that misses it and that lowest miss, measuring a bounded number of extra levels. Latency grows
with load, so the first miss bounds the answer: a meeting level above a miss (noise) is not
taken as the maximum. A level that cannot be judged during the search counts as a miss.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

FOUND = "found"
ALL_MET = "all_met"
NONE_MET = "none_met"
UNJUDGED = "unjudged"


@dataclass
class MaxLoad:
    """`best` is the highest meeting level below the first miss (None when none met);
    `verdict` is one of FOUND, ALL_MET, NONE_MET, UNJUDGED; `extra` the levels the search added,
    in the order measured."""

    best: float | None
    verdict: str
    outcomes: dict[float, bool | None]
    extra: list[float] = field(default_factory=list)


def round_rate(value: float) -> float:
    """A request rate to two significant figures (7.74 → 7.7, 13.3 → 13)."""
    if value <= 0 or not math.isfinite(value):
        return value
    digits = 1 - math.floor(math.log10(value))
    return round(value, digits)


def next_level(low: float, high: float, integer: bool) -> float | None:
    """The level between `low` (meets) and `high` (misses) to measure next; None when no level
    lies strictly between them at the search's resolution."""
    if integer:
        mid: float = (int(low) + int(high)) // 2
    elif math.isinf(high):
        mid = round_rate(low * 2)
    else:
        mid = round_rate((low + high) / 2)
    return mid if low < mid < high else None


def _bracket(outcomes: Mapping[float, bool | None]) -> tuple[float | None, float | None]:
    """(highest meeting level below the lowest miss, lowest miss); None where there is none."""
    misses = [level for level, met in outcomes.items() if met is not True and met is not None]
    first_miss = min(misses) if misses else None
    meets = [
        level
        for level, met in outcomes.items()
        if met is True and (first_miss is None or level < first_miss)
    ]
    return (max(meets) if meets else None), first_miss


def find_max_load(
    outcomes: Mapping[float, bool | None],
    measure: Callable[[float], bool | None],
    *,
    integer: bool,
    max_extra: int = 4,
) -> MaxLoad:
    """Search for the highest level that meets the SLO; `measure(level)` runs one more level and
    says whether it met the SLO. At most `max_extra` levels are added."""
    known: dict[float, bool | None] = dict(outcomes)
    if all(met is None for met in known.values()):
        return MaxLoad(None, UNJUDGED, known)
    extra: list[float] = []
    while len(extra) < max_extra:
        low, high = _bracket(known)
        if low is None or high is None:
            break
        level = next_level(low, high, integer)
        if level is None or level in known:
            break
        met = measure(level)
        known[level] = False if met is None else met
        extra.append(level)
    low, high = _bracket(known)
    if low is None:
        return MaxLoad(None, NONE_MET, known, extra)
    return MaxLoad(low, ALL_MET if high is None else FOUND, known, extra)
