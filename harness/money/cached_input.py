"""Input tokens a server's prefix cache served: their cost, and the market price they compare to.

The rule (one home; harness/money/cost.py's docstring states it too): a cached prompt token
needed no prefill, so the input tokens' share of a row's cost is carried by the uncached input
tokens alone, and a cached token costs the prefill it did not need: nothing.

    uncached cost per input token = input cost per token ÷ (1 − cache_hit_rate)
    cached cost per input token   = 0
    blended (the row's cost per input token) = (1 − h) × uncached + h × cached

Both are empty where the row measured no hit rate or no input cost; the uncached cost is empty
at a hit rate of 1 (no uncached token to carry it). The market side blends the provider's cached
and uncached input prices at the same measured hit rate (`blended_input_price`), so margin and
cost compare the same mix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

INPUT_UNIT = "input_token"
"""The unit whose cost and price a prefix cache changes."""

CACHED_COST_COLUMNS: tuple[str, ...] = (
    "cache_hit_rate", "cost_per_uncached_input_token_usd", "cost_per_cached_input_token_usd",
)  # fmt: skip
"""Extra columns of `unit_costs` (after the contract columns): the row's measured hit rate and,
on `input_token` rows, the cost per uncached and per cached input token."""


def split_input_cost(
    cost_per_input_token: pd.Series, cache_hit_rate: pd.Series
) -> tuple[pd.Series, pd.Series]:
    """(uncached, cached) cost per input token from the blended cost and the hit rate."""
    rate = cache_hit_rate.where((cache_hit_rate >= 0) & (cache_hit_rate <= 1))
    known = cost_per_input_token.notna() & rate.notna()
    with np.errstate(divide="ignore", invalid="ignore"):
        uncached = cost_per_input_token / (1.0 - rate)
    uncached = uncached.where(known & (rate < 1))
    cached = pd.Series(np.where(known, 0.0, np.nan), index=cost_per_input_token.index)
    return uncached, cached


def add_cached_costs(long: pd.DataFrame) -> None:
    """Fill CACHED_COST_COLUMNS of a `unit_costs` frame in place (the row's `cache_hit_rate`
    and `unit`, `cost_per_unit_usd` are already there)."""
    on_input = long["unit"] == INPUT_UNIT
    cost = long["cost_per_unit_usd"].where(on_input)
    uncached, cached = split_input_cost(cost, long["cache_hit_rate"].where(on_input))
    long["cost_per_uncached_input_token_usd"] = uncached
    long["cost_per_cached_input_token_usd"] = cached


def blended_prices(price: ArrayLike, cached_price: ArrayLike, cache_hit_rate: ArrayLike) -> np.ndarray:
    """A provider's price per input token for a mix with this share of cached input: its cached
    price on the cached share, its input price on the rest. NaN without a cached price or a hit
    rate in 0..1 (a hit rate outside it is not a share)."""
    price = np.asarray(price, dtype=float)
    cached = np.asarray(cached_price, dtype=float)
    rate = np.asarray(cache_hit_rate, dtype=float)
    with np.errstate(invalid="ignore"):
        share = np.where((rate >= 0) & (rate <= 1), rate, np.nan)
    return share * cached + (1.0 - share) * price
