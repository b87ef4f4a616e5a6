"""Candidate prices: what a unit of work could sell for (`--price`, market reference prices)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from harness.errors import BadInput, shown
from harness.money.units import SCALES, scale_label, units_by_workload
from harness.render.text import quote_text


@dataclass(frozen=True)
class CandidatePrice:
    """A price for one unit of one workload. `scale` is how it was quoted (1, 1K or 1M units);
    `price_per_unit_usd` is always per single unit."""

    workload: str
    unit: str
    price_per_unit_usd: float
    scale: int = 1
    label: str = "--price"
    source: str = ""
    as_of: str = ""
    cached_price_per_unit_usd: float | None = None
    """an input token's price when the provider's prompt cache serves it (hosted APIs charge
    cached input at a fraction of the input price); None where none is quoted"""

    @property
    def key(self) -> str:
        return f"{self.workload}.{self.unit}"

    @property
    def quoted(self) -> str:
        """The price as a person would write it, e.g. `$0.60/1M`."""
        per = "" if self.scale == 1 else f"/{scale_label(self.scale)}"
        return f"{quote_text(self.price_per_unit_usd * self.scale)}{per}"


_PRICE_RE = re.compile(
    r"^\s*(?P<workload>[A-Za-z_][\w-]*)\.(?P<unit>[A-Za-z_]\w*)\s*=\s*\$?\s*"
    r"(?P<value>[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?)\s*(/\s*(?P<scale>\w+))?\s*$"
)


def check_unit(workload: str, unit: str, where: str) -> None:
    known = units_by_workload()
    if workload not in known:
        raise BadInput(
            f"{where}: unknown workload {shown(workload)} (workloads: {', '.join(known)})"
        )
    if unit not in known[workload]:
        units = ", ".join(known[workload])
        raise BadInput(f"{where}: {workload} has no unit {shown(unit)} (units of {workload}: {units})")


def parse_scale(text: str | int | None, where: str) -> int:
    if text is None:
        return 1
    label = str(text).strip().upper()
    if label not in SCALES:
        raise BadInput(f"{where}: unknown scale {shown(text)} (scales: {', '.join(SCALES)})")
    return SCALES[label]


def parse_price(text: str) -> CandidatePrice:
    """`WORKLOAD.UNIT=VALUE[/SCALE]`, e.g. `text.output_token=0.60/1M` or `image.image=0.04`."""
    where = f"--price {shown(text)}"
    match = _PRICE_RE.match(text)
    if match is None:
        raise BadInput(
            f"{where}: expected WORKLOAD.UNIT=VALUE[/SCALE], "
            "e.g. text.output_token=0.60/1M or image.image=0.04"
        )
    check_unit(match["workload"], match["unit"], where)
    return _priced(match["workload"], match["unit"], match["value"], match["scale"], where)


_VALUE_RE = re.compile(
    r"^\s*\$?\s*(?P<value>[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?)\s*"
    r"(/\s*(?P<scale>\w+))?\s*$"
)


def parse_price_value(text: str, workload: str, unit: str, where: str) -> CandidatePrice:
    """`VALUE[/SCALE]` for a known workload and unit (scenario files); `where` names the field."""
    match = _VALUE_RE.match(text)
    if match is None:
        raise BadInput(f"{where}: expected a price like 0.60/1M or 0.04 (got {shown(text)})")
    price = _priced(workload, unit, match["value"], match["scale"], where)
    return CandidatePrice(workload, unit, price.price_per_unit_usd, price.scale, "scenario")


def _priced(
    workload: str, unit: str, value_text: str, scale_text: str | None, where: str
) -> CandidatePrice:
    value = float(value_text)
    if not math.isfinite(value):
        raise BadInput(f"{where}: a price must be a finite number (got {shown(value_text)})")
    if value < 0:
        raise BadInput(f"{where}: a price must not be negative (got {shown(value_text)})")
    scale = parse_scale(scale_text, where)
    return CandidatePrice(workload, unit, value / scale, scale)


IMPLAUSIBLE_FACTOR = 1000.0
"""A given price this many times the market price of its unit is most likely quoted per unit
when it meant per 1M (or 1K) units."""


def with_market(
    given: Sequence[CandidatePrice], market: Sequence[CandidatePrice]
) -> tuple[tuple[CandidatePrice, ...], tuple[str, ...]]:
    """`given` prices replace the market prices of their units; the market prices of every other
    unit stay. Also a warning per given price that is implausible for its unit."""
    keys = {p.key for p in given}
    warnings = []
    for price in given:
        reference = [m for m in market if m.key == price.key and m.price_per_unit_usd > 0]
        if not reference:
            continue
        highest = max(reference, key=lambda m: m.price_per_unit_usd)
        if price.price_per_unit_usd > highest.price_per_unit_usd * IMPLAUSIBLE_FACTOR:
            warnings.append(
                f"--price {price.key}={price.quoted} is over {IMPLAUSIBLE_FACTOR:,.0f}× the "
                f"market price ({highest.quoted}, {highest.label}): did you mean "
                f"{quote_text(price.price_per_unit_usd * price.scale)}/1M?"
                if price.scale == 1
                else f"--price {price.key}={price.quoted} is over {IMPLAUSIBLE_FACTOR:,.0f}× "
                f"the market price ({highest.quoted}, {highest.label})"
            )
    kept = tuple(m for m in market if m.key not in keys)
    return (*given, *kept), tuple(warnings)


def blended_input_price(price: CandidatePrice, cache_hit_rate: float | None) -> float | None:
    """Per input token, what the provider charges for a mix with this share of cached input:
    its cached price on the cached share, its input price on the rest. None without a cached
    price or a measured hit rate; a hit rate outside 0..1 is not a share and gives None."""
    if price.cached_price_per_unit_usd is None or cache_hit_rate is None:
        return None
    # Here, not at the top: cached_input needs pandas, and reading price files must stay light
    # (`ratecards list` and rate-card lookups never load it).
    from harness.money.cached_input import blended_prices

    value = float(blended_prices(price.price_per_unit_usd, price.cached_price_per_unit_usd,
                                 cache_hit_rate))  # fmt: skip
    return None if math.isnan(value) else value
