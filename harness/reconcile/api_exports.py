"""Model API bills: the usage and cost reports of OpenAI and Anthropic, as their Admin APIs return
them (one JSON page, or a JSON list of pages, saved to a `.json` file).

- OpenAI `GET /v1/organization/usage/completions`: buckets (`start_time`, `end_time` in epoch
  seconds) whose `results` carry `model`, `input_tokens` (cached ones included),
  `input_cached_tokens`, `output_tokens`, `num_model_requests`.
- OpenAI `GET /v1/organization/costs`: buckets whose `results` carry `amount.value` (dollars),
  `amount.currency` and, grouped by line item, `line_item` ("gpt-4o-mini-2024-07-18, input").
- Anthropic `GET /v1/organizations/usage_report/messages`: buckets (`starting_at`, `ending_at`,
  RFC 3339) whose `results` carry `model`, `uncached_input_tokens`, `cache_read_input_tokens`,
  `cache_creation.ephemeral_5m_input_tokens` / `_1h_`, `output_tokens`.
- Anthropic `GET /v1/organizations/cost_report`: `results` with `amount` (a decimal string in
  cents), `currency`, `model`, `token_type`, `cost_type`.

Each provider and model is one resource group (`OpenAI gpt-4o-mini-2024-07-18`), whose units are
the input and output tokens the API counted: reconcile divides the API's fee by them, the way it
divides a GPU bill by the logged work. The files are small (a bucket a day), so Python reads them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import BadInput
from harness.reconcile.periods import Period

INPUT_UNIT, OUTPUT_UNIT, REQUEST_UNIT = "input_token", "output_token", "request"
API_SPLIT = "api"
"""The split of rows whose cost is the API's own charge for that token type."""

_INPUT_TYPES = {
    "input",
    "cached input",
    "uncached_input_tokens",
    "cache_read_input_tokens",
    "cache_creation.ephemeral_1h_input_tokens",
    "cache_creation.ephemeral_5m_input_tokens",
}
_OUTPUT_TYPES = {"output", "output_tokens"}


def is_api_export(path: Path) -> bool:
    """A `.json` file: bills in CSV and Parquet are never JSON, model API reports always are."""
    return path.name.lower().endswith(".json")


