"""The SQL that reads one bill file: its rows projected once into a temporary table `raw`, the
checks and counts over it (read back by column name), and the sums per period and group.

A charge whose period spans several report periods is prorated over them by time; a charge
without an end, or within one period, belongs to the period its start falls in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.reconcile.bill_files import BillPart
from harness.reconcile.bill_formats import BillFormat, CostBasis, CostPlan
from harness.reconcile.periods import Period
from harness.reconcile.sources import TagFilter
from harness.reconcile.sql import cell, text_literal

if TYPE_CHECKING:
    import duckdb

NUMBER_PATTERN = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
# Bills from before clouds billed by the hour, or past 2100, are a unit or typing mistake.
EARLIEST, LATEST = "2000-01-01", "2100-01-01"
_STEP = {"day": "INTERVAL 1 DAY", "week": "INTERVAL 7 DAY", "month": "INTERVAL 1 MONTH"}


def named_row(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, Any]:
    """The one row `sql` returns, by column name."""
    cursor = con.execute(sql)
    names = [column[0] for column in cursor.description]
    rows = cursor.fetchall()
    assert len(rows) == 1
    return dict(zip(names, rows[0], strict=True))


def _timestamp(column: str) -> str:
    return f"CAST(TRY_CAST({cell(column)} AS TIMESTAMPTZ) AS TIMESTAMP)"


def _plausible(expr: str) -> str:
    return f"({expr} >= TIMESTAMP '{EARLIEST}' AND {expr} < TIMESTAMP '{LATEST}')"


def _bad_number(column: str, required: bool) -> str:
    value = cell(column)
    wrong = (
        f"(NOT regexp_full_match({value}, '{NUMBER_PATTERN}') "
        f"OR NOT coalesce(isfinite(TRY_CAST({value} AS DOUBLE)), FALSE))"
    )
    return f"({value} IS NULL OR {wrong})" if required else f"({value} IS NOT NULL AND {wrong})"


@dataclass(frozen=True)
class Check:
    """A row check: its column in `raw` (true on a bad row), the predicate over the bill's own
    columns (to find the bad lines again) and what the error says."""

    column: str
    predicate: str
    reason: str


@dataclass(frozen=True)
class BillQuery:
    """Everything read from one bill file, as SQL over the table `raw`."""

    plan: CostPlan
    checks: tuple[Check, ...]
    raw: str  # SELECT over the file: s, e_raw, cost, grp, from_text, provider, currency, tag_i, checks
    kept: str  # the tag filters, over `raw`
    stats: str  # one row: rows_read, each check's column, rows_kept, currencies, tag_rows_i, tag_values_i
    sums: str  # per period × provider × group: cost_usd, line_items, from_text, spread
    spread_lines: str  # one row: lines prorated over several periods
    text_lines: str  # one row: lines whose instance was parsed from free text


def build_query(
    fmt: BillFormat,
    header: list[str],
    part: BillPart,
    period: Period,
    tags: Sequence[TagFilter],
    basis: CostBasis,
) -> BillQuery:
    present = set(header)
    plan = fmt.cost_plan(present, basis)
    start = _timestamp(fmt.col("start"))
    end = _timestamp(fmt.col("end")) if fmt.has("end", present) else "NULL"
    label, from_text = fmt.instance_sql(present)
    tag_exprs = [fmt.tag_sql(header, tag) or "NULL" for tag in tags]
    currency = cell(fmt.col("currency")) if fmt.has("currency", present) else "NULL"
    predicates = {
        f"{column} is not a number": _bad_number(column, required=(column == plan.checked[0]))
        for column in plan.checked
    }
    predicates[f"{fmt.col('start')} is not a date"] = f"NOT coalesce({_plausible(start)}, FALSE)"
    if fmt.has("end", present):
        end_cell = cell(fmt.col("end"))
        predicates[f"{fmt.col('end')} is not a date"] = (
            f"({end_cell} IS NOT NULL AND NOT coalesce({_plausible(end)}, FALSE))"
        )
    checks = tuple(
        Check(f"bad_{i}", predicate, reason)
        for i, (reason, predicate) in enumerate(predicates.items())
    )
    kept = " AND ".join(f"tag_{i} = {text_literal(t.value)}" for i, t in enumerate(tags)) or "TRUE"
    trunc_s = f"date_trunc('{period}', s)"
    last = f"date_trunc('{period}', e - INTERVAL 1 MICROSECOND)"
    tag_columns = "".join(f", {expr} AS tag_{i}" for i, expr in enumerate(tag_exprs))
    check_columns = "".join(f", {c.predicate} AS {c.column}" for c in checks)
    raw = (
        f"SELECT {start} AS s, {end} AS e_raw, {plan.cost} AS cost, "
        f"coalesce({plan.charge_group}, {label}) AS grp, {from_text} AS from_text, "
        f"{fmt.provider_sql(present)} AS provider, {currency} AS currency"
        f"{tag_columns}{check_columns} FROM {part.source_sql()}"
    )
    stats = (
        "SELECT count(*) AS rows_read"
        + "".join(f", count(*) FILTER ({c.column}) AS {c.column}" for c in checks)
        + f", count(*) FILTER ({kept}) AS rows_kept"
        + f", list(DISTINCT currency) FILTER ({kept}) AS currencies"
        + "".join(
            f", count(*) FILTER (tag_{i} = {text_literal(t.value)}) AS tag_rows_{i}"
            f", list(DISTINCT tag_{i})[1:20] AS tag_values_{i}"
            for i, t in enumerate(tags)
        )
        + " FROM raw"
    )
    bad_any = " OR ".join(c.column for c in checks)
    base = (
        f"SELECT s, CASE WHEN e_raw > s THEN e_raw ELSE s END AS e, cost, grp, provider, "
        f"from_text FROM raw WHERE {kept} AND NOT ({bad_any})"
    )
    sums = f"""
        WITH base AS ({base}),
        pieces AS (
            SELECT {trunc_s} AS p, cost AS c, grp, provider, from_text, FALSE AS spread
            FROM base WHERE e = s OR {trunc_s} = {last}
            UNION ALL
            SELECT p, cost * (epoch(least(e, p + {_STEP[period]})) - epoch(greatest(s, p)))
                / (epoch(e) - epoch(s)), grp, provider, from_text, TRUE
            FROM (
                SELECT *, unnest(generate_series({trunc_s}, {last}, {_STEP[period]})) AS p
                FROM base WHERE e > s AND {trunc_s} <> {last}
            )
        )
        SELECT epoch_ns(p) AS period_start_ns, provider, grp AS instance,
            sum(c) AS cost_usd, count(*) AS line_items,
            count(*) FILTER (from_text) AS from_text, count(*) FILTER (spread) AS spread
        FROM pieces GROUP BY ALL
    """
    spread_lines = (
        f"WITH base AS (SELECT s, CASE WHEN e_raw > s THEN e_raw ELSE s END AS e "
        f"FROM raw WHERE {kept}) SELECT count(*) AS lines FROM base "
        f"WHERE e > s AND {trunc_s} <> {last}"
    )
    text_lines = f"SELECT count(*) AS lines FROM raw WHERE {kept} AND from_text"
    return BillQuery(plan, checks, raw, kept, stats, sums, spread_lines, text_lines)
