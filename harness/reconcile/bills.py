"""Cloud bills: AWS CUR (legacy and 2.0) and FOCUS 1.x CSV, read in chunks and summed per period.

Only the columns needed are read, so a month of hourly line items with hundreds of columns streams
in bounded memory. A charge row belongs to the period its start falls in (UTC). Rows are kept apart
by resource group: the instance type when the row has one, else the resource id.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import BadInput
from harness.reconcile.periods import NAT, Period, parse_timestamps_ns, period_starts_ns
from harness.reconcile.sources import ProgressFn, TagFilter, first_lines, open_text, require_file

if TYPE_CHECKING:
    import pandas as pd

NO_RESOURCE = "(no resource)"
REPORT_CURRENCY = "USD"


@dataclass(frozen=True)
class BillFormat:
    """Where one bill format keeps what reconcile needs. Optional columns may be absent."""

    name: str
    start_column: str
    cost_columns: tuple[str, ...]  # the first present wins
    currency_column: str
    instance_columns: tuple[str, ...]
    resource_column: str
    tag_column_prefix: str | None = None  # legacy CUR: one column per tag
    tag_map_column: str | None = None  # CUR 2.0 / FOCUS: a JSON map per row
    usage_type_column: str | None = None  # FOCUS from AWS: "USE1-BoxUsage:g5.xlarge"
    sku_details_column: str | None = None

    def describe(self) -> str:
        return f"{self.name} ({self.start_column}, {' or '.join(self.cost_columns)})"


BILL_FORMATS: tuple[BillFormat, ...] = (
    BillFormat(
        name="AWS CUR",
        start_column="lineItem/UsageStartDate",
        cost_columns=("lineItem/UnblendedCost",),
        currency_column="lineItem/CurrencyCode",
        instance_columns=("product/instanceType",),
        resource_column="lineItem/ResourceId",
        tag_column_prefix="resourceTags/",
    ),
    BillFormat(
        name="AWS CUR 2.0",
        start_column="line_item_usage_start_date",
        cost_columns=("line_item_unblended_cost",),
        currency_column="line_item_currency_code",
        instance_columns=("product_instance_type",),
        resource_column="line_item_resource_id",
        tag_map_column="resource_tags",
    ),
    BillFormat(
        name="FOCUS",
        start_column="ChargePeriodStart",
        cost_columns=("EffectiveCost", "BilledCost"),
        currency_column="BillingCurrency",
        instance_columns=("x_InstanceType", "InstanceType", "x_instance_type"),
        resource_column="ResourceId",
        tag_map_column="Tags",
        usage_type_column="x_UsageType",
        sku_details_column="SkuPriceDetails",
    ),
)


def detect_format(header: Sequence[str], path: Path) -> BillFormat:
    present = set(header)
    for fmt in BILL_FORMATS:
        if fmt.start_column in present and any(c in present for c in fmt.cost_columns):
            return fmt
    expected = "; ".join(fmt.describe() for fmt in BILL_FORMATS)
    raise BadInput(f"bill {path}: columns match no known bill format; expected one of: {expected}")


@dataclass
class _TagStats:
    rows_matched: int = 0
    values_seen: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class BillTotals:
    """Costs per period start (int64 ns UTC) × resource group, and what was read."""

    costs: pd.DataFrame  # columns: period_start_ns, instance, cost_usd, line_items
    currency: str
    formats: tuple[tuple[str, str], ...]  # (file, format name)
    rows_read: int
    rows_kept: int


def _norm_tag_key(key: str) -> str:
    key = key.lower().replace(":", "_")
    return key.removeprefix("user_")


def _tag_column(header: Sequence[str], prefix: str, key: str) -> str | None:
    wanted = (prefix + (key if ":" in key else f"user:{key}")).lower()
    return next((c for c in header if c.lower() == wanted), None)


def _tag_values_from_maps(maps: pd.Series, key: str) -> pd.Series:
    """The value of tag `key` in each row's JSON map (None where absent). Both `user:Project`
    and CUR 2.0's `user_project` spellings match `Project`."""
    import pandas as pd

    wanted = _norm_tag_key(key)
    bare = wanted.split("_")[-1]
    found: dict[object, str] = {}
    # Only rows whose text mentions the key can hold it; parse just those.
    candidates = maps[maps.str.contains(bare, case=False, regex=False, na=False)]
    for index, text in candidates.items():
        try:
            tags = json.loads(text)
        except ValueError:
            continue
        if isinstance(tags, dict):
            for k, v in tags.items():
                if v is not None and _norm_tag_key(str(k)) == wanted:
                    found[index] = str(v)
                    break
    return pd.Series(found, index=maps.index, dtype=object)


def _instance_types(chunk: pd.DataFrame, fmt: BillFormat) -> pd.Series:
    import pandas as pd

    found = pd.Series("", index=chunk.index, dtype=object)
    for column in fmt.instance_columns:
        if column in chunk:
            found = found.where(found != "", chunk[column].fillna("").astype(str))
    if fmt.usage_type_column and fmt.usage_type_column in chunk:
        usage = chunk[fmt.usage_type_column].fillna("").astype(str)
        from_usage = usage.str.extract(r"Usage:([A-Za-z0-9][\w.-]*)$", expand=False).fillna("")
        found = found.where(found != "", from_usage)
    if fmt.sku_details_column and fmt.sku_details_column in chunk:
        details = chunk[fmt.sku_details_column].fillna("").astype(str)
        from_sku = details.str.extract(r'"[Ii]nstance_?[Tt]ype"\s*:\s*"([^"]+)"', expand=False)
        found = found.where(found != "", from_sku.fillna(""))
    resource = (
        chunk[fmt.resource_column].fillna("").astype(str)
        if fmt.resource_column in chunk
        else pd.Series("", index=chunk.index, dtype=object)
    )
    found = found.where(found != "", resource)
    return found.where(found != "", NO_RESOURCE)