@dataclass(frozen=True)
class ApiTotals:
    """Per period start (int64 ns UTC) × group: cost, and per unit its count and (when the
    report splits cost by token type) that type's cost."""

    costs: list[tuple[int, str, float, int]]  # period_start_ns, group, cost_usd, line items
    units: list[tuple[int, str, str, float, float]]  # period, group, unit, units, unit cost_usd
    formats: list[tuple[str, str]]


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, what: str) -> BadInput:
        return BadInput(f"bill {self.path}: {where}: {what}")

    def load(self) -> list[dict[str, Any]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise BadInput(
                f"bill {self.path}: not UTF-8 text ({err.reason} at byte {err.start})"
            ) from None
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as err:
            raise BadInput(
                f"bill {self.path}: not valid JSON ({err.msg} on line {err.lineno}, "
                f"column {err.colno})"
            ) from None
        pages = doc if isinstance(doc, list) else [doc]
        for i, page in enumerate(pages):
            if not isinstance(page, dict) or not isinstance(page.get("data"), list):
                where = f"page {i + 1}" if isinstance(doc, list) else "the top level"
                raise self.fail(where, "not a usage or cost report page (no `data` list)")
        return pages

    def number(self, value: Any, where: str, cents: bool = False) -> float:
        if isinstance(value, bool) or value is None:
            raise self.fail(where, f"not a number ({json.dumps(value)})")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise self.fail(where, f"not a number ({json.dumps(value)})") from None
        if not math.isfinite(number) or (not cents and number < 0):
            raise self.fail(where, f"not a finite count ({json.dumps(value)})")
        return number / 100 if cents else number

    def start(self, bucket: dict[str, Any], where: str) -> datetime:
        if "start_time" in bucket:  # OpenAI: epoch seconds
            value = bucket["start_time"]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.fail(f"{where}.start_time", f"not epoch seconds ({json.dumps(value)})")
            moment = datetime.fromtimestamp(float(value), UTC) if abs(value) < 1e11 else None
        elif "starting_at" in bucket:  # Anthropic: RFC 3339
            value = bucket["starting_at"]
            try:
                moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                moment = None
            if moment is not None and moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            where += ".starting_at"
        else:
            raise self.fail(where, "a bucket without start_time or starting_at")
        if moment is None or not (2000 <= moment.year < 2100):
            raise self.fail(where, f"not a date in 2000-2100 ({json.dumps(value)})")
        return moment.astimezone(UTC)


@dataclass(frozen=True)
class _Item:
    start: datetime
    group: str
    cost: float | None = None
    token_type: str | None = None  # of a cost, when the report splits it
    tokens: dict[str, float] | None = None  # of usage: unit -> count


def _items(reader: _Reader, pages: list[dict[str, Any]]) -> Iterator[tuple[str, _Item]]:
    """(currency or "", item) for every result of every bucket."""
    for p, page in enumerate(pages):
        for b, bucket in enumerate(page["data"]):
            where = (f"page {p + 1} " if len(pages) > 1 else "") + f"data[{b}]"
            if not isinstance(bucket, dict) or not isinstance(bucket.get("results"), list):
                raise reader.fail(where, "a bucket without a `results` list")
            start = reader.start(bucket, where)
            openai = "start_time" in bucket
            provider = "OpenAI" if openai else "Anthropic"
            for r, result in enumerate(bucket["results"]):
                at = f"{where}.results[{r}]"
                if not isinstance(result, dict):
                    raise reader.fail(at, "a result that is not an object")
                yield _result(reader, result, at, start, provider, openai)


def _result(
    reader: _Reader, result: dict[str, Any], at: str, start: datetime, provider: str, openai: bool
) -> tuple[str, _Item]:
    def count(key: str) -> float:
        value = result.get(key)
        return 0.0 if value is None else reader.number(value, f"{at}.{key}")

    if "amount" in result:
        amount = result["amount"]
        if openai:
            if not isinstance(amount, dict):
                raise reader.fail(f"{at}.amount", "not an object with value and currency")
            cost = reader.number(amount.get("value"), f"{at}.amount.value", cents=False)
            currency = str(amount.get("currency") or "")
            model, token_type = _line_item(result.get("line_item"))
        else:
            cost = reader.number(amount, f"{at}.amount", cents=True)
            currency = str(result.get("currency") or "")
            model = result.get("model") or result.get("description") or "(all models)"
            token_type = result.get("token_type")
        return currency.upper(), _Item(start, f"{provider} {model}", cost, token_type)
    if openai and ("input_tokens" in result or "output_tokens" in result):
        tokens = {INPUT_UNIT: count("input_tokens"), OUTPUT_UNIT: count("output_tokens")}
        if result.get("num_model_requests") is not None:
            tokens[REQUEST_UNIT] = count("num_model_requests")
    elif not openai and ("uncached_input_tokens" in result or "output_tokens" in result):
        creation = result.get("cache_creation") or {}
        if not isinstance(creation, dict):
            raise reader.fail(f"{at}.cache_creation", "not an object")
        written = sum(
            reader.number(v, f"{at}.cache_creation.{k}")
            for k, v in creation.items()
            if v is not None
        )
        tokens = {
            INPUT_UNIT: count("uncached_input_tokens") + count("cache_read_input_tokens") + written,
            OUTPUT_UNIT: count("output_tokens"),
        }
    else:
        raise reader.fail(at, "neither a cost (amount) nor a token usage result")
    model = result.get("model") or "(all models)"
    return "", _Item(start, f"{provider} {model}", tokens=tokens)


def _line_item(value: Any) -> tuple[str, str | None]:
    """OpenAI's line item "gpt-4o-mini-2024-07-18, input" → (model, token type)."""
    if not value:
        return "(all models)", None
    text = str(value).strip()
    model, sep, kind = text.rpartition(", ")
    if sep and kind.lower() in _INPUT_TYPES | _OUTPUT_TYPES:
        return model, kind.lower()
    return text, None


def _period_start_ns(moment: datetime, period: Period) -> int:
    import pandas as pd

    stamp = pd.Timestamp(moment.replace(tzinfo=None))
    if period == "day":
        start = stamp.normalize()
    elif period == "week":
        start = (stamp - pd.Timedelta(days=stamp.weekday())).normalize()
    else:
        start = stamp.replace(day=1).normalize()
    return int(start.value)


def read_api_exports(paths: Sequence[Path], period: Period) -> ApiTotals:
    cost: dict[tuple[int, str], float] = {}
    lines: dict[tuple[int, str], int] = {}
    typed: dict[tuple[int, str, str], float] = {}
    units: dict[tuple[int, str, str], float] = {}
    formats: list[tuple[str, str]] = []
    currencies: dict[str, set[str]] = {}
    for path in paths:
        reader = _Reader(path)
        pages = reader.load()
        kinds: set[str] = set()
        for currency, item in _items(reader, pages):
            key = (_period_start_ns(item.start, period), item.group)
            provider = item.group.split(" ", 1)[0]
            if item.cost is not None:
                kinds.add(f"{provider} cost report")
                if currency:
                    currencies.setdefault(str(path), set()).add(currency)
                cost[key] = cost.get(key, 0.0) + item.cost
                lines[key] = lines.get(key, 0) + 1
                side = _side(item.token_type)
                if side:
                    typed[(*key, side)] = typed.get((*key, side), 0.0) + item.cost
            else:
                kinds.add(f"{provider} usage report")
                for unit, n in (item.tokens or {}).items():
                    units[(*key, unit)] = units.get((*key, unit), 0.0) + n
        formats.append((str(path), ", ".join(sorted(kinds)) or "empty model API report"))
    found = sorted(set().union(*currencies.values())) if currencies else []
    if found and found != ["USD"]:
        where = "; ".join(f"{f}: {', '.join(sorted(c))}" for f, c in currencies.items())
        raise BadInput(f"model API bills are not all in USD ({where}); convert them first")
    return ApiTotals(
        [(p, g, c, lines[(p, g)]) for (p, g), c in sorted(cost.items())],
        [(p, g, u, n, typed.get((p, g, u), math.nan)) for (p, g, u), n in sorted(units.items())],
        formats,
    )


def _side(token_type: str | None) -> str | None:
    if token_type in _INPUT_TYPES:
        return INPUT_UNIT
    if token_type in _OUTPUT_TYPES:
        return OUTPUT_UNIT
    return None


__all__ = ["API_SPLIT", "ApiTotals", "is_api_export", "read_api_exports"]
