"""What every trace reader yields and reports: one request (`TraceRequest`), the tallies of what
was skipped or refused (`TraceTally`), and the interface a format implements (`TraceReader`).

A reader turns the text (or SQLite rows) of one format into `RawRequest`s: an absolute arrival
time in seconds on the trace's own clock and the recorded lengths. Everything format-independent
— checking the numbers, putting arrivals in order, the window, the content hash — is done once in
`harness.traffic.read`, so a new format is one small module. The line-level checks that several
formats share (JSON Lines objects, a CSV header's columns and each row's width, a JSON number
field) are here too."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar

BLOCK_TOKENS_DEFAULT = 512
"""Tokens per `hash_ids` block in Mooncake traces (and in the prompts built from them)."""

MAX_TOKENS_PER_REQUEST = 10_000_000
"""A length above this is not a request but a broken line: refused, counted."""


@dataclass(frozen=True, slots=True)
class TraceRequest:
    """One request of a trace. `arrival_s` is seconds from the start of the replayed window (the
    first request of the trace is at 0 when no window is asked). `output_len` is None where the
    trace records no output (embedding traffic); `hash_ids` is None where the trace gives no
    prompt-block identities (one id per `block_tokens` tokens of the prompt otherwise)."""

    arrival_s: float
    input_len: int
    output_len: int | None
    hash_ids: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class RawRequest:
    """What a reader extracts from one line, before checks: `time_s` on the trace's own clock."""

    time_s: float
    input_len: int
    output_len: int | None
    hash_ids: tuple[int, ...] | None
    line: int


class LineError(ValueError):
    """A line a reader cannot parse; the message says what is wrong with it (not where)."""


class LineSkipped(Exception):
    """A well-formed line that is not a request to replay (a failed request in the log). The
    message is the reason, counted per reason."""


