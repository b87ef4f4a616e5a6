"""The fast path for JSON Lines request logs: DuckDB reads and sums the log in one streaming query.

It takes only logs in the shape `harness.metering.meter` writes: every line an object, text fields as
JSON strings, counts as JSON numbers, finite and >= 0, timestamps as ISO 8601 dates (or epoch
seconds as numbers) within 2000..2100. When any line is not in that shape, or DuckDB cannot read
the file, it returns None and the line-by-line reader takes over, so every bad line is counted
and named by its own line number. Both paths give the same sums for a clean log.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from harness.reconcile.log_fields import is_error
from harness.reconcile.periods import EARLIEST_NS, LATEST_NS, NS_PER_DAY, Period
from harness.reconcile.sql import connect, text_literal

if TYPE_CHECKING:
    import pandas as pd

_TEXT = ("workload", "instance", "status")


def read_jsonl_sql(
    path: Path, period: Period, sum_fields: tuple[str, ...], workload: str | None
) -> tuple[pd.DataFrame, int] | None:
    """(counts per period × workload × instance, lines read), or None: take the slow path."""
    import duckdb
    import numpy as np


    # Every field read as text: DuckDB writes a JSON number, list, object or boolean as its
    # JSON text, so a count is a number only when its text casts to one, and a list where text
    # belongs shows as "[...]". The checks run per group, on sums and extremes, not per line.
    fields = ("timestamp", *_TEXT, *sum_fields)
    columns = "{" + ", ".join(f"'{f}': 'VARCHAR'" for f in fields) + "}"
    source = (
        f"read_json({text_literal(str(path))}, format = 'newline_delimited', "
        f"records = true, columns = {columns}, maximum_object_size = 16777216)"
    )
    values = "".join(
        f", TRY_CAST({f} AS DOUBLE) AS v_{f}, {f} IS NOT NULL AS given_{f}" for f in sum_fields
    )
    wrong = " OR ".join(
        f"(given_{f} AND NOT coalesce(isfinite(v_{f}) AND v_{f} >= 0, FALSE))" for f in sum_fields
    )
    # Not a number, NaN, an infinity or below 0 anywhere: one count for all fields.
    sums = "".join(f", sum(v_{f}) AS {f}" for f in sum_fields)
    sums += f", count(*) FILTER ({wrong}) AS wrong_counts"
    day = f"(ns // {NS_PER_DAY})"
    starts = {
        "day": f"{day} * {NS_PER_DAY}",
        "week": f"({day} - ({day} + 3) % 7) * {NS_PER_DAY}",
        "month": "epoch_ns(date_trunc('month', make_timestamp(ns // 1000)))",
    }
    query = f"""
        WITH read AS (
            SELECT TRY_CAST(timestamp AS TIMESTAMPTZ) AS iso, timestamp, workload, instance,
                status{values}
            FROM {source}
        ),
        numbered AS (
            SELECT *, CASE WHEN iso IS NULL THEN TRY_CAST(timestamp AS DOUBLE) END AS epoch_s
            FROM read
        ),
        stamped AS (
            SELECT *, CASE WHEN iso IS NOT NULL THEN
                    CASE WHEN substr(timestamp, 5, 1) = '-' AND substr(timestamp, 8, 1) = '-'
                    THEN epoch_ns(iso) END
                ELSE CAST(floor(epoch_s) AS BIGINT) * 1000000000
                    + CAST(round((epoch_s - floor(epoch_s)) * 1e9) AS BIGINT) END AS ns
            FROM numbered
        )
        SELECT CASE WHEN ns >= {EARLIEST_NS} AND ns < {LATEST_NS} THEN {starts[period]} END
                AS period_start_ns,
            workload, instance, status, count(*) AS inferences{sums}
        FROM stamped
        GROUP BY ALL
    """
    con = connect()
    try:
        frame = con.execute(query).df()
    except (duckdb.Error, OverflowError):
        return None
    finally:
        con.close()
    if frame.empty or frame["period_start_ns"].isna().any():
        return None  # a timestamp that is no date, or out of range
    if (frame["wrong_counts"] > 0).any():
        return None
    texts = {}
    for t in _TEXT:
        raw = frame[t]
        given = raw.dropna().astype(str)
        if (given.str.startswith(("[", "{")) | given.isin(["true", "false"])).any():
            return None
        texts[t] = raw.map(lambda v: "" if v is None or v != v else str(v).strip())
    lines_read = int(frame["inferences"].sum())
    out = frame[["period_start_ns", "inferences", *sum_fields]].copy()
    out["workload"] = texts["workload"]
    out["instance"] = texts["instance"]
    out["errors"] = np.where(texts["status"].map(is_error), frame["inferences"], 0)
    if workload is not None:
        out = out[out["workload"] == workload]
    out = out.groupby(["period_start_ns", "workload", "instance"], as_index=False).sum(min_count=1)
    out["inferences"] = out["inferences"].fillna(0)
    out["errors"] = out["errors"].fillna(0)
    return out, lines_read
