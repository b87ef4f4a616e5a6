"""A load level's measurement row, computed from its requests' own timestamps."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from harness.endpoint.records import RequestRecord
from harness.money.confidence import endpoint_cost_columns
from harness.stats import mean, percentile

QUANTILES = (50, 90, 99)
LATENCY_NAMES = ("ttft_s", "tpot_s", "itl_s", "e2e_s")


def window_s(records: Sequence[RequestRecord]) -> float | None:
    """From the first measured request's start to the last one's end (or give-up)."""
    if not records:
        return None
    ends = [r.end_s if r.end_s is not None else r.start_s for r in records]
    start = min(r.start_s for r in records)
    return max(max(ends) - start, 0.0) or None


def summarise_level(
    records: Sequence[RequestRecord], workload: str, window: float | None = None
) -> dict[str, Any]:
    """Throughput, latency percentiles, errors and the units served in the window.

    Units count only requests that completed; the window spans every measured request, failed
    ones included, so errors make the cost per unit higher, as they do in production."""
    window = window if window is not None else window_s(records)
    ok = [r for r in records if r.ok]
    failed = [r for r in records if not r.ok]
    row: dict[str, Any] = {
        "window_s": window,
        "requests": len(ok) or None,
        "error_count": len(failed),
        "error_rate": len(failed) / len(records) if records else None,
        "iterations": len(ok),
    }
    inputs = [r.input_tokens for r in ok if r.input_tokens is not None]
    row["input_tokens"] = sum(inputs) if inputs and len(inputs) == len(ok) else None
    cached = [r.cached_input_tokens for r in ok if r.cached_input_tokens is not None]
    # Only a level where every request said how much of its prompt was cached has a total.
    row["cached_input_tokens"] = sum(cached) if ok and len(cached) == len(ok) else None
    row["cache_hit_rate"] = (
        row["cached_input_tokens"] / row["input_tokens"]
        if row["cached_input_tokens"] is not None and row["input_tokens"]
        else None
    )
    if workload == "embedding":
        row["sequences"] = len(ok) or None
        row["output_tokens"] = None
    else:
        outputs = [r.output_tokens for r in ok if r.output_tokens is not None]
        row["output_tokens"] = sum(outputs) if outputs else None
        asked = [r.requested_output_tokens for r in ok]
        row["output_len_honoured"] = (
            all(r.output_tokens == r.requested_output_tokens for r in ok) if ok else None
        )
        row["requested_output_tokens"] = sum(a for a in asked if a) if ok else None
    # The server's counts that were not taken: those requests' tokens came from the stream (or
    # the tokenizer), so no price rests on the server's number; the row says how many.
    row["usage_rejected_count"] = sum(1 for r in ok if r.usage_rejected is not None)
    for unit in ("requests", "input_tokens", "output_tokens", "sequences"):
        value = row.get(unit)
        row[f"{unit}_per_s"] = value / window if value and window else None
    row["requests_per_s"] = len(ok) / window if ok and window else None
    e2e = [r.e2e_s for r in ok]
    row["wall_s_mean"] = mean(e2e)
    row["wall_s_p50"] = percentile(e2e, 50)
    row["wall_s_p90"] = percentile(e2e, 90)
    row["wall_s_p99"] = percentile(e2e, 99)
    series: dict[str, list[float]] = {
        "ttft_s": [r.ttft_s for r in ok if r.ttft_s is not None],
        "tpot_s": [r.tpot_s for r in ok if r.tpot_s is not None],
        "itl_s": [gap for r in ok for gap in r.itl_s()],
        "e2e_s": [v for v in e2e if v is not None],
    }
    for name in LATENCY_NAMES:
        for q in QUANTILES:
            row[f"{name}_p{q}"] = percentile(series[name], q)
    per_user = [
        (r.output_tokens - 1) / (r.end_s - r.first_token_s)
        for r in ok
        if r.output_tokens and r.output_tokens > 1 and r.first_token_s and r.end_s > r.first_token_s
    ]
    row["output_tokens_per_s_per_user"] = percentile(per_user, 50) if per_user else None
    row.update(endpoint_cost_columns(records, workload, window))
    if failed:
        kinds = Counter(r.error.split(":")[0] if r.error else "unknown" for r in failed)
        row["error"] = "; ".join(f"{n}× {kind}" for kind, n in kinds.most_common())
    return row


def request_rows(records: Sequence[RequestRecord], origin_s: float) -> list[dict[str, Any]]:
    """One iterations.csv row per measured request; times in seconds since the run started."""
    rows = []
    for i, r in enumerate(records):
        rows.append(
            {
                "iteration": i,
                "wall_s": r.e2e_s,
                "gpu_s": None,
                "request_index": r.index,
                "start_s": r.start_s - origin_s,
                "first_token_s": None if r.first_token_s is None else r.first_token_s - origin_s,
                "end_s": None if r.end_s is None else r.end_s - origin_s,
                "ttft_s": r.ttft_s,
                "tpot_s": r.tpot_s,
                "input_tokens": r.input_tokens,
                "output_tokens": r.output_tokens,
                "status_code": r.status_code,
                "error": r.error,
                "usage_rejected": r.usage_rejected,
                "token_times_s": [round(t - r.start_s, 6) for t in r.token_times_s],
            }
        )
    return rows
