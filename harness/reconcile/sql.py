"""DuckDB SQL text shared by the bill and request-log readers: quoting, text cells, one connection
set up the same way for both."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb


def quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def text_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def cell(column: str) -> str:
    """A text cell, trimmed; empty and FOCUS's literal NULL become SQL NULL."""
    return f"NULLIF(NULLIF(trim(CAST({quote(column)} AS VARCHAR)), ''), 'NULL')"


def number(column: str) -> str:
    return f"TRY_CAST({cell(column)} AS DOUBLE)"


def connect() -> duckdb.DuckDBPyConnection:
    import duckdb  # lazy: DuckDB loads only when a bill or log is read

    con = duckdb.connect(config={"preserve_insertion_order": False})
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    return con
