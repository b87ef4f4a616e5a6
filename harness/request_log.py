"""Request logs: one line per inference, JSON Lines or SQLite, in the format `gpucost reconcile`
reads. `harness.metering.RequestMeter` writes them; any serving code may too."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from harness.errors import BadInput
from harness.reconcile.requests import JSONL_SUFFIXES, SQLITE_SUFFIXES, SQLITE_TABLE, UNIT_FIELDS


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
        if self.gpu_s is not None:
            fields["gpu_s"] = self.gpu_s
        if self.energy_j is not None:
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


class _BufferedSink:
    """Buffers lines and flushes every `flush_every` lines, when `flush_interval_s` has passed
    since the last flush (checked on write), and on close. Safe to share between threads."""

    def __init__(self, flush_every: int, flush_interval_s: float) -> None:
        if flush_every < 1 or flush_interval_s < 0:
            raise BadInput("flush_every must be >= 1 and flush_interval_s >= 0")
        self._flush_every = flush_every
        self._flush_interval_s = flush_interval_s
        self._lock = threading.Lock()
        self._buffer: list[Any] = []
        self._last_flush = time.monotonic()
        self._closed = False

    def _append(self, item: Any) -> None:
        with self._lock:
            if self._closed:
                raise ValueError("request log is closed")
            self._buffer.append(item)
            if (
                len(self._buffer) >= self._flush_every
                or time.monotonic() - self._last_flush >= self._flush_interval_s
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
            finally:
                self._closed = True
                self._release()

    def _flush_locked(self) -> None:
        if self._buffer:
            items, self._buffer = self._buffer, []
            self._write_out(items)
        self._last_flush = time.monotonic()

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
    may share one log without interleaving lines."""

    def __init__(self, handle: IO[bytes], flush_every: int = 1000, flush_interval_s: float = 5.0):
        super().__init__(flush_every, flush_interval_s)
        self._handle = handle

    def write(self, record: RequestRecord) -> None:
        self._append(_encode_line(record.log_fields()))

    def _write_out(self, items: list[str]) -> None:
        data = memoryview(("\n".join(items) + "\n").encode("utf-8"))
        while data:
            written = self._handle.write(data)
            data = data[written or 0 :]

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
        self, connection: sqlite3.Connection, flush_every: int = 1000, flush_interval_s: float = 5.0
    ):
        super().__init__(flush_every, flush_interval_s)
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
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return JsonlSink(os.fdopen(fd, "ab", buffering=0), flush_every, flush_interval_s)
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
