"""Request logs: one line per inference, JSON Lines or SQLite, in the format `gpucost reconcile`
reads. `harness.metering.meter.RequestMeter` writes them; any serving code may too."""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from harness.errors import BadInput
from harness.reconcile.log_fields import UNIT_FIELDS
from harness.reconcile.requests import JSONL_SUFFIXES, SQLITE_SUFFIXES, SQLITE_TABLE


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One inference as it goes into the log. `timestamp_s` is when it started (epoch seconds)."""

    timestamp_s: float
    workload: str
    units: Mapping[str, float]
    wall_s: float
    gpu_s: float | None
    energy_j: float | None
    status: str  # "ok" or "error"
    error: str | None
    instance: str | None

    def log_fields(self) -> dict[str, Any]:
        """The line's fields in log order; quantities not measured are left out (empty)."""
        fields: dict[str, Any] = {
            "timestamp": iso_timestamp(self.timestamp_s),
            "workload": self.workload,
        }
        if self.instance is not None:
            fields["instance"] = self.instance
        fields.update(self.units)
        fields["wall_s"] = self.wall_s
        # A reading that came back inf/nan (a counter wrap, a clock step) is not measured: left
        # out, so every line stays strict JSON and readers never see `Infinity`.
        if self.gpu_s is not None and math.isfinite(self.gpu_s):
            fields["gpu_s"] = self.gpu_s
        if self.energy_j is not None and math.isfinite(self.energy_j):
            fields["energy_j"] = self.energy_j
        fields["status"] = self.status
        if self.error is not None:
            fields["error"] = self.error
        return fields


_second_cache: list[tuple[int, str]] = [(-1, "")]


def iso_timestamp(epoch_s: float) -> str:
    """ISO 8601 UTC with microseconds, e.g. 2026-11-01T23:59:59.900000+00:00.

    The date-and-seconds part is cached (one tuple, swapped whole, so threads never see half an
    update): formatting it is most of a request's metering cost."""
    seconds, micro = divmod(round(epoch_s * 1_000_000), 1_000_000)
    cached_seconds, prefix = _second_cache[0]
    if cached_seconds != seconds:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _second_cache[0] = (seconds, prefix)
    return f"{prefix}.{micro:06d}+00:00"


_encode_line = json.JSONEncoder(separators=(",", ":")).encode


class RequestSink(Protocol):
    def write(self, record: RequestRecord) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


log = logging.getLogger("gpucost.metering")


