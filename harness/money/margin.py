"""Gross margin at candidate prices, break-even prices and prices for target margins."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from harness.errors import BadInput
from harness.money.cached_input import INPUT_UNIT, blended_prices
from harness.money.cost import MARGIN_RANGE_COLUMNS, PRICED_COLUMNS
from harness.money.prices import CandidatePrice

if TYPE_CHECKING:
    from harness.money.scenario import Revenue

DEFAULT_TARGET_MARGINS: tuple[float, ...] = (0.5, 0.7, 0.8)


def gross_margin(price: pd.Series | float, cost: pd.Series | float) -> pd.Series | float:
    """(price − cost) / price; undefined (NaN) for a price of 0 — free has no margin."""
    price_arr = np.asarray(price, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        margin = np.where(
            price_arr > 0, (price_arr - np.asarray(cost, dtype=float)) / price_arr, np.nan
        )
    if isinstance(price, pd.Series):
        return pd.Series(margin, index=price.index)
    if isinstance(cost, pd.Series):
        return pd.Series(margin, index=cost.index)
    if isinstance(price, np.ndarray) or isinstance(cost, np.ndarray):
        return margin
    return float(margin)


def revenue_for(revenue: Revenue, calls: Any, count: Callable[[str], Any]) -> Any:
    """Revenue of `calls` calls under a scenario's revenue model (the one home of this rule).

    `count(unit)` gives the units those calls did (scalars or Series alike): per call is
    price × calls; per unit sums price × units; a bundle is package price ÷ (included units ×
    expected use share) per unit; free has no revenue (NaN: its margin is undefined).
    """
    if revenue.model == "per_call":
        return float(revenue.price_per_call_usd or 0.0) * calls
    if revenue.model == "per_unit":
        return sum((p.price_per_unit_usd * count(p.unit) for p in revenue.unit_prices), 0.0 * calls)
    if revenue.model == "bundle":
        included = float(revenue.included_units or math.nan) * revenue.expected_use_share
        return float(revenue.package_price_usd or 0.0) / included * count(revenue.bundle_unit)
    return math.nan * calls


def price_for_margin(cost: pd.Series | float, margin: float) -> pd.Series | float:
    """The price at which `cost` leaves gross margin `margin` (0 ≤ margin < 1)."""
    return cost / (1.0 - margin)


def margin_column(margin: float) -> str:
    return f"price_for_margin_{margin * 100:g}_usd".replace(".", "_")


def parse_target_margin(text: str) -> float:
    """`70`, `70%` or `0.7` → 0.7. Values below 1 are shares, from 1 up percentages."""
    match = re.fullmatch(r"\s*(\d+(\.\d*)?|\.\d+)\s*(%?)\s*", text)
    if match is None:
        raise BadInput(f"--target-margin {text!r}: expected a percentage such as 70 or 70%")
    value = float(match[1])
    share = value / 100.0 if match[3] or value >= 1.0 else value
    if not (0.0 < share < 1.0) or not math.isfinite(share):
        raise BadInput(f"--target-margin {text!r}: must be between 0 and 100 %")
    return share


def price_frame(prices: Iterable[CandidatePrice]) -> pd.DataFrame:
    records = [
        {
            "workload": p.workload,
            "unit": p.unit,
            "price_per_unit_usd": p.price_per_unit_usd,
            "price_scale": p.scale,
            "price_label": p.label,
            "price_source": p.source,
            "price_as_of": p.as_of,
            "cached_price_per_unit_usd": p.cached_price_per_unit_usd,
        }
        for p in prices
    ]
    return pd.DataFrame.from_records(
        records,
        columns=[
            "workload",
            "unit",
            "price_per_unit_usd",
            "price_scale",
            "price_label",
            "price_source",
            "price_as_of",
            "cached_price_per_unit_usd",
        ],
    )


def _blend_cached_input(priced: pd.DataFrame) -> pd.DataFrame:
    """On input-token rows that measured a cache hit rate, the candidate price becomes the
    provider's cached/uncached blend at that rate (harness/money/cached_input.py); its list
    price stays in `uncached_price_per_unit_usd`, its cached price in
    `cached_price_per_unit_usd`."""
    priced["uncached_price_per_unit_usd"] = priced["price_per_unit_usd"]
    if "cache_hit_rate" not in priced.columns:
        return priced
    blended = pd.Series(
        blended_prices(priced["price_per_unit_usd"],
                       pd.to_numeric(priced["cached_price_per_unit_usd"], errors="coerce"),
                       pd.to_numeric(priced["cache_hit_rate"], errors="coerce")),
        index=priced.index,
    )  # fmt: skip
    on_input = (priced["unit"] == INPUT_UNIT) & blended.notna()
    priced["price_per_unit_usd"] = blended.where(on_input, priced["price_per_unit_usd"])
    return priced


def apply_prices(
    costs: pd.DataFrame, prices: Iterable[CandidatePrice], target_margins: Iterable[float] = ()
) -> pd.DataFrame:
    """Add `price_per_unit_usd`, `gross_margin`, `gross_margin_low`, `gross_margin_high` (at
    the ends of the cost interval), `break_even_price_usd` (and one
    `price_for_margin_<pct>_usd` column per target margin) to a `unit_costs` frame.

    A unit with several candidate prices gets one row per candidate; a unit with none keeps its
    row with empty price and margin.
    """
    priced = costs.drop(
        columns=[
            c
            for c in ("price_per_unit_usd", "gross_margin", "break_even_price_usd",
                      *MARGIN_RANGE_COLUMNS)
            if c in costs.columns
        ]
    )  # fmt: skip
    priced = priced.merge(price_frame(prices), on=["workload", "unit"], how="left")
    priced = _blend_cached_input(priced)
    price = priced["price_per_unit_usd"]
    priced["gross_margin"] = gross_margin(price, priced["cost_per_unit_usd"])
    # The margin's interval: the high cost leaves the low margin, the low cost the high one.
    for margin, cost in (("gross_margin_low", "cost_per_unit_usd_high"),
                         ("gross_margin_high", "cost_per_unit_usd_low")):
        priced[margin] = gross_margin(price, priced.get(cost, np.nan))
    priced["break_even_price_usd"] = priced["cost_per_unit_usd"]
    for margin in target_margins:
        priced[margin_column(margin)] = price_for_margin(priced["cost_per_unit_usd"], margin)
    rest = [c for c in priced.columns if c not in PRICED_COLUMNS]
    return priced.reindex(columns=[*PRICED_COLUMNS, *rest])
