"""Cloud bills: AWS CUR (legacy and 2.0) and FOCUS 1.x, as CSV, CSV.gz, ZIP or Parquet, summed
per period by DuckDB.

DuckDB streams each file and does the filtering, the cost basis, the spreading of multi-period
charges and the sums in one query, so memory is bounded by the query, not by the file. Only
the columns a query names are read. A charge whose period spans several report periods
(ChargePeriodStart to ChargePeriodEnd, UsageStartDate to UsageEndDate) is prorated over them by
time; a charge without an end, or within one period, belongs to the period its start falls in.
Rows are kept apart by provider and resource group: the instance type when the row has one, else
the resource id; non-usage charges (tax, credits, refunds, commitment fees) by their own group.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import BadInput
from harness.reconcile.api_exports import ApiTotals, is_api_export, read_api_exports
from harness.reconcile.bill_files import BillPart, bill_parts, expand
from harness.reconcile.bill_formats import (
    CostBasis,
    cell,
    cost_plan,
    detect_format,
    instance_sql,
    provider_sql,
    quote,
    text_literal,
)
from harness.reconcile.periods import Period
from harness.reconcile.sources import ProgressFn, TagFilter, first_lines

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from harness.reconcile.bill_formats import BillFormat

NO_RESOURCE = "(no resource)"
REPORT_CURRENCY = "USD"
NUMBER_PATTERN = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
# Bills from before clouds billed by the hour, or past 2100, are a unit or typing mistake.
EARLIEST, LATEST = "2000-01-01", "2100-01-01"
_STEP = {"day": "INTERVAL 1 DAY", "week": "INTERVAL 7 DAY", "month": "INTERVAL 1 MONTH"}


@dataclass(frozen=True)
class BillTotals:
    """Costs per period start (int64 ns UTC) × resource group, and what was read."""

    costs: pd.DataFrame  # columns: period_start_ns, instance, cost_usd, line_items
    currency: str
    formats: tuple[tuple[str, str], ...]  # (file, format name)
    rows_read: int
    rows_kept: int
    cost_basis: str = "amortized"
    sources: tuple[str, ...] = ()  # the cost column or rule used per format, as said to the user
    notes: tuple[str, ...] = ()
    # Model API groups' own units: period_start_ns, instance, unit, units, unit_cost_usd
    api_units: pd.DataFrame | None = None
    api_groups: frozenset[str] = frozenset()  # groups that are a model API, not a resource


@dataclass
class _Tally:
    rows_read: int = 0
    rows_kept: int = 0
    currencies: dict[str, set[str]] = field(default_factory=dict)
    tag_rows: dict[TagFilter, int] = field(default_factory=dict)
    tag_values: dict[TagFilter, set[str]] = field(default_factory=dict)
    spread: int = 0
    from_text: int = 0


def connect() -> duckdb.DuckDBPyConnection:
    import duckdb

    con = duckdb.connect(config={"preserve_insertion_order": False})
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    return con


def source_sql(part: BillPart, extra: str = "") -> str:
    literal = text_literal(str(part.path))
    if part.kind == "parquet":
        return f"read_parquet({literal}{extra})"
    return f"read_csv({literal}, all_varchar = true, header = true{extra})"


def read_bills(
    paths: Sequence[Path],
    period: Period,
    tags: Sequence[TagFilter] = (),
    chunk_rows: int = 100_000,  # kept for callers; DuckDB sizes its own vectors
    progress: ProgressFn | None = None,
    cost_basis: CostBasis = "amortized",
) -> BillTotals:
    import pandas as pd

    con = connect()
    tally = _Tally(tag_rows=dict.fromkeys(tags, 0), tag_values={t: set() for t in tags})
    frames: list[pd.DataFrame] = []
    formats: list[tuple[str, str]] = []
    sources: list[str] = []
    files_given = expand(paths)
    api_files = [p for p in files_given if is_api_export(p)]
    api = read_api_exports(api_files, period) if api_files else None
    if api is not None:
        formats += api.formats
        sources.append("model APIs: the reports' amounts")
        frames.append(_api_costs(api))
        tally.rows_read += len(api.costs)
        tally.rows_kept += len(api.costs)
    try:
        with bill_parts([p for p in files_given if not is_api_export(p)]) as parts:
            for part in parts:
                fmt, frame, source = _read_part(con, part, period, tags, cost_basis, tally)
                formats.append((part.where, fmt.name))
                sources.append(f"{fmt.name}: {source}")
                frames.append(frame)
                if progress is not None and part.path.exists():
                    progress(part.path.stat().st_size)
    finally:
        con.close()
    files = ", ".join(map(str, paths))
    _check_tags(tags, tally, files)
    if tally.rows_kept == 0:
        if tags:
            together = " and ".join(f"--tag {tag}" for tag in tags)
            raise BadInput(f"{together} together match no row in the bills {files}")
        raise BadInput(f"bills {files} hold no charge rows")
    currency = _single_currency(tally.currencies)
    costs = pd.concat(frames, ignore_index=True)
    providers = sorted({p for p in costs["provider"] if p})
    if len(providers) > 1:
        # One file may mix clouds: the same name on two providers is not one resource.
        # Model API groups name their provider already.
        cloud = ~costs["instance"].isin({g for _, g, _, _ in api.costs} if api else set())
        costs.loc[cloud, "instance"] = (
            costs["provider"].where(costs["provider"] != "", "?")
            + " "
            + costs["instance"].astype(str)
        )[cloud]
    costs = (
        costs.groupby(["period_start_ns", "instance"], as_index=False)[["cost_usd", "line_items"]]
        .sum()
        .sort_values(["period_start_ns", "instance"], ignore_index=True)
    )
    costs["line_items"] = costs["line_items"].astype("int64")
    notes = []
    if tally.spread:
        notes.append(
            f"{tally.spread:,} bill line(s) span several {period}s and are prorated over them by "
            "time (a monthly fee counts 1/30 a day in a 30-day month)"
        )
    if tally.from_text:
        notes.append(
            f"{tally.from_text:,} bill line(s) name their instance type only in the charge "
            "description: it was parsed from that text"
        )
    if len(providers) > 1:
        notes.append(f"the bills mix providers ({', '.join(providers)}): kept apart by name")
    return BillTotals(
        costs,
        currency,
        tuple(formats),
        tally.rows_read,
        tally.rows_kept,
        cost_basis,
        tuple(dict.fromkeys(sources)),
        tuple(notes),
        _api_units(api),
        frozenset(g for _, g, _, _ in api.costs) if api else frozenset(),
    )


def _api_costs(api: ApiTotals) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(
        api.costs, columns=["period_start_ns", "instance", "cost_usd", "line_items"]
    )
    frame.insert(1, "provider", "")  # the group already names its provider
    return frame


def _api_units(api: ApiTotals | None) -> pd.DataFrame | None:
    import pandas as pd

    if api is None:
        return None
    columns = ["period_start_ns", "instance", "unit", "units", "unit_cost_usd"]
    return pd.DataFrame(api.units, columns=columns)


def _header(con: duckdb.DuckDBPyConnection, part: BillPart) -> list[str]:
    import duckdb

    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {source_sql(part)}").fetchall()
    except duckdb.Error as err:
        raise BadInput(
            f"bill {part.where}: not a readable {_kind_name(part)} file ({_first(err)})"
        ) from None
    return [row[0] for row in described]


def _first(err: Exception) -> str:
    """DuckDB's message without its advice or its SQL: what is wrong, and on which line."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("LINE ")]
    head = lines[0] if lines else type(err).__name__
    where = next((ln for ln in lines[1:] if re.search(r"\bline\b\W*\d+", ln, re.IGNORECASE)), "")
    return f"{head}; {where}" if where else head


