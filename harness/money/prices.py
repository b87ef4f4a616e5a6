"""Candidate prices: what a unit of work could sell for (`--price`, market reference prices)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import BadInput
from harness.money import checks
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
            f"{where}: unknown workload {checks.shown(workload)} (workloads: {', '.join(known)})"
        )
    if unit not in known[workload]:
        units = ", ".join(known[workload])
        raise BadInput(f"{where}: {workload} has no unit {checks.shown(unit)} (units of {workload}: {units})")


def parse_scale(text: str | int | None, where: str) -> int:
    if text is None:
        return 1
    label = str(text).strip().upper()
    if label not in SCALES:
        raise BadInput(f"{where}: unknown scale {checks.shown(text)} (scales: {', '.join(SCALES)})")
    return SCALES[label]


def parse_price(text: str) -> CandidatePrice:
    """`WORKLOAD.UNIT=VALUE[/SCALE]`, e.g. `text.output_token=0.60/1M` or `image.image=0.04`."""
    where = f"--price {checks.shown(text)}"
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
        raise BadInput(f"{where}: expected a price like 0.60/1M or 0.04 (got {checks.shown(text)})")
    price = _priced(workload, unit, match["value"], match["scale"], where)
    return CandidatePrice(workload, unit, price.price_per_unit_usd, price.scale, "scenario")


def _priced(
    workload: str, unit: str, value_text: str, scale_text: str | None, where: str
) -> CandidatePrice:
    value = float(value_text)
    if not math.isfinite(value):
        raise BadInput(f"{where}: a price must be a finite number (got {checks.shown(value_text)})")
    if value < 0:
        raise BadInput(f"{where}: a price must not be negative (got {checks.shown(value_text)})")
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


_MARKET_FIELDS = ("currency", "as_of", "source", "prices")
_ENTRY_FIELDS = ("unit", "price", "per", "product", "source", "date", "default")


def parse_market_card(data: Mapping[str, Any], path: Path) -> list[tuple[CandidatePrice, bool]]:
    """Entries of a market-price file with their `default` flag."""
    where = str(path)
    checks.reject_unknown(data, _MARKET_FIELDS, where)
    currency = checks.currency(checks.require(data, "currency", where), where)
    if currency != "USD":
        raise BadInput(f"{where}: market prices must be in USD (got {currency})")
    file_as_of = checks.as_of_date(checks.require(data, "as_of", where), where)
    checks.text(checks.require(data, "source", where), "source", where)
    entries = checks.require(data, "prices", where)
    if not isinstance(entries, list) or not entries:
        raise BadInput(f"{where}: prices must be a non-empty list")
    result: list[tuple[CandidatePrice, bool]] = []
    seen: set[tuple[str, str]] = set()
    for index, entry in enumerate(entries, start=1):
        entry_where = f"{where}: price #{index}"
        if not isinstance(entry, dict):
            raise BadInput(f"{entry_where}: expected a mapping of fields")
        checks.reject_unknown(entry, _ENTRY_FIELDS, entry_where)
        key = checks.text(checks.require(entry, "unit", entry_where), "unit", entry_where)
        workload, _, unit = key.partition(".")
        check_unit(workload, unit, entry_where)
        product = checks.text(checks.require(entry, "product", entry_where), "product", entry_where)
        entry_where = f"{where}: price #{index} ({product}, {key})"
        value = checks.number(checks.require(entry, "price", entry_where), "price", entry_where)
        scale = parse_scale(entry.get("per"), entry_where)
        source = checks.text(checks.require(entry, "source", entry_where), "source", entry_where)
        date = entry.get("date")
        as_of = (
            "undated" if date == "undated" else checks.as_of_date(date or file_as_of, entry_where)
        )
        if (key, product) in seen:
            raise BadInput(f"{entry_where}: duplicate entry for {product} {key}")
        seen.add((key, product))
        default = entry.get("default", False)
        if not isinstance(default, bool):
            raise BadInput(f"{entry_where}: default must be true or false (got {checks.shown(default)})")
        price = CandidatePrice(workload, unit, value / scale, scale, product, source, as_of)
        result.append((price, default))
    return result


def market_prices(
    extra_files: Iterable[str | Path] = (),
    include_user_dir: bool = True,
    all_products: bool = False,
) -> list[CandidatePrice]:
    """Hosted-API reference prices: one default per unit, or every product with `all_products`.

    The shipped `ratecards/market.yaml` comes first; market files in the user's rate-card folder
    and in `extra_files` replace entries of the same unit and product, and a default they mark
    replaces the shipped default for that unit.
    """
    from harness.money.ratecard import is_market_card, shipped_card_paths, user_card_paths

    paths = shipped_card_paths() + (user_card_paths() if include_user_dir else [])
    merged: dict[tuple[str, str], CandidatePrice] = {}
    defaults: dict[str, str] = {}
    for path in [*paths, *(Path(p) for p in extra_files)]:
        data = checks.read_yaml_mapping(path, "market price")
        if not is_market_card(data):
            continue
        for price, default in parse_market_card(data, path):
            merged[(price.key, price.label)] = price
            if default:
                defaults[price.key] = price.label
    if all_products:
        return list(merged.values())
    return [p for (key, label), p in merged.items() if defaults.get(key) == label]
