"""`read_trace`: any trace file (plain or gzip) as a stream of checked, time-ordered
`TraceRequest`s, with what was left out counted.

Nothing here holds the whole file: lines are read one at a time, and arrivals are put in order
with a bounded reorder buffer (`REORDER_WINDOW` requests), so a 10-million-line trace streams in
constant memory. A line later than everything the buffer still holds cannot be put in place in a
stream; it is refused and counted (`late_refused`) rather than replayed at a wrong time."""

from __future__ import annotations

import gzip
import hashlib
import heapq
import io
import math
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO

from harness.errors import BadInput
from harness.traffic.base import (
    MAX_TOKENS_PER_REQUEST,
    LineError,
    RawRequest,
    TraceReader,
    TraceRequest,
    TraceTally,
)
from harness.traffic.formats import trace_format, trace_formats

GZIP_MAGIC = b"\x1f\x8b"
REORDER_WINDOW = 100_000
SNIFF_BYTES = 64 * 1024


def _open_text(path: Path, stack: ExitStack) -> IO[str]:
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == GZIP_MAGIC:
        raw: IO[bytes] = stack.enter_context(gzip.open(path, "rb"))  # noqa: SIM115 (the stack closes it)
    else:
        raw = stack.enter_context(path.open("rb"))
    # Undecodable bytes become U+FFFD: the line then fails to parse and is counted, never a crash.
    return stack.enter_context(
        io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")  # type: ignore[arg-type]
    )


def _first_line(path: Path) -> str:
    with ExitStack() as stack:
        with path.open("rb") as probe:
            head = probe.read(len(b"SQLite format 3\x00"))
        if head.startswith(b"SQLite format 3\x00"):
            return head.decode("latin-1")
        try:
            stream = _open_text(path, stack)
            for _ in range(1000):
                line = stream.readline(SNIFF_BYTES)
                if not line:
                    return ""
                if line.strip():
                    return line
        except (OSError, EOFError, gzip.BadGzipFile) as err:
            raise BadInput(f"trace {path}: cannot read ({err})") from None
    return ""


def detect_format(path: Path) -> type[TraceReader]:
    """The format whose reader recognises the file's first non-empty line."""
    first = _first_line(path)
    if not first:
        raise BadInput(f"trace {path}: empty")
    for reader in trace_formats().values():
        if reader.sniff(first):
            return reader
    raise BadInput(
        f"trace {path}: format not recognised from its first line {first.strip()[:60]!r}; "
        f"name it with --trace-format ({', '.join(trace_formats())})"
    )


