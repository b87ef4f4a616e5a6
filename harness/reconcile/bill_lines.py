"""Naming where a bill is wrong: the first line numbers on which a check fails, found by the same
SQL predicate the query used, and DuckDB's errors cut to one line.

DuckDB numbers no CSV lines, so a CSV is read a second time, only after a check failed, by
Python's csv module (which counts quoted line breaks) in blocks that DuckDB then filters."""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.reconcile.bill_files import BillPart
from harness.reconcile.sources import first_lines

if TYPE_CHECKING:
    import duckdb
    import pandas as pd


def duckdb_message(err: Exception) -> str:
    """DuckDB's message without its advice or its SQL: what is wrong, and on which line."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("LINE ")]
    head = lines[0] if lines else type(err).__name__
    where = next((ln for ln in lines[1:] if re.search(r"\bline\b\W*\d+", ln, re.IGNORECASE)), "")
    return f"{head}; {where}" if where else head


def where_in(part: BillPart, lines: list[int]) -> str:
    noun = "row(s)" if part.kind == "parquet" else "line(s)"
    return f"{noun} {first_lines(lines)}"


def bad_lines(con: duckdb.DuckDBPyConnection, part: BillPart, predicate: str) -> list[int]:
    """The first line numbers (CSV: the file's line, header = 1; Parquet: the row, from 1) where
    `predicate` holds, on an exact numbering. csv.Error for a CSV Python cannot read."""
    if part.kind == "parquet":
        rows = con.execute(
            f"SELECT file_row_number + 1 FROM {part.source_sql(', file_row_number = true')} "
            f"WHERE {predicate} ORDER BY 1 LIMIT 10"
        ).fetchall()
        return [int(r[0]) for r in rows]
    found: list[int] = []
    for block in _csv_blocks(part.path):
        con.register("bill_block", block)
        try:
            rows = con.execute(
                f"SELECT line_no FROM bill_block WHERE {predicate} ORDER BY 1 LIMIT 10"
            ).fetchall()
        finally:
            con.unregister("bill_block")
        found += [int(r[0]) for r in rows]
        if len(found) >= 6:
            break
    return found[:10]


def _csv_blocks(path: Path, rows_per_block: int = 50_000) -> Iterator[pd.DataFrame]:
    """The CSV as text frames of `rows_per_block` rows with a `line_no` column: the physical
    line on which each record ends (Python's csv module counts quoted line breaks)."""
    import pandas as pd  # lazy: only a bill with a bad cell pays for pandas here

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
        reader = csv.reader(text)
        header = next(reader, [])
        rows: list[list[Any]] = []
        for record in reader:
            padded = (record + [""] * len(header))[: len(header)]
            rows.append([reader.line_num, *padded])
            if len(rows) >= rows_per_block:
                yield pd.DataFrame(rows, columns=["line_no", *header], dtype=object)
                rows = []
        if rows:
            yield pd.DataFrame(rows, columns=["line_no", *header], dtype=object)
