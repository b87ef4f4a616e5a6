"""The capacity table: per instance type and request-size bucket, the requests/s that meet the SLO.

One row per (instance, bucket). A bucket is given by its upper bounds `input_len_max` and
`output_len_max` (tokens); an empty bound is unbounded, both empty is one capacity for the whole
mix. The table is written by `gpucost capacity` from endpoint runs, or by hand, or by another
tool: either way it is read back through `read_capacity`, which checks every cell and names the
file, line and column of the first thing wrong.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import BadInput

COLUMNS: tuple[str, ...] = (
    "instance",
    "input_len_max",
    "output_len_max",
    "max_requests_per_s",
    "max_requests_per_s_low",
    "max_requests_per_s_high",
    "source",
    "projected",
)
REQUIRED: tuple[str, ...] = ("instance", "max_requests_per_s")
MAX_FILE_BYTES = 10_000_000
"""A capacity table has a row per instance type and bucket: a few kB. Larger is not one."""
MAX_LENGTH_TOKENS = 10_000_000
"""Longer than any model's context: a length bound above this is a typo."""


@dataclass(frozen=True)
class CapacityEntry:
    instance: str
    input_len_max: int | None
    output_len_max: int | None
    max_requests_per_s: float
    max_requests_per_s_low: float | None = None
    max_requests_per_s_high: float | None = None
    source: str = ""
    projected: bool = False
    where: str = ""
    """file and line it was read from, for messages"""

    @property
    def bucket(self) -> tuple[int | None, int | None]:
        return (self.input_len_max, self.output_len_max)

    def fits(self, input_len: float, output_len: float) -> bool:
        """Whether a request of these lengths lies in this bucket."""
        return (self.input_len_max is None or input_len <= self.input_len_max) and (
            self.output_len_max is None or output_len <= self.output_len_max
        )

    def covers(self, bucket: tuple[int | None, int | None]) -> bool:
        """Whether every request of `bucket` lies in this entry's bucket."""
        return all(
            mine is None or (theirs is not None and theirs <= mine)
            for mine, theirs in zip(self.bucket, bucket, strict=True)
        )


def bucket_text(bucket: tuple[int | None, int | None]) -> str:
    """`in≤512 out≤128`, `any length` for the whole mix."""
    parts = [f"{name}≤{v}" for name, v in zip(("in", "out"), bucket, strict=True) if v is not None]
    return " ".join(parts) or "any length"


def _cell_number(value: str, where: str, column: str) -> float | None:
    text = value.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        raise BadInput(f"{where}, column {column}: {text[:40]!r} is not a number") from None
    if not math.isfinite(number):
        raise BadInput(f"{where}, column {column}: {text[:40]!r} is not a finite number")
    return number


def _length(value: str, where: str, column: str) -> int | None:
    number = _cell_number(value, where, column)
    if number is None:
        return None
    if number != int(number) or number < 1 or number > MAX_LENGTH_TOKENS:
        raise BadInput(
            f"{where}, column {column}: {value.strip()!r} must be a whole number of tokens "
            f"from 1 to {MAX_LENGTH_TOKENS:,} (or empty: unbounded)"
        )
    return int(number)


def _rate(value: str, where: str, column: str, *, required: bool) -> float | None:
    number = _cell_number(value, where, column)
    if number is None:
        if required:
            raise BadInput(f"{where}, column {column}: empty; give the requests/s under the SLO")
        return None
    if number <= 0:
        raise BadInput(
            f"{where}, column {column}: {value.strip()!r} requests/s must be > 0 "
            "(an instance that cannot serve a bucket has no row for it)"
        )
    return number


def _flag(value: str, where: str) -> bool:
    text = value.strip().lower()
    if text in ("", "false", "0", "no"):
        return False
    if text in ("true", "1", "yes"):
        return True
    raise BadInput(f"{where}, column projected: {value.strip()[:40]!r} is not true or false")


