"""The market-price file: reference prices of hosted APIs, candidate prices per unit of work."""

from __future__ import annotations

from pydantic import Field, field_validator

from harness.money.file_schemas.fields import (
    Currency,
    Date,
    FieldError,
    MarketDate,
    NonNegative,
    Strict,
    Text,
    refused_at,
)
from harness.money.prices import CandidatePrice, check_unit, parse_scale


class MarketEntry(Strict):
    unit: Text = Field(description="WORKLOAD.UNIT, e.g. text.output_token")
    price: NonNegative
    per: Text | None = Field(default=None, description="scale the price is quoted per: 1K, 1M")
    product: Text
    source: Text
    date: MarketDate | None = None
    default: bool = Field(default=False, strict=True)
    cached_price: NonNegative | None = Field(
        default=None, description="input tokens only: the price when served from the prompt cache"
    )


class MarketFile(Strict):
    """Reference prices of hosted APIs: candidate prices per unit of work."""

    currency: Currency
    as_of: Date
    source: Text
    prices: list[MarketEntry] = Field(min_length=1)

    @field_validator("currency")
    @classmethod
    def _usd(cls, currency: str) -> str:
        if currency != "USD":
            raise ValueError(f"market prices must be in USD (got {currency})")
        return currency

    def build(self) -> list[tuple[CandidatePrice, bool]]:
        """Each entry as a candidate price, with its `default` flag."""
        result: list[tuple[CandidatePrice, bool]] = []
        seen: set[tuple[str, str]] = set()
        for index, entry in enumerate(self.prices):
            at = ("prices", index)
            workload, _, unit = entry.unit.partition(".")
            with refused_at(at):
                check_unit(workload, unit, "")
                scale = parse_scale(entry.per, "")
            if (entry.unit, entry.product) in seen:
                raise FieldError(at, f"duplicate entry for {entry.product} {entry.unit}")
            seen.add((entry.unit, entry.product))
            as_of = entry.date or self.as_of.isoformat()
            if entry.cached_price is not None and unit != "input_token":
                raise FieldError(at, f"cached_price is for input tokens, not {entry.unit}")
            if entry.cached_price is not None and entry.cached_price > entry.price:
                raise FieldError(at, "cached_price is more than the input price")
            cached = None if entry.cached_price is None else entry.cached_price / scale
            price = CandidatePrice(
                workload, unit, entry.price / scale, scale, entry.product, entry.source, as_of,
                cached,
            )  # fmt: skip
            result.append((price, entry.default))
        return result