def _kind_name(part: BillPart) -> str:
    return "gzip" if part.path.name.lower().endswith(".gz") else part.kind.upper()


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


def _tag_sql(fmt: BillFormat, header: list[str], tag: TagFilter) -> str | None:
    if fmt.tag_column_prefix:
        wanted = (
            fmt.tag_column_prefix + (tag.key if ":" in tag.key else f"user:{tag.key}")
        ).lower()
        column = next((c for c in header if c.lower() == wanted), None)
        return cell(column) if column else None
    if fmt.tag_map and fmt.tag_map in header:
        # Both spellings of a key match: `user:Project` and CUR 2.0's `user_project`.
        wanted = tag.key.lower().replace(":", "_").removeprefix("user_")
        tags = cell(fmt.tag_map)
        key = (
            f"list_filter(json_keys({tags}), lambda k: regexp_replace(replace(lower(k), ':', '_'), "
            f"'^user_', '') = {text_literal(wanted)})[1]"
        )
        return (
            f"CASE WHEN json_valid({tags}) AND json_type({tags}) = 'OBJECT' THEN "
            f"json_extract_string({tags}, '$.\"' || replace({key}, '\"', '\\\"') || '\"') END"
        )
    return None


def _read_part(
    con: duckdb.DuckDBPyConnection,
    part: BillPart,
    period: Period,
    tags: Sequence[TagFilter],
    basis: CostBasis,
    tally: _Tally,
) -> tuple[BillFormat, pd.DataFrame, str]:
    import duckdb

    header = _header(con, part)
    fmt = detect_format(header, part.where)
    present = set(header)
    if fmt.has("cost", present):
        plan = cost_plan(fmt, header, basis)
    else:  # FOCUS without EffectiveCost: the billed cost is all there is
        plan = cost_plan(fmt, header, "billed")
    start = _timestamp(fmt.col("start"))
    end = _timestamp(fmt.col("end")) if fmt.has("end", present) else "NULL"
    label, from_text = instance_sql(fmt, header)
    tag_exprs = [_tag_sql(fmt, header, tag) or "NULL" for tag in tags]
    currency = cell(fmt.col("currency")) if fmt.has("currency", present) else "NULL"
    checks = {
        f"{column} is not a number": _bad_number(column, required=(column == plan.checked[0]))
        for column in plan.checked
    }
    checks[f"{fmt.col('start')} is not a date"] = f"NOT coalesce({_plausible(start)}, FALSE)"
    if fmt.has("end", present):
        end_cell = cell(fmt.col("end"))
        checks[f"{fmt.col('end')} is not a date"] = (
            f"({end_cell} IS NOT NULL AND NOT coalesce({_plausible(end)}, FALSE))"
        )
    kept = " AND ".join(f"t{i} = {text_literal(t.value)}" for i, t in enumerate(tags)) or "TRUE"
    trunc_s = f"date_trunc('{period}', s)"
    last = f"date_trunc('{period}', e - INTERVAL 1 MICROSECOND)"
    tag_cols = "".join(f", {expr} AS t{i}" for i, expr in enumerate(tag_exprs))
    raw = (
        f"SELECT {start} AS s, {end} AS e_raw, {plan.cost} AS cost, "
        f"coalesce({plan.charge_group}, {label}) AS grp, {from_text} AS from_text, "
        f"{provider_sql(fmt, header)} AS provider, {currency} AS currency{tag_cols}, "
        + ", ".join(f"{expr} AS bad{i}" for i, expr in enumerate(checks.values()))
        + f" FROM {source_sql(part)}"
    )
    bad_any = " OR ".join(f"bad{i}" for i in range(len(checks)))
    stats_sql = (
        "SELECT count(*), "
        + ", ".join(f"count(*) FILTER (bad{i})" for i in range(len(checks)))
        + f", count(*) FILTER ({kept}), list(DISTINCT currency) FILTER ({kept})"
        + "".join(
            f", count(*) FILTER (t{i} = {text_literal(t.value)}), list(DISTINCT t{i})[1:20]"
            for i, t in enumerate(tags)
        )
        + " FROM raw"
    )
    query = f"""
        WITH base AS (
            SELECT s, CASE WHEN e_raw > s THEN e_raw ELSE s END AS e, cost, grp, provider, from_text
            FROM raw WHERE {kept} AND NOT ({bad_any})
        ),
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
    try:
        # One scan of the file: the projected columns go to a temporary table (DuckDB spills
        # it to disk when large) that the checks and the sums then read.
        con.execute(f"CREATE OR REPLACE TEMP TABLE raw AS {raw}")
        stats = con.execute(stats_sql).fetchall()[0]
        assert stats is not None
        width = len(checks)
        bad_counts = stats[1 : 1 + width]
        for (reason, predicate), count in zip(checks.items(), bad_counts, strict=True):
            if count:
                try:
                    lines = _bad_lines(con, part, predicate)
                except csv.Error as err:  # e.g. an unclosed quote that swallows the file
                    raise BadInput(
                        f"bill {part.where}: not a readable CSV file ({err}; a quote that "
                        "never closes?)"
                    ) from None
                raise BadInput(f"bill {part.where}: {reason} on {_where(part, lines)}")
        frame = con.execute(query).df()
    except duckdb.Error as err:
        raise BadInput(
            f"bill {part.where}: not a readable {_kind_name(part)} file ({_first(err)})"
        ) from None
    tally.rows_read += int(stats[0])
    tally.rows_kept += int(stats[1 + width])
    seen = {c for c in (stats[2 + width] or []) if c}
    if seen:
        tally.currencies.setdefault(part.where, set()).update(seen)
    for i, tag in enumerate(tags):
        tally.tag_rows[tag] += int(stats[3 + width + 2 * i])
        values = stats[4 + width + 2 * i] or []
        tally.tag_values[tag].update(str(v) for v in values if v is not None)
    if frame["spread"].sum():
        tally.spread += _spread_lines(con, raw, kept, trunc_s, last)
    if frame["from_text"].sum():
        tally.from_text += _text_lines(con, raw, kept)
    frame["provider"] = frame["provider"].fillna("").astype(str)
    return (
        fmt,
        frame[["period_start_ns", "provider", "instance", "cost_usd", "line_items"]],
        plan.source,
    )


def _spread_lines(
    con: duckdb.DuckDBPyConnection, raw: str, kept: str, trunc_s: str, last: str
) -> int:
    row = con.execute(
        f"WITH base AS (SELECT s, CASE WHEN e_raw > s THEN e_raw ELSE s END AS e "
        f"FROM raw WHERE {kept}) SELECT count(*) FROM base WHERE e > s AND {trunc_s} <> {last}"
    ).fetchall()[0]
    return int(row[0]) if row else 0


def _text_lines(con: duckdb.DuckDBPyConnection, raw: str, kept: str) -> int:
    row = con.execute(f"SELECT count(*) FROM raw WHERE {kept} AND from_text").fetchall()[0]
    return int(row[0]) if row else 0


def _where(part: BillPart, lines: list[int]) -> str:
    noun = "row(s)" if part.kind == "parquet" else "line(s)"
    return f"{noun} {first_lines(lines)}"


def _bad_lines(con: duckdb.DuckDBPyConnection, part: BillPart, predicate: str) -> list[int]:
    """The first line numbers (CSV: the file's line, header = 1; Parquet: the row, from 1) where
    `predicate` holds, found by the same SQL the query used, on an exact numbering."""
    if part.kind == "parquet":
        rows = con.execute(
            f"SELECT file_row_number + 1 FROM {source_sql(part, ', file_row_number = true')} "
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


def _csv_blocks(path: Path, rows_per_block: int = 50_000):
    """The CSV as text frames of `rows_per_block` rows with a `line_no` column: the physical
    line on which each record ends (Python's csv module counts quoted line breaks)."""
    import pandas as pd

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


def _check_tags(tags: Sequence[TagFilter], tally: _Tally, files: str) -> None:
    for tag in tags:
        if tally.tag_rows[tag] == 0:
            seen = sorted(tally.tag_values[tag])
            hint = (
                f"values seen for {tag.key}: {', '.join(seen[:10])}"
                if seen
                else f"no row carries a tag {tag.key}"
            )
            raise BadInput(f"--tag {tag} matches no row in the bills {files} ({hint})")


def _single_currency(currencies: dict[str, set[str]]) -> str:
    found = sorted(set().union(*currencies.values())) if currencies else []
    if len(found) > 1:
        where = "; ".join(f"{file}: {', '.join(sorted(c))}" for file, c in currencies.items())
        raise BadInput(f"bills mix currencies ({where}); reconcile one currency at a time")
    currency = found[0] if found else REPORT_CURRENCY
    if currency != REPORT_CURRENCY:
        raise BadInput(
            f"bills are in {currency}; reconcile compares with USD rate cards "
            f"(cost_usd), so convert the bill to USD first"
        )
    return currency


__all__ = ["NO_RESOURCE", "BillTotals", "quote", "read_bills"]
