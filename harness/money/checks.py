"""Reading hand-written YAML files and checking their fields, with one-line errors that say where."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.errors import BadInput

CURRENCIES: frozenset[str] = frozenset(
    {
        "USD",
        "EUR",
        "GBP",
        "JPY",
        "CNY",
        "CAD",
        "AUD",
        "CHF",
        "INR",
        "KRW",
        "SEK",
        "NOK",
        "DKK",
        "SGD",
        "HKD",
        "BRL",
        "MXN",
        "NZD",
        "PLN",
        "ZAR",
        "CZK",
        "ILS",
        "TWD",
    }
)
"""ISO 4217 codes a card may state. Pricing itself is done in one currency at a time."""


def read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """The top-level mapping of a YAML file, or BadInput naming the file and the problem."""
    import yaml

    if not path.is_file():
        raise BadInput(f"{path}: no such {what} file")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise BadInput(f"{path}: not valid YAML{where} ({problem})") from None
    except (OSError, UnicodeDecodeError) as err:
        raise BadInput(f"{path}: cannot read ({err})") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a mapping of fields at the top, got {_kind(data)}")
    return data


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def reject_unknown(data: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise BadInput(f"{where}: unknown field {unknown[0]!r} (fields: {', '.join(allowed)})")


def require(data: Mapping[str, Any], field: str, where: str) -> Any:
    if field not in data or data[field] is None:
        raise BadInput(f"{where}: missing field {field!r}")
    return data[field]


def number(
    value: Any, field: str, where: str, *, minimum: float = 0.0, strict: bool = False
) -> float:
    """A finite number ≥ minimum (> minimum when strict)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadInput(f"{where}: {field} must be a number (got {value!r})")
    result = float(value)
    if not math.isfinite(result):
        raise BadInput(f"{where}: {field} must be a finite number (got {value!r})")
    if result < minimum or (strict and result == minimum):
        if minimum == 0.0:
            relation = "positive" if strict else "negative"
            message = f"must be {relation}" if strict else f"must not be {relation}"
        else:
            message = f"must be {'>' if strict else '≥'} {minimum:g}"
        raise BadInput(f"{where}: {field} {message} (got {value!r})")
    return result


def share(value: Any, field: str, where: str) -> float:
    """A fraction between 0 and 1 inclusive."""
    result = number(value, field, where, minimum=-math.inf)
    if not 0.0 <= result <= 1.0:
        raise BadInput(f"{where}: {field} must be a share between 0 and 1 (got {value!r})")
    return result


def integer(value: Any, field: str, where: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInput(f"{where}: {field} must be a whole number (got {value!r})")
    if value < minimum:
        raise BadInput(f"{where}: {field} must be ≥ {minimum} (got {value!r})")
    return value


def text(value: Any, field: str, where: str) -> str:
    if (
        not isinstance(value, (str, int, float))
        or isinstance(value, bool)
        or str(value).strip() == ""
    ):
        raise BadInput(f"{where}: {field} must be a non-empty text (got {value!r})")
    return str(value).strip()


def as_of_date(value: Any, where: str) -> str:
    """`as_of` as an ISO date string; YAML reads an unquoted date as a date already."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise BadInput(f"{where}: as_of must be a date like 2026-11-01 (got {value!r})")


def currency(value: Any, where: str) -> str:
    code = str(value).strip().upper() if isinstance(value, str) else None
    if code not in CURRENCIES:
        known = ", ".join(sorted(CURRENCIES))
        raise BadInput(f"{where}: unknown currency {value!r} (known: {known})")
    return code