class WriteFailed(Exception):
    """A flush wrote only the first `done` items (a full disk, a quota, a locked database)."""

    def __init__(self, done: int, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.done = done
        self.cause = cause


class _BufferedSink:
    """Buffers lines and flushes every `flush_every` lines, when `flush_interval_s` has passed
    since the last flush (checked on write), and on close. Safe to share between threads.

    A flush that fails (a full disk) keeps the lines not written and retries at the next flush,
    no sooner than `retry_interval_s` later; it never raises into the caller. Failures are
    counted (`write_failures`) and logged as warnings on the `gpucost.metering` logger, at most
    once a minute. Past `max_pending` buffered lines the oldest are dropped and counted
    (`dropped_lines`), so a disk that stays full cannot take the service's memory."""

    warn_every_s = 60.0

    def __init__(
        self,
        flush_every: int,
        flush_interval_s: float,
        max_pending: int = 100_000,
        retry_interval_s: float = 1.0,
    ) -> None:
        if flush_every < 1 or flush_interval_s < 0 or max_pending < flush_every:
            raise BadInput(
                "flush_every must be >= 1, flush_interval_s >= 0 and max_pending >= flush_every"
            )
        self._flush_every = flush_every
        self._flush_interval_s = flush_interval_s
        self._max_pending = max_pending
        self._retry_interval_s = retry_interval_s
        self._lock = threading.Lock()
        self._buffer: list[Any] = []
        self._last_flush = time.monotonic()
        self._retry_after = 0.0
        self._last_warning = -float("inf")
        self._closed = False
        self.write_failures = 0
        self.dropped_lines = 0

    @property
    def pending(self) -> int:
        """Lines buffered and not yet on disk."""
        return len(self._buffer)

    def _append(self, item: Any) -> None:
        with self._lock:
            if self._closed:
                raise ValueError("request log is closed")
            self._buffer.append(item)
            if len(self._buffer) > self._max_pending:
                excess = len(self._buffer) - self._max_pending
                del self._buffer[:excess]
                self.dropped_lines += excess
            now = time.monotonic()
            if now >= self._retry_after and (
                len(self._buffer) >= self._flush_every
                or now - self._last_flush >= self._flush_interval_s
            ):
                self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                self._flush_locked()
                if self._buffer or self._has_partial():
                    # A line the disk cut short stays cut: it counts as lost too.
                    self.dropped_lines += len(self._buffer) + int(self._has_partial())
                    log.error(
                        "request log %s: %d line(s) could not be written before closing and are "
                        "lost (%d write failure(s))",
                        self._name(),
                        len(self._buffer),
                        self.write_failures,
                    )
                    self._buffer = []
            finally:
                self._closed = True
                with suppress(Exception):
                    self._release()

    def _flush_locked(self) -> None:
        if self._buffer or self._has_partial():
            items, self._buffer = self._buffer, []
            try:
                self._write_out(items)
            except WriteFailed as failed:
                self._buffer = items[failed.done :] + self._buffer
                self._failed(failed.cause)
                return
            except Exception as err:  # any other failure: nothing was written
                self._buffer = items + self._buffer
                self._failed(err)
                return
        self._last_flush = time.monotonic()

    def _failed(self, err: BaseException) -> None:
        self.write_failures += 1
        now = time.monotonic()
        self._retry_after = now + self._retry_interval_s
        if now - self._last_warning >= self.warn_every_s:
            self._last_warning = now
            log.warning(
                "request log %s: cannot write (%s); %d line(s) kept in memory and retried, "
                "%d dropped so far, %d failure(s)",
                self._name(),
                getattr(err, "strerror", None) or err,
                len(self._buffer),
                self.dropped_lines,
                self.write_failures,
            )

    def _has_partial(self) -> bool:
        return False

    def _name(self) -> str:
        return type(self).__name__

    def _write_out(self, items: list[Any]) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class JsonlSink(_BufferedSink):
    """JSON Lines. Each flush is one append to a file opened with O_APPEND, so several processes
    may share one log without interleaving lines.

    With `path` given, a log that was rotated away (renamed or removed, as logrotate does) is
    reopened at `path` before the next flush. A line cut short by a full disk is finished
    first at the next flush, so a single writer's log never keeps half a line."""

    def __init__(
        self,
        handle: IO[bytes],
        flush_every: int = 1000,
        flush_interval_s: float = 5.0,
        path: str | Path | None = None,
        **limits: Any,
    ):
        super().__init__(flush_every, flush_interval_s, **limits)
        self._handle = handle
        self._path = None if path is None else Path(path)
        self._partial = b""
        self._last_error: OSError | None = None

    def write(self, record: RequestRecord) -> None:
        self._append(_encode_line(record.log_fields()))

    def _has_partial(self) -> bool:
        return bool(self._partial)

    def _name(self) -> str:
        return str(self._path) if self._path is not None else "(jsonl)"

    def _reopen_if_rotated(self) -> None:
        if self._path is None:
            return
        try:
            on_disk = os.stat(self._path)
            mine = os.fstat(self._handle.fileno())
            if (on_disk.st_dev, on_disk.st_ino) == (mine.st_dev, mine.st_ino):
                return
        except FileNotFoundError:
            pass
        handle = _open_append(self._path)
        with suppress(OSError):
            self._handle.close()
        self._handle = handle
        # The rest of a cut line belongs to the old file; a new file starts with whole lines.
        self._partial = b""

    def _write_out(self, items: list[str]) -> None:
        self._reopen_if_rotated()
        lines = [(item + "\n").encode("utf-8") for item in items]
        data = self._partial + b"".join(lines)
        written = self._write_all(data)
        if written == len(data):
            self._partial = b""
            return
        # Which lines are whole on disk; the rest of a cut one is written first next time.
        done, end = 0, len(self._partial)
        if written < end:
            self._partial = self._partial[written:]
            raise WriteFailed(0, self._last_error)
        for line in lines:
            if end + len(line) > written:
                break
            end += len(line)
            done += 1
        cut = written - end
        self._partial = lines[done][cut:] if cut else b""
        raise WriteFailed(done + (1 if cut else 0), self._last_error)

    def _write_all(self, data: bytes) -> int:
        """Write `data` (one O_APPEND write when the disk takes it all); the bytes written."""
        view = memoryview(data)
        total = 0
        while total < len(data):
            try:
                written = self._handle.write(view[total:])
                if not written:
                    raise OSError(errno.ENOSPC, "nothing was written")
            except OSError as err:
                self._last_error = err
                return total
            total += written
        return total

    def _release(self) -> None:
        self._handle.close()


SQLITE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("timestamp", "TEXT NOT NULL"),
    ("workload", "TEXT"),
    ("instance", "TEXT"),
    *((name, "REAL") for name in UNIT_FIELDS),
    ("wall_s", "REAL"),
    ("gpu_s", "REAL"),
    ("energy_j", "REAL"),
    ("status", "TEXT"),
    ("error", "TEXT"),
)


