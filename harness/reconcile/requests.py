"""Request logs (CSV, JSON Lines, SQLite; gzip allowed for the text ones), counted per period.

One line is one inference. Lines are read in chunks and folded into per-period sums as they
come, so a log of tens of millions of lines needs memory for one chunk, not for the log.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import BadInput
from harness.reconcile import requests_sql
from harness.reconcile.log_fields import (
    GROUP_KEYS,
    LOG_FIELDS,
    SUM_FIELDS,
    TEXT_FIELDS,
    is_error,
)
from harness.reconcile.periods import (
    NAT,
    Period,
    numbers_or_nan,
    parse_timestamps_ns,
    period_starts_ns,
)
from harness.reconcile.sources import ProgressFn, first_lines, open_text, require_file

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

JSONL_SUFFIXES = (".jsonl", ".ndjson")
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
SQLITE_TABLE = "requests"


@dataclass
class BadLines:
    """Lines skipped, by reason, with the first few line numbers of each."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[int]] = field(default_factory=dict)

    def add(self, reason: str, lines: Sequence[int]) -> None:
        if len(lines) == 0:
            return
        self.counts[reason] = self.counts.get(reason, 0) + len(lines)
        shown = self.examples.setdefault(reason, [])
        shown.extend(int(n) for n in lines[: max(0, 10 - len(shown))])

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def describe(self, path: Path) -> str:
        parts = [
            f"{count} with {reason} (line {first_lines(self.examples[reason])})"
            for reason, count in self.counts.items()
        ]
        return f"requests {path}: {self.total} line(s) skipped: " + "; ".join(parts)


@dataclass(frozen=True)
class RequestTotals:
    """Inferences and unit sums per period start (int64 ns UTC) × workload × instance."""

    counts: pd.DataFrame  # GROUP_KEYS, inferences, errors, then SUM_FIELDS (NaN = never given)
    lines_read: int
    bad_lines: BadLines


def read_requests(
    path: Path,
    period: Period,
    strict: bool = False,
    chunk_rows: int = 100_000,
    progress: ProgressFn | None = None,
    workload: str | None = None,
) -> RequestTotals:
    """Sum a request log per period. Lines that do not parse are skipped and counted, or stop the
    read with BadInput when `strict`."""
    import pandas as pd

    require_file(path, "request log")
    if _kind(path) == "jsonl":
        fast = requests_sql.read_jsonl_sql(path, period, SUM_FIELDS, workload)
        if fast is not None:
            counts, lines_read = fast
            if progress is not None:
                progress(path.stat().st_size)
            return RequestTotals(_typed(counts), lines_read, BadLines())
    chunks = _chunks(path, chunk_rows, progress)
    bad = BadLines()
    partials: list[pd.DataFrame] = []
    lines_read = 0
    for chunk, not_json in chunks:
        bad.add("no JSON object", not_json)
        lines_read += len(chunk) + len(not_json)
        partial = _fold_chunk(chunk, period, bad, workload)
        if strict and bad.total:
            raise BadInput(bad.describe(path) + " (--strict)")
        if partial is not None:
            partials.append(partial)
    if strict and bad.total:
        raise BadInput(bad.describe(path) + " (--strict)")
    if partials:
        counts = pd.concat(partials).groupby(list(GROUP_KEYS)).sum(min_count=1).reset_index()
    else:
        counts = pd.DataFrame(columns=[*GROUP_KEYS, "inferences", "errors", *SUM_FIELDS])
    return RequestTotals(counts, lines_read, bad)


def _typed(counts: pd.DataFrame) -> pd.DataFrame:
    """The fast path's sums with the slow path's column order and types."""
    out = counts[[*GROUP_KEYS, "inferences", "errors", *SUM_FIELDS]].copy()
    out["period_start_ns"] = out["period_start_ns"].astype("int64")
    for name in ("inferences", "errors"):
        out[name] = out[name].astype("int64")
    for name in SUM_FIELDS:
        out[name] = out[name].astype("float64")
    out["workload"] = out["workload"].astype(object)
    out["instance"] = out["instance"].astype(object)
    return out.sort_values(list(GROUP_KEYS), ignore_index=True)