@dataclass
class TraceTally:
    """What reading a trace left out, and why. Line numbers are 1-based lines of the file (rows
    of the table for SQLite); only the first few are kept."""

    keep_lines: ClassVar[int] = 5

    lines: int = 0
    unparseable: int = 0
    unparseable_lines: list[int] = field(default_factory=list)
    refused: int = 0
    refused_lines: list[int] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    out_of_order: int = 0
    late_refused: int = 0
    first_problem: str | None = None

    def note_unparseable(self, line: int, why: str) -> None:
        self.unparseable += 1
        if len(self.unparseable_lines) < self.keep_lines:
            self.unparseable_lines.append(line)
        if self.first_problem is None:
            self.first_problem = f"line {line}: {why}"

    def note_refused(self, line: int, why: str) -> None:
        self.refused += 1
        if len(self.refused_lines) < self.keep_lines:
            self.refused_lines.append(line)
        if self.first_problem is None:
            self.first_problem = f"line {line}: {why}"

    def note_skipped(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def summary(self) -> str:
        """One line for the terminal; empty when nothing was left out or moved."""
        parts = []
        if self.unparseable:
            at = ", ".join(map(str, self.unparseable_lines))
            parts.append(f"{self.unparseable} unparseable line(s) (lines {at}...)")
        if self.refused:
            at = ", ".join(map(str, self.refused_lines))
            parts.append(f"{self.refused} refused for impossible lengths (lines {at}...)")
        for reason, count in sorted(self.skipped.items()):
            parts.append(f"{count} skipped ({reason})")
        if self.out_of_order:
            parts.append(f"{self.out_of_order} out of order (sorted by arrival)")
        if self.late_refused:
            parts.append(f"{self.late_refused} refused: too far out of order to sort in a stream")
        if self.first_problem and (self.unparseable or self.refused):
            parts.append(f"first: {self.first_problem}")
        return "; ".join(parts)


class TraceReader:
    """One trace format. Subclasses set `format_name`, say whether a file's first line is theirs
    (`sniff`) and turn an open text stream into `RawRequest`s (`requests`), raising `LineError`
    through `on_bad_line` for lines they cannot read. Readers of non-text files (SQLite) set
    `binary_magic` and override `requests_from_path` instead."""

    format_name: ClassVar[str]
    description: ClassVar[str]
    block_tokens: ClassVar[int | None] = None
    binary_magic: ClassVar[bytes | None] = None

    @classmethod
    def sniff(cls, first_line: str) -> bool:
        """True when a file whose first (decompressed, text) line is `first_line` is this format."""
        raise NotImplementedError

    def requests(self, stream: IO[str], tally: TraceTally) -> Iterator[RawRequest]:
        """Every request line of the stream, in file order; bad lines noted in `tally`."""
        raise NotImplementedError

    def requests_from_path(self, path: Path, tally: TraceTally) -> Iterator[RawRequest]:
        raise NotImplementedError(f"{self.format_name} is read from text")


def parse_int(text: str, what: str) -> int:
    """An integer token count from a field; floats that are whole (`12.0`) are accepted."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise LineError(f"{what} {text[:40]!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")) or value != int(value):
        raise LineError(f"{what} {text[:40]!r} is not a whole number")
    return int(value)


def parse_float(text: str, what: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise LineError(f"{what} {text.strip()[:40]!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise LineError(f"{what} {text.strip()[:40]!r} is not finite")
    return value


def number_text(value: Any, what: str) -> str:
    """A JSON field that should hold a number, as text for `parse_int`/`parse_float`; booleans,
    lists and objects are refused (JSON `true` is not a count)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise LineError(f"{what} {str(value)[:40]!r} is not a number")
    return str(value)


def json_objects(stream: IO[str], tally: TraceTally) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each non-blank line of a JSON Lines stream that is a JSON object, with its 1-based line
    number; other lines are noted unparseable in `tally`."""
    for line, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except ValueError:
            tally.note_unparseable(line, "not JSON")
            continue
        if not isinstance(record, dict):
            tally.note_unparseable(line, "not a JSON object")
            continue
        yield line, record


def header_names(row: list[str]) -> list[str]:
    """CSV column names as compared: trimmed, unquoted, lower case."""
    return [name.strip().strip('"').lower() for name in row]


def csv_rows(
    stream: IO[str], columns: tuple[str, ...], tally: TraceTally
) -> tuple[tuple[int, ...], Iterator[tuple[int, list[str]]]]:
    """Where `columns` (as `header_names` spells them) stand in a CSV stream's header, and its
    non-blank rows with their 1-based line numbers. A header missing one of them raises
    `LineError`; a row whose width differs from the header's is noted unparseable in `tally`."""
    rows = csv.reader(stream)
    header = header_names(next(rows, []))
    missing = [name for name in columns if name not in header]
    if missing:
        raise LineError(f"header has no column(s) {', '.join(missing)}")
    width = len(header)

    def checked() -> Iterator[tuple[int, list[str]]]:
        for line, row in enumerate(rows, start=2):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != width:
                tally.note_unparseable(line, f"{len(row)} fields, the header has {width}")
                continue
            yield line, row

    return tuple(header.index(name) for name in columns), checked()


class CsvTraceReader(TraceReader):
    """A CSV format known by the columns its header must have (`columns`, spelled as
    `header_names` gives them, in the order `csv_rows` returns their positions)."""

    columns: ClassVar[tuple[str, ...]]

    @classmethod
    def sniff(cls, first_line: str) -> bool:
        header = header_names(first_line.strip().split(","))
        return all(name in header for name in cls.columns)


def json_object(text: str) -> dict[str, Any] | None:
    """The JSON object a line holds, or None when it holds anything else (for `sniff`)."""
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


class JsonLinesTraceReader(TraceReader):
    """A JSON Lines format: one JSON object per line, turned into a request by `request`, which
    raises `LineError` for a line it cannot read and `LineSkipped` for one not to replay."""

    def request(self, record: dict[str, Any], line: int) -> RawRequest:
        raise NotImplementedError

    def requests(self, stream: IO[str], tally: TraceTally) -> Iterator[RawRequest]:
        for line, record in json_objects(stream, tally):
            try:
                yield self.request(record, line)
            except LineSkipped as why:
                tally.note_skipped(str(why))
            except LineError as err:
                tally.note_unparseable(line, str(err))