class SqliteSink(_BufferedSink):
    """A `requests` table in SQLite (WAL mode, so a reader can run while the service writes)."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        flush_every: int = 1000,
        flush_interval_s: float = 5.0,
        **limits: Any,
    ):
        super().__init__(flush_every, flush_interval_s, **limits)
        self._connection = connection
        names = ", ".join(name for name, _ in SQLITE_COLUMNS)
        marks = ", ".join("?" for _ in SQLITE_COLUMNS)
        self._insert = f"INSERT INTO {SQLITE_TABLE} ({names}) VALUES ({marks})"

    def write(self, record: RequestRecord) -> None:
        fields = record.log_fields()
        self._append(tuple(fields.get(name) for name, _ in SQLITE_COLUMNS))

    def _write_out(self, items: list[tuple[Any, ...]]) -> None:
        with self._connection:
            self._connection.executemany(self._insert, items)

    def _release(self) -> None:
        self._connection.close()


def _open_append(path: Path) -> IO[bytes]:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    return os.fdopen(fd, "ab", buffering=0)


def open_request_log(
    path: str | Path,
    kind: str | None = None,
    flush_every: int = 1000,
    flush_interval_s: float = 5.0,
) -> JsonlSink | SqliteSink:
    """Open (append to) a request log: `kind` "jsonl" or "sqlite", else from the file's suffix."""
    path = Path(path)
    if kind is None:
        suffix = path.suffix.lower()
        kind = (
            "jsonl" if suffix in JSONL_SUFFIXES else "sqlite" if suffix in SQLITE_SUFFIXES else ""
        )
    if kind == "jsonl":
        return JsonlSink(_open_append(path), flush_every, flush_interval_s, path=path)
    if kind == "sqlite":
        connection = sqlite3.connect(path, check_same_thread=False, timeout=5.0)
        connection.execute("PRAGMA journal_mode=WAL")
        columns = ", ".join(f"{name} {kind_}" for name, kind_ in SQLITE_COLUMNS)
        with connection:
            connection.execute(f"CREATE TABLE IF NOT EXISTS {SQLITE_TABLE} ({columns})")
        return SqliteSink(connection, flush_every, flush_interval_s)
    raise BadInput(
        f"request log {path}: name it .jsonl/.ndjson or .sqlite/.sqlite3/.db, or pass kind="
        f"'jsonl' or 'sqlite'"
    )
