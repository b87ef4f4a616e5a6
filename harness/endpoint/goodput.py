"""A load level's SLO columns: whether the level met the SLO, and its goodput.

Goodput counts only the requests that completed and met every target with their own latencies
(`harness.slo.request_meets`), over the same window as the raw throughput, so that
goodput ÷ throughput is the share of the served work a user would accept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.endpoint.records import RequestRecord
from harness.slo import Slo, request_meets, row_meets

# the unit columns an endpoint row fills, and how many of each one request carries
_PER_REQUEST_UNITS = ("requests", "sequences", "input_tokens", "output_tokens")


def _units(record: RequestRecord, unit: str) -> int | None:
    if unit in ("requests", "sequences"):
        return 1
    return getattr(record, unit)


def good_records(slo: Slo, records: Sequence[RequestRecord]) -> list[RequestRecord]:
    """The completed requests that met every target with their own values."""
    return [
        r
        for r in records
        if r.ok
        and request_meets(slo, ttft_s=r.ttft_s, tpot_s=r.tpot_s, e2e_s=r.e2e_s, itl_s=r.itl_s())
    ]


def slo_columns(
    slo: Slo, records: Sequence[RequestRecord], row: Mapping[str, Any]
) -> dict[str, Any]:
    """`slo`, `slo_met`, `good_requests` and `goodput_<unit>_per_s` for each unit column `row`
    fills, over the row's `window_s`. A level where no request completed does not meet the SLO."""
    good = good_records(slo, records)
    met = row_meets(slo, row)
    if records and not any(r.ok for r in records):
        met = False
    columns: dict[str, Any] = {"slo": slo.text, "slo_met": met, "good_requests": len(good)}
    window = row.get("window_s")
    for unit in _PER_REQUEST_UNITS:
        if row.get(unit) is None:
            continue
        counts = [_units(r, unit) for r in good]
        known = all(c is not None for c in counts)
        total = sum(c for c in counts if c is not None)
        columns[f"goodput_{unit}_per_s"] = total / window if window and known else None
    return columns
