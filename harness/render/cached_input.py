"""Lines under `price`'s answer for rows whose server's prefix cache served some input: the cost
per 1M input tokens cached and uncached beside the blended cost (the split's rule lives in
harness/money/cached_input.py). Rows without a measured hit rate give no line."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from harness.render.text import cost_text, finite

PER_MILLION = 1_000_000


def cached_input_lines(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """One line per run × workload shown with input tokens and a hit rate, then one saying how
    the market price was blended; nothing when no shown row measured a hit rate."""
    lines: list[str] = []
    seen: set[tuple[Any, Any]] = set()
    blended_price = False
    for record in records:
        rate = finite(record.get("cache_hit_rate"))
        if record.get("unit") != "input_token" or rate is None:
            continue
        blended_price |= finite(record.get("cached_price_per_unit_usd")) is not None
        key = (record.get("run_id"), record.get("workload"))
        if key in seen:
            continue
        seen.add(key)
        lines.append(
            f"{record.get('workload')} input, {rate * 100:.0f}% served from the prefix cache: "
            f"per 1M {cost_text(record.get('cost_per_unit_usd'), PER_MILLION)} blended, "
            f"{cost_text(record.get('cost_per_uncached_input_token_usd'), PER_MILLION)} "
            f"uncached, "
            f"{cost_text(record.get('cost_per_cached_input_token_usd'), PER_MILLION)} cached "
            "(a cached token needs no prefill)."
        )
    if blended_price:
        lines.append("Input prices are the provider's cached and uncached prices blended at "
                     "the measured hit rate.")  # fmt: skip
    return lines


__all__ = ["cached_input_lines"]
