"""Cloud bills: AWS CUR (legacy and 2.0) and FOCUS 1.x, as CSV, CSV.gz, ZIP or Parquet, summed
per period by DuckDB.

DuckDB streams each file and does the filtering, the cost basis, the spreading of multi-period
charges and the sums in one query (`bill_query.py`), so memory is bounded by the query, not by
the file. Only the columns a query names are read. Rows are kept apart by provider and resource
group: the instance type when the row has one, else the resource id; non-usage charges (tax,
credits, refunds, commitment fees) by their own group. Each format's columns and line-item
rules are in `bill_formats/`; a bad cell is located by `bill_lines.py`.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import BadInput
from harness.reconcile.api_exports import ApiTotals, is_api_export, read_api_exports
from harness.reconcile.bill_files import BillPart, bill_parts, expand
from harness.reconcile.bill_formats import NO_RESOURCE, BillFormat, CostBasis, detect_format
from harness.reconcile.bill_lines import bad_lines, duckdb_message, where_in
from harness.reconcile.bill_query import build_query, named_row
from harness.reconcile.periods import Period
from harness.reconcile.sources import ProgressFn, TagFilter
from harness.reconcile.sql import connect

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

REPORT_CURRENCY = "USD"


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


def read_bills(
    paths: Sequence[Path],
    period: Period,
    tags: Sequence[TagFilter] = (),
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
    import duckdb  # lazy: DuckDB loads only when a bill is read

    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {part.source_sql()}").fetchall()
    except duckdb.Error as err:
        raise BadInput(
            f"bill {part.where}: not a readable {part.kind_name()} file ({duckdb_message(err)})"
        ) from None
    return [row[0] for row in described]


def _read_part(
    con: duckdb.DuckDBPyConnection,
    part: BillPart,
    period: Period,
    tags: Sequence[TagFilter],
    basis: CostBasis,
    tally: _Tally,
) -> tuple[BillFormat, pd.DataFrame, str]:
    import duckdb  # lazy: DuckDB loads only when a bill is read

    header = _header(con, part)
    fmt = detect_format(header, part.where)
    query = build_query(fmt, header, part, period, tags, basis)
    try:
        # One scan of the file: the projected columns go to a temporary table (DuckDB spills
        # it to disk when large) that the checks and the sums then read.
        con.execute(f"CREATE OR REPLACE TEMP TABLE raw AS {query.raw}")
        stats = named_row(con, query.stats)
        for check in query.checks:
            if stats[check.column]:
                try:
                    lines = bad_lines(con, part, check.predicate)
                except csv.Error as err:  # e.g. an unclosed quote that swallows the file
                    raise BadInput(
                        f"bill {part.where}: not a readable CSV file ({err}; a quote that "
                        "never closes?)"
                    ) from None
                raise BadInput(f"bill {part.where}: {check.reason} on {where_in(part, lines)}")
        frame = con.execute(query.sums).df()
        tally.rows_read += int(stats["rows_read"])
        tally.rows_kept += int(stats["rows_kept"])
        seen = {c for c in (stats["currencies"] or []) if c}
        if seen:
            tally.currencies.setdefault(part.where, set()).update(seen)
        for i, tag in enumerate(tags):
            tally.tag_rows[tag] += int(stats[f"tag_rows_{i}"])
            values = stats[f"tag_values_{i}"] or []
            tally.tag_values[tag].update(str(v) for v in values if v is not None)
        if frame["spread"].sum():
            tally.spread += int(named_row(con, query.spread_lines)["lines"])
        if frame["from_text"].sum():
            tally.from_text += int(named_row(con, query.text_lines)["lines"])
    except duckdb.Error as err:
        raise BadInput(
            f"bill {part.where}: not a readable {part.kind_name()} file ({duckdb_message(err)})"
        ) from None
    frame["provider"] = frame["provider"].fillna("").astype(str)
    return (
        fmt,
        frame[["period_start_ns", "provider", "instance", "cost_usd", "line_items"]],
        query.plan.source,
    )


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


__all__ = ["NO_RESOURCE", "BillTotals", "read_bills"]