def _kind(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    if last == ".csv":
        return "csv"
    if last in JSONL_SUFFIXES:
        return "jsonl"
    if last in SQLITE_SUFFIXES and path.suffix.lower() != ".gz":
        return "sqlite"
    raise BadInput(
        f"request log {path}: unknown kind; name it .csv, .jsonl or .ndjson (optionally .gz), "
        f"or .sqlite"
    )


def _chunks(
    path: Path, chunk_rows: int, progress: ProgressFn | None
) -> Iterator[tuple[pd.DataFrame, list[int]]]:
    """(chunk indexed by line number, line numbers that held no JSON object) per chunk."""
    kind = _kind(path)
    if kind == "sqlite":
        yield from _sqlite_chunks(path, chunk_rows)
        return
    with open_text(path, "request log", progress) as (fh, counter):
        if kind == "csv":
            yield from _csv_chunks(fh, path, chunk_rows, counter)
        else:
            yield from _jsonl_chunks(fh, chunk_rows, counter)


def _csv_chunks(
    fh, path: Path, chunk_rows: int, counter
) -> Iterator[tuple[pd.DataFrame, list[int]]]:
    import pandas as pd

    try:
        # Text columns stay text: a CSV cell "true" is no boolean, "007" no number.
        text = {name: str for name in TEXT_FIELDS if name != "timestamp"}
        # Only an empty cell is missing: "nan" or "NULL" in a count column is a bad value.
        reader = pd.read_csv(
            fh,
            chunksize=chunk_rows,
            low_memory=False,
            dtype=text,
            keep_default_na=False,
            na_values=[""],
        )
        first_line = 2  # line 1 is the header
        for chunk in reader:
            if "timestamp" not in chunk.columns:
                raise BadInput(
                    f"request log {path}: no 'timestamp' column (columns: "
                    f"{', '.join(map(str, chunk.columns))})"
                )
            chunk.index = pd.RangeIndex(first_line, first_line + len(chunk))
            first_line += len(chunk)
            counter.update()
            yield chunk, []
    except pd.errors.EmptyDataError:
        return
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise BadInput(f"request log {path}: not a readable CSV file ({err})") from None


def _jsonl_chunks(fh, chunk_rows: int, counter) -> Iterator[tuple[pd.DataFrame, list[int]]]:
    """Lines are read as bytes and parsed one by one, so a record always keeps its own line
    number: a line holding two objects, half a record, or a byte that is no UTF-8 is a bad line,
    never merged with its neighbour."""
    import pandas as pd

    raw = fh.buffer  # JSON decodes UTF-8 bytes itself; bad bytes fail that one line only
    line_no = 0
    while True:
        lines = list(islice(raw, chunk_rows))
        if not lines:
            return
        numbers = [line_no + i + 1 for i, text in enumerate(lines) if text.strip()]
        texts = [text for text in lines if text.strip()]
        line_no += len(lines)
        records, numbers, not_json = _parse_json_lines(texts, numbers)
        columns = _columns(records)
        chunk = pd.DataFrame(columns, index=pd.Index(numbers, dtype="int64"))
        counter.update()
        yield chunk, not_json


_JSON_ERRORS = (ValueError, RecursionError)  # UnicodeDecodeError is a ValueError
NOT_A_NUMBER = "NaN (not a number)"


def _constant(name: str) -> float | str:
    """JSON's non-standard constants: infinities stay floats (refused as not finite), NaN
    becomes text, so that it is refused as given rather than read as a missing value."""
    return NOT_A_NUMBER if name == "NaN" else float(name)


_decode = json.JSONDecoder(parse_constant=_constant).decode


def _load(line: bytes) -> Any:
    return _decode(line.decode("utf-8"))


def _parse_json_lines(
    texts: list[bytes], numbers: list[int]
) -> tuple[list[dict[str, Any]], list[int], list[int]]:
    try:
        records = list(map(_load, texts))
        if all(type(r) is dict for r in records):
            return records, numbers, []
    except _JSON_ERRORS:
        pass
    good: list[dict[str, Any]] = []
    good_numbers: list[int] = []
    bad: list[int] = []
    for text, number in zip(texts, numbers, strict=True):
        try:
            record = _load(text)
        except _JSON_ERRORS:
            record = None
        if isinstance(record, dict):
            good.append(record)
            good_numbers.append(number)
        else:
            bad.append(number)
    return good, good_numbers, bad


def _columns(records: list[dict[str, Any]]) -> dict[str, list[Any]]:
    present = set().union(*records) if records else set()
    return {key: [r.get(key) for r in records] for key in LOG_FIELDS if key in present}


@contextmanager
def open_sqlite_log(path: Path, label: str) -> Iterator[tuple[sqlite3.Connection, list[str]]]:
    """A SQLite request log opened read-only, with the columns of its `requests` table (none
    when it has no such table); closed on leaving. `label` names the file in error lines
    ("request log", "trace")."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as err:
        raise BadInput(f"{label} {path}: cannot open as SQLite ({err})") from None
    try:
        try:
            names = [row[1] for row in connection.execute(f"PRAGMA table_info({SQLITE_TABLE})")]
        except sqlite3.DatabaseError as err:
            raise BadInput(f"{label} {path}: not a SQLite database ({err})") from None
        yield connection, names
    finally:
        connection.close()


def _sqlite_chunks(path: Path, chunk_rows: int) -> Iterator[tuple[pd.DataFrame, list[int]]]:

    import pandas as pd

    with open_sqlite_log(path, "request log") as (connection, names):
        if not names:
            raise BadInput(f"request log {path}: no table '{SQLITE_TABLE}'")
        if "timestamp" not in names:
            raise BadInput(
                f"request log {path}: table '{SQLITE_TABLE}' has no 'timestamp' column "
                f"(columns: {', '.join(map(str, names[:20]))})"
            )
        wanted = ", ".join(f'"{n}"' for n in names if n in LOG_FIELDS)
        query = f"SELECT rowid AS line, {wanted} FROM {SQLITE_TABLE} ORDER BY rowid"
        for chunk in pd.read_sql_query(query, connection, chunksize=chunk_rows):
            yield chunk.set_index("line"), []


def _fold_chunk(
    chunk: pd.DataFrame, period: Period, bad: BadLines, only_workload: str | None
) -> pd.DataFrame | None:
    import numpy as np
    import pandas as pd

    if chunk.empty:
        return None
    # JSON may put a list, an object or a boolean where text belongs: such a value is no text.
    not_text = {name: _not_text(chunk[name]) for name in TEXT_FIELDS if name in chunk}
    if any(wrong.any() for wrong in not_text.values()):
        chunk = chunk.assign(**{n: chunk[n].mask(w) for n, w in not_text.items() if w.any()})
    stamps = (
        parse_timestamps_ns(chunk["timestamp"])
        if "timestamp" in chunk
        else np.full(len(chunk), NAT, dtype=np.int64)
    )
    ok = stamps != NAT
    bad.add("no readable timestamp", chunk.index[~ok])
    for name, wrong_type in not_text.items():
        if name != "timestamp":
            wrong = ok & wrong_type
            bad.add(f"{name} not text", chunk.index[wrong])
            ok &= ~wrong
    frame = pd.DataFrame(index=chunk.index)
    for name in SUM_FIELDS:
        if name in chunk:
            column = chunk[name]
            values = pd.Series(numbers_or_nan(column.to_numpy()), index=column.index)
            given = column.notna()
            if not pd.api.types.is_numeric_dtype(column.dtype):
                given &= column.astype(str).str.strip() != ""
            values = values.mask(_is_boolean(column))  # JSON true is no count of 1
            infinite = (ok & given & np.isinf(values)).to_numpy()
            bad.add(f"{name} not finite", chunk.index[infinite])
            ok &= ~infinite
            wrong = (ok & given & ~(values >= 0)).to_numpy()
            bad.add(f"{name} not a number >= 0", chunk.index[wrong])
            ok &= ~wrong
            frame[name] = values.astype("float64")
        else:
            frame[name] = np.nan
    frame.insert(0, "period_start_ns", period_starts_ns(stamps, period))
    frame.insert(1, "workload", _text(chunk, "workload"))
    frame.insert(2, "instance", _text(chunk, "instance"))
    frame.insert(3, "inferences", 1)
    frame.insert(4, "errors", _text(chunk, "status", is_error).astype("int64"))
    frame = frame[ok]
    if only_workload is not None:
        frame = frame[frame["workload"] == only_workload]
    if frame.empty:
        return None
    return frame.groupby(list(GROUP_KEYS)).sum(min_count=1)


def _is_text(value: Any) -> bool:
    """Text, a number (read as text: an instance named 42) or missing; not a list, an object or
    a boolean."""
    import numpy as np

    if value is None or isinstance(value, str):
        return True
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _not_text(column: pd.Series) -> np.ndarray:
    """Where a text column holds something that is not text (see `_is_text`)."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_bool_dtype(column.dtype):
        return column.notna().to_numpy()
    if column.dtype != object:  # strings or numbers only
        return np.zeros(len(column), dtype=bool)
    try:
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
    except TypeError:  # unhashable: a list or an object somewhere in the column
        return np.array([not _is_text(v) for v in column], dtype=bool)
    wrong = np.array([not _is_text(u) for u in uniques] + [False], dtype=bool)
    return wrong[codes]


def _is_boolean(column: pd.Series) -> np.ndarray:
    """Where a unit or measurement column holds a boolean (pandas would count true as 1)."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_bool_dtype(column.dtype):
        return column.notna().to_numpy()
    if column.dtype != object:
        return np.zeros(len(column), dtype=bool)
    return np.array([isinstance(v, (bool, np.bool_)) for v in column], dtype=bool)


def _text(chunk: pd.DataFrame, name: str, convert=str.strip) -> np.ndarray:
    """A text column, stripped, "" where empty; `convert` runs once per distinct value."""
    import numpy as np
    import pandas as pd

    if name not in chunk:
        return np.full(len(chunk), convert(""), dtype=object)
    codes, uniques = pd.factorize(chunk[name], use_na_sentinel=True)
    converted = np.array([convert(str(u).strip()) for u in uniques] + [convert("")], dtype=object)
    return converted[codes]  # code -1 (missing) takes the last entry
