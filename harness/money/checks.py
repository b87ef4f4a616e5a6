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


MAX_YAML_BYTES = 4_000_000
"""Hand-written cards and scenarios are a few kB; anything this large is not one."""

MAX_YAML_DEPTH = 32
"""Cards nest three levels deep; deeper nesting is refused before it can exhaust the stack."""


def _safe_loader() -> type:
    """A SafeLoader that refuses aliases (an alias bomb expands a few hundred bytes into
    gigabytes), duplicate keys (the later one would silently win) and deep nesting."""
    import yaml

    class Loader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.constructor.ConstructorError(
                    None, None, "aliases (*name) are not allowed; write the value out",
                    event.start_mark,
                )
            self.depth += 1
            if self.depth > MAX_YAML_DEPTH:
                raise yaml.constructor.ConstructorError(
                    None, None, f"nested deeper than {MAX_YAML_DEPTH} levels",
                    self.peek_event().start_mark,
                )
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise yaml.constructor.ConstructorError(
                        None, None, "merge keys (<<) are not allowed", key_node.start_mark
                    )
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:
                    raise yaml.constructor.ConstructorError(
                        None, None, "a key must be a plain value", key_node.start_mark
                    ) from None
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {shown(key)}", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return Loader


def read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """The top-level mapping of a YAML file, or BadInput naming the file and the problem."""
    import yaml

    if not path.is_file():
        raise BadInput(f"{path}: no such {what} file")
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise BadInput(
                f"{path}: {size:,} bytes is too large for a {what} file "
                f"(at most {MAX_YAML_BYTES:,})"
            )
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_safe_loader())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise BadInput(f"{path}: not valid YAML{where} ({problem})") from None
    except RecursionError:
        raise BadInput(f"{path}: not valid YAML (nested too deeply)") from None
    except (OSError, UnicodeDecodeError) as err:
        raise BadInput(f"{path}: cannot read ({err})") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a mapping of fields at the top, got {_kind(data)}")
    return data


def shown(value: Any, limit: int = 60) -> str:
    """A value as an error message shows it: scalars quoted and cut short, containers only by
    their kind and size (never printed whole: they can be huge)."""
    if isinstance(value, dict):
        return f"a mapping of {len(value)} fields"
    if isinstance(value, (list, tuple, set)):
        return f"a list of {len(value)} items"
    if value is None:
        return "nothing"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def reject_unknown(data: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise BadInput(f"{where}: unknown field {shown(unknown[0])} (fields: {', '.join(allowed)})")


def require(data: Mapping[str, Any], field: str, where: str) -> Any:
    if field not in data or data[field] is None:
        raise BadInput(f"{where}: missing field {field!r}")
    return data[field]


def number(
    value: Any, field: str, where: str, *, minimum: float = 0.0, strict: bool = False
) -> float:
    """A finite number ≥ minimum (> minimum when strict)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadInput(f"{where}: {field} must be a number (got {shown(value)})")
    try:
        result = float(value)
    except OverflowError:
        result = math.inf
    if not math.isfinite(result):
        raise BadInput(f"{where}: {field} must be a finite number (got {shown(value)})")
    if abs(result) > LARGEST:
        raise BadInput(f"{where}: {field} {shown(value)} is too large to be a real figure")
    if result < minimum or (strict and result == minimum):
        if minimum == 0.0:
            relation = "positive" if strict else "negative"
            message = f"must be {relation}" if strict else f"must not be {relation}"
        else:
            message = f"must be {'>' if strict else '≥'} {minimum:g}"
        raise BadInput(f"{where}: {field} {message} (got {shown(value)})")
    return result


def share(value: Any, field: str, where: str) -> float:
    """A fraction between 0 and 1 inclusive."""
    result = number(value, field, where, minimum=-math.inf)
    if not 0.0 <= result <= 1.0:
        raise BadInput(f"{where}: {field} must be a share between 0 and 1 (got {shown(value)})")
    return result


def integer(value: Any, field: str, where: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInput(f"{where}: {field} must be a whole number (got {shown(value)})")
    if value < minimum:
        raise BadInput(f"{where}: {field} must be ≥ {minimum} (got {shown(value)})")
    if value > LARGEST:
        raise BadInput(f"{where}: {field} {shown(value)} is too large to be a real figure")
    return value


LARGEST = 1e15
"""No price, count or size in a card or scenario is this large; beyond it sums overflow."""

MAX_TEXT = 2000
"""Longest name, source or caveat a card may give (sources cite a few pages)."""


def text(value: Any, field: str, where: str) -> str:
    if (
        not isinstance(value, (str, int, float))
        or isinstance(value, bool)
        or (isinstance(value, float) and not math.isfinite(value))
        or str(value).strip() == ""
        or len(str(value)) > MAX_TEXT
    ):
        raise BadInput(f"{where}: {field} must be a non-empty text (got {shown(value)})")
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
    raise BadInput(f"{where}: as_of must be a date like 2026-11-01 (got {shown(value)})")


def currency(value: Any, where: str) -> str:
    code = str(value).strip().upper() if isinstance(value, str) else None
    if code not in CURRENCIES:
        known = ", ".join(sorted(CURRENCIES))
        raise BadInput(f"{where}: unknown currency {shown(value)} (known: {known})")
    return code
