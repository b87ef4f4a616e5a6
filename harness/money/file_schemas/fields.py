"""Field types of the hand-written files. Each refuses with a phrase that reads after the
field's name ("must not be negative (got -0.5)"), which `refusal.py` puts in one line."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from harness.errors import BadInput, shown
from harness.money.yamlfile import Location

CURRENCIES: frozenset[str] = frozenset(
    {
        "USD", "EUR", "GBP", "JPY", "CNY", "CAD", "AUD", "CHF", "INR", "KRW", "SEK", "NOK",
        "DKK", "SGD", "HKD", "BRL", "MXN", "NZD", "PLN", "ZAR", "CZK", "ILS", "TWD",
    }
)  # fmt: skip
"""ISO 4217 codes a card may state. Pricing itself is done in one currency at a time."""

LARGEST = 1e15
"""No price, count or size in a card or scenario is this large; beyond it sums overflow."""

MAX_TEXT = 2000
"""Longest name, source or caveat a card may give (sources cite a few pages)."""


def _text(value: Any) -> str:
    if (
        not isinstance(value, (str, int, float))
        or isinstance(value, bool)
        or (isinstance(value, float) and not math.isfinite(value))
        or str(value).strip() == ""
        or len(str(value)) > MAX_TEXT
    ):
        raise ValueError(f"must be a non-empty text (got {shown(value)})")
    return str(value).strip()


def _not_huge(value: float) -> float:
    if abs(value) > LARGEST:
        raise ValueError(f"is too large to be a real figure (got {shown(value)})")
    return value


def _share(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"must be a share between 0 and 1 (got {shown(value)})")
    return value


def _positive_share(value: float) -> float:
    if _share(value) == 0:
        raise ValueError("must be > 0")
    return value


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"must be a date like 2026-11-01 (got {shown(value)})")


def _market_date(value: Any) -> str:
    return "undated" if value == "undated" else _date(value).isoformat()


def _currency(value: Any) -> str:
    code = value.strip().upper() if isinstance(value, str) else None
    if code not in CURRENCIES:
        known = ", ".join(sorted(CURRENCIES))
        raise ValueError(f"unknown currency {shown(value)} (known: {known})")
    return code


Text = Annotated[str, BeforeValidator(_text)]


def _number(**bounds: float) -> Any:
    """A finite number (an int is one too, a bool or a text is not) within `bounds` (ge, gt)."""
    # The bounds come before the size check so that they show in the JSON Schema.
    return Annotated[
        float, Field(strict=True, allow_inf_nan=False, **bounds), AfterValidator(_not_huge)
    ]


Number = _number()
NonNegative = _number(ge=0)
Positive = _number(gt=0)
AtLeastOne = _number(ge=1.0)
Count = Annotated[int, Field(strict=True, le=int(LARGEST))]
Share = Annotated[
    Number, AfterValidator(_share), Field(json_schema_extra={"minimum": 0, "maximum": 1})
]
PositiveShare = Annotated[
    Number, AfterValidator(_positive_share),
    Field(json_schema_extra={"exclusiveMinimum": 0, "maximum": 1}),
]  # fmt: skip
PositiveCount = Annotated[Count, Field(ge=1)]
Date = Annotated[dt.date, BeforeValidator(_date)]
MarketDate = Annotated[
    str, BeforeValidator(_market_date), Field(description='a date like 2026-11-01, or "undated"')
]
Currency = Annotated[str, BeforeValidator(_currency), Field(description="ISO 4217 code, e.g. USD")]


def as_of_text(value: Any, where: str) -> str:
    """`value` as an ISO date, or BadInput naming `where` (for a date given as an option)."""
    try:
        return _date(value).isoformat()
    except ValueError as err:
        raise BadInput(f"{where}: as_of {err}") from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Strict(BaseModel):
    """A file section: an unknown field is refused, never ignored."""

    model_config = ConfigDict(extra="forbid")


class FieldError(Exception):
    """A check made while building objects from a validated file, at `location` in the file."""

    def __init__(self, location: Location, message: str) -> None:
        super().__init__(message)
        self.location = location
        self.message = message


@contextmanager
def refused_at(location: Location) -> Iterator[None]:
    """A BadInput raised inside (by a helper shared with `--price`) re-raised at `location`."""
    try:
        yield
    except BadInput as err:
        raise FieldError(location, str(err).removeprefix(": ")) from None


