"""The request-log fields reconcile reads, and what a line's status means: shared by the
line-by-line reader (requests.py), the DuckDB fast path (requests_sql.py) and the meter that
writes logs (harness/metering)."""

from __future__ import annotations

from harness.results.schema import UNIT_COLUMNS

UNIT_FIELDS: tuple[str, ...] = tuple(c for c in UNIT_COLUMNS if c != "requests")
"""Units of work one request line may carry (counts, or seconds of audio): the results
contract's unit columns, but `requests`, since a line is one request."""

MEASURE_FIELDS: tuple[str, ...] = ("wall_s", "gpu_s", "energy_j")
TEXT_FIELDS: tuple[str, ...] = ("timestamp", "workload", "instance", "status")
LOG_FIELDS: tuple[str, ...] = (*TEXT_FIELDS, *UNIT_FIELDS, *MEASURE_FIELDS)
SUM_FIELDS: tuple[str, ...] = (*UNIT_FIELDS, *MEASURE_FIELDS)
GROUP_KEYS: tuple[str, ...] = ("period_start_ns", "workload", "instance")


def is_error(status: str) -> bool:
    """A status other than "ok" (any case); an empty status counts as ok."""
    return status.lower() not in ("ok", "")