class Trace:
    """A trace file read as a stream. Iterating reads the file again (constant memory), yielding
    the window's requests in arrival order; after a full pass `tally` says what was left out and
    `content_sha256` identifies exactly the requests yielded (arrival, lengths, block ids), so two
    different traces or windows are never taken for the same work."""

    def __init__(
        self,
        path: Path,
        reader: type[TraceReader],
        *,
        strict: bool,
        start_s: float | None,
        duration_s: float | None,
        max_requests: int | None,
    ) -> None:
        self.path = path
        self.name = path.name
        self.format_name = reader.format_name
        self.block_tokens = reader.block_tokens
        self._reader = reader
        self.strict = strict
        self.start_s = start_s
        self.duration_s = duration_s
        self.max_requests = max_requests
        self.tally = TraceTally()
        self.requests_read = 0
        self.content_sha256: str | None = None

    def __iter__(self) -> Iterator[TraceRequest]:
        self.tally = TraceTally()
        self.requests_read = 0
        self.content_sha256 = None
        digest = hashlib.sha256()
        for request in self._window(self._ordered(self._checked())):
            digest.update(
                f"{request.arrival_s:.6f},{request.input_len},{request.output_len},"
                f"{','.join(map(str, request.hash_ids or ()))}\n".encode()
            )
            self.requests_read += 1
            yield request
        if self.requests_read == 0:
            raise BadInput(f"trace {self.path}: no requests{self._where()}{self._why()}")
        self.content_sha256 = digest.hexdigest()

    def read_all(self) -> list[TraceRequest]:
        """The window's requests as a list (for a replay, which needs them all before it starts)."""
        return list(self)

    def _where(self) -> str:
        if self.start_s is None and self.duration_s is None:
            return ""
        end = (
            "the end" if self.duration_s is None else f"{(self.start_s or 0) + self.duration_s:g} s"
        )
        return f" in the window {self.start_s or 0:g} s to {end} from the trace's first arrival"

    def _why(self) -> str:
        summary = self.tally.summary()
        return f" ({summary})" if summary else ""

    def _raw(self) -> Iterator[RawRequest]:
        reader = self._reader()
        with ExitStack() as stack:
            try:
                if reader.binary_magic is not None:
                    yield from reader.requests_from_path(self.path, self.tally)
                else:
                    yield from reader.requests(_open_text(self.path, stack), self.tally)
            except LineError as err:
                raise BadInput(f"trace {self.path}: {err}") from None
            except (OSError, EOFError, gzip.BadGzipFile) as err:
                raise BadInput(f"trace {self.path}: cannot read ({err})") from None

    def _checked(self) -> Iterator[RawRequest]:
        tally = self.tally
        block = self.block_tokens
        for raw in self._raw():
            tally.lines += 1
            why = _impossible(raw, block)
            if why:
                tally.note_refused(raw.line, why)
            if self.strict and (tally.unparseable or tally.refused):
                raise BadInput(f"trace {self.path}: {tally.first_problem} (--strict)")
            if not why:
                yield raw
        if self.strict and (tally.unparseable or tally.refused):
            raise BadInput(f"trace {self.path}: {tally.first_problem} (--strict)")

    def _ordered(self, raws: Iterator[RawRequest]) -> Iterator[RawRequest]:
        heap: list[tuple[float, int, RawRequest]] = []
        latest_seen = -math.inf
        last_out = -math.inf
        for order, raw in enumerate(raws):
            if raw.time_s < latest_seen:
                self.tally.out_of_order += 1
            latest_seen = max(latest_seen, raw.time_s)
            if raw.time_s < last_out:
                self.tally.late_refused += 1
                continue
            heapq.heappush(heap, (raw.time_s, order, raw))
            if len(heap) > REORDER_WINDOW:
                last_out, _, out = heapq.heappop(heap)
                yield out
        while heap:
            yield heapq.heappop(heap)[2]

    def _window(self, raws: Iterator[RawRequest]) -> Iterator[TraceRequest]:
        start = self.start_s or 0.0
        end = math.inf if self.duration_s is None else start + self.duration_s
        first: float | None = None
        served = 0
        for raw in raws:
            if first is None:
                first = raw.time_s
            offset = raw.time_s - first
            if offset < start:
                continue
            if offset >= end or (self.max_requests is not None and served >= self.max_requests):
                return
            served += 1
            yield TraceRequest(
                arrival_s=offset - start,
                input_len=raw.input_len,
                output_len=raw.output_len,
                hash_ids=raw.hash_ids,
            )


def _impossible(raw: RawRequest, block_tokens: int | None) -> str | None:
    if not 1 <= raw.input_len <= MAX_TOKENS_PER_REQUEST:
        return f"input length {raw.input_len} outside 1..{MAX_TOKENS_PER_REQUEST}"
    if raw.output_len is not None and not 0 <= raw.output_len <= MAX_TOKENS_PER_REQUEST:
        return f"output length {raw.output_len} outside 0..{MAX_TOKENS_PER_REQUEST}"
    if raw.hash_ids is not None and block_tokens:
        blocks = -(-raw.input_len // block_tokens)
        if len(raw.hash_ids) != blocks:
            return (
                f"{len(raw.hash_ids)} hash_ids for {raw.input_len} input tokens "
                f"({blocks} blocks of {block_tokens})"
            )
    return None


def read_trace(
    path: str | Path,
    fmt: str | None = None,
    *,
    strict: bool = False,
    start_s: float | None = None,
    duration_s: float | None = None,
    max_requests: int | None = None,
) -> Trace:
    """Open a trace for streaming. `fmt` names the format (`trace_formats()`), else it is
    detected from the content. `start_s`/`duration_s` cut a window (seconds from the trace's first
    arrival; arrivals are then counted from `start_s`), `max_requests` stops after N. `strict`
    stops at the first line that cannot be read or has impossible lengths; otherwise such lines
    are counted in `trace.tally`. Raises `BadInput` (one line) for a missing, unreadable or
    unrecognised file and, when iterated, for a window with no requests."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"trace {path}: no such file")
    for name, value in (("start", start_s), ("duration", duration_s)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise BadInput(f"--trace-{name} {value}: must be a number of seconds >= 0")
    if duration_s is not None and duration_s == 0:
        raise BadInput("--trace-duration 0: the window is empty")
    if max_requests is not None and max_requests < 1:
        raise BadInput(f"--trace-requests {max_requests}: must be at least 1")
    reader = trace_format(fmt) if fmt else detect_format(path)
    return Trace(
        path,
        reader,
        strict=strict,
        start_s=start_s,
        duration_s=duration_s,
        max_requests=max_requests,
    )