def read_bills(
    paths: Sequence[Path],
    period: Period,
    tags: Sequence[TagFilter] = (),
    chunk_rows: int = 100_000,
    progress: ProgressFn | None = None,
) -> BillTotals:
    import pandas as pd

    partials: list[pd.Series] = []
    currencies: dict[str, set[str]] = {}
    formats: list[tuple[str, str]] = []
    tag_stats = {tag: _TagStats() for tag in tags}
    rows_read = rows_kept = 0
    for path in paths:
        require_file(path, "bill")
        with open_text(path, "bill", progress) as (fh, counter):
            try:
                header = list(pd.read_csv(fh, nrows=0).columns)
            except (ValueError, UnicodeDecodeError) as err:
                raise BadInput(f"bill {path}: not a readable CSV file ({err})") from None
            fmt = detect_format(header, path)
            formats.append((str(path), fmt.name))
            usecols = _columns_to_read(header, fmt, tags)
            fh.seek(0)
            reader = pd.read_csv(
                fh, usecols=usecols, dtype=str, keep_default_na=False, chunksize=chunk_rows
            )
            first_line = 2  # line 1 is the header
            for chunk in reader:
                rows_read += len(chunk)
                chunk.index = pd.RangeIndex(first_line, first_line + len(chunk))
                first_line += len(chunk)
                kept = chunk[_tag_mask(chunk, header, fmt, tags, tag_stats)]
                counter.update()
                if kept.empty:
                    continue
                rows_kept += len(kept)
                partials.append(_sum_chunk(kept, fmt, period, path))
                if fmt.currency_column in kept:
                    seen = {c for c in kept[fmt.currency_column].unique() if c}
                    currencies.setdefault(str(path), set()).update(seen)
    _check_tags(tags, tag_stats, paths)
    if rows_kept == 0:
        files = ", ".join(map(str, paths))
        if tags:
            together = " and ".join(f"--tag {tag}" for tag in tags)
            raise BadInput(f"{together} together match no row in the bills {files}")
        raise BadInput(f"bills {files} hold no charge rows")
    currency = _single_currency(currencies)
    costs = pd.concat(partials).groupby(level=[0, 1]).sum()
    frame = costs.reset_index()
    frame.columns = ["period_start_ns", "instance", "cost_usd", "line_items"]
    return BillTotals(frame, currency, tuple(formats), rows_read, rows_kept)


def _columns_to_read(header: list[str], fmt: BillFormat, tags: Sequence[TagFilter]) -> list[str]:
    wanted = [fmt.start_column, next(c for c in fmt.cost_columns if c in header)]
    optional = [
        fmt.currency_column,
        fmt.resource_column,
        *fmt.instance_columns,
        fmt.tag_map_column if tags else None,
        fmt.usage_type_column,
        fmt.sku_details_column,
    ]
    wanted += [c for c in optional if c and c in header]
    if fmt.tag_column_prefix:
        for tag in tags:
            column = _tag_column(header, fmt.tag_column_prefix, tag.key)
            if column:
                wanted.append(column)
    return list(dict.fromkeys(wanted))


def _tag_mask(
    chunk: pd.DataFrame,
    header: list[str],
    fmt: BillFormat,
    tags: Sequence[TagFilter],
    stats: dict[TagFilter, _TagStats],
) -> pd.Series:
    import pandas as pd

    mask = pd.Series(True, index=chunk.index)
    for tag in tags:
        values: pd.Series | None = None
        if fmt.tag_column_prefix:
            column = _tag_column(header, fmt.tag_column_prefix, tag.key)
            if column:
                values = chunk[column].where(chunk[column] != "")
        elif fmt.tag_map_column and fmt.tag_map_column in chunk:
            values = _tag_values_from_maps(chunk[fmt.tag_map_column], tag.key)
        if values is None:
            mask &= False
            continue
        matched = values == tag.value
        stats[tag].rows_matched += int(matched.sum())
        if len(stats[tag].values_seen) < 20:
            stats[tag].values_seen.update(str(v) for v in values.dropna().unique()[:20])
        mask &= matched.fillna(False).astype(bool)
    return mask


def _sum_chunk(kept: pd.DataFrame, fmt: BillFormat, period: Period, path: Path) -> pd.Series:
    import pandas as pd

    cost_column = next(c for c in fmt.cost_columns if c in kept)
    cost = pd.to_numeric(kept[cost_column], errors="coerce")
    bad_cost = cost.isna()
    if bad_cost.any():
        lines = first_lines(list(kept.index[bad_cost]))
        raise BadInput(f"bill {path}: {cost_column} is not a number on line(s) {lines}")
    starts = parse_timestamps_ns(kept[fmt.start_column])
    bad_start = starts == NAT
    if bad_start.any():
        lines = first_lines(list(kept.index[bad_start]))
        raise BadInput(f"bill {path}: {fmt.start_column} is not a date on line(s) {lines}")
    frame = pd.DataFrame(
        {
            "period_start_ns": period_starts_ns(starts, period),
            "instance": _instance_types(kept, fmt).to_numpy(),
            "cost_usd": cost.to_numpy(),
            "line_items": 1,
        }
    )
    return frame.groupby(["period_start_ns", "instance"])[["cost_usd", "line_items"]].sum()


def _check_tags(tags: Sequence[TagFilter], stats: dict[TagFilter, _TagStats], paths) -> None:
    files = ", ".join(map(str, paths))
    for tag in tags:
        if stats[tag].rows_matched == 0:
            seen = sorted(stats[tag].values_seen)
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