def read_capacity(path: str | Path) -> list[CapacityEntry]:
    """The entries of a capacity CSV, or BadInput naming the file, line and column."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: no such capacity file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise BadInput(f"{path}: {size:,} bytes is too large for a capacity table")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise BadInput(f"{path}: cannot read ({err})") from None
    reader = csv.reader(text.splitlines())
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise BadInput(f"{path}: empty; expected a header line ({', '.join(COLUMNS)})") from None
    except csv.Error as err:
        raise BadInput(f"{path}: line 1: not valid CSV ({err})") from None
    for name in header:
        if name not in COLUMNS:
            raise BadInput(
                f"{path}: line 1: unknown column {name[:40]!r} (columns: {', '.join(COLUMNS)})"
            )
    if len(set(header)) != len(header):
        raise BadInput(f"{path}: line 1: a column is named twice")
    for name in REQUIRED:
        if name not in header:
            raise BadInput(f"{path}: line 1: no {name} column")
    entries: list[CapacityEntry] = []
    seen: dict[tuple[str, int | None, int | None], int] = {}
    try:
        for line, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            where = f"{path}: line {line}"
            if len(cells) != len(header):
                raise BadInput(f"{where}: {len(cells)} cells, the header has {len(header)}")
            row = dict(zip(header, cells, strict=True))
            entry = _entry(row, where)
            key = (entry.instance, *entry.bucket)
            if key in seen:
                raise BadInput(
                    f"{where}: {entry.instance} {bucket_text(entry.bucket)} is given twice "
                    f"(also line {seen[key]})"
                )
            seen[key] = line
            entries.append(entry)
    except csv.Error as err:
        raise BadInput(f"{path}: line {reader.line_num}: not valid CSV ({err})") from None
    if not entries:
        raise BadInput(f"{path}: no capacity rows under the header")
    return entries


def _entry(row: dict[str, str], where: str) -> CapacityEntry:
    instance = row["instance"].strip()
    provider, sep, name = instance.partition(":")
    if not sep or not provider or not name:
        raise BadInput(
            f"{where}, column instance: {instance[:60]!r} is not PROVIDER:NAME (e.g. aws:g5.xlarge)"
        )
    point = _rate(row["max_requests_per_s"], where, "max_requests_per_s", required=True)
    assert point is not None
    low = _rate(
        row.get("max_requests_per_s_low", ""), where, "max_requests_per_s_low", required=False
    )
    high = _rate(
        row.get("max_requests_per_s_high", ""), where, "max_requests_per_s_high", required=False
    )
    if low is not None and low > point:
        raise BadInput(
            f"{where}, column max_requests_per_s_low: {low:g} is above max_requests_per_s {point:g}"
        )
    if high is not None and high < point:
        raise BadInput(
            f"{where}, column max_requests_per_s_high: {high:g} is below max_requests_per_s {point:g}"
        )
    source = row.get("source", "").strip()
    if any(ord(ch) < 32 for ch in source):
        raise BadInput(f"{where}, column source: control characters are not allowed")
    return CapacityEntry(
        instance=instance,
        input_len_max=_length(row.get("input_len_max", ""), where, "input_len_max"),
        output_len_max=_length(row.get("output_len_max", ""), where, "output_len_max"),
        max_requests_per_s=point,
        max_requests_per_s_low=low,
        max_requests_per_s_high=high,
        source=source[:200],
        projected=_flag(row.get("projected", ""), where),
        where=where,
    )


def capacity_csv(entries: Iterable[CapacityEntry]) -> str:
    """The table as CSV text, in COLUMNS order; empty cells for what is not known."""
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for e in entries:
        writer.writerow(
            [
                e.instance,
                "" if e.input_len_max is None else e.input_len_max,
                "" if e.output_len_max is None else e.output_len_max,
                format(e.max_requests_per_s, ".6g"),
                "" if e.max_requests_per_s_low is None else format(e.max_requests_per_s_low, ".6g"),
                ""
                if e.max_requests_per_s_high is None
                else format(e.max_requests_per_s_high, ".6g"),
                e.source,
                "true" if e.projected else "false",
            ]
        )
    return out.getvalue()


def size_classes(entries: Sequence[CapacityEntry]) -> list[tuple[int | None, int | None]]:
    """The distinct buckets of the table, tightest first (unbounded sorts last)."""
    big = math.inf
    return sorted(
        {e.bucket for e in entries},
        key=lambda b: (big if b[0] is None else b[0], big if b[1] is None else b[1]),
    )


def class_capacity(
    entries: Sequence[CapacityEntry],
    instance: str,
    bucket: tuple[int | None, int | None],
    *,
    low: bool = False,
) -> float | None:
    """Requests/s `instance` sustains on requests of `bucket`: its tightest entries that cover
    the bucket (those covering no other covering entry; the bucket's own when measured), the
    least of them when several are not nested. With `low`, the interval's low ends where
    entries have them. None when no entry covers the bucket."""
    covering = [e for e in entries if e.instance == instance and e.covers(bucket)]
    if not covering:
        return None
    tightest = [
        e for e in covering
        if not any(o is not e and o.bucket != e.bucket and e.covers(o.bucket) for o in covering)
    ]  # fmt: skip
    if low:
        return min(e.max_requests_per_s_low or e.max_requests_per_s for e in tightest)
    return min(e.max_requests_per_s for e in tightest)
