"""Metering for serving code: one request-log line per inference, in the format `gpucost reconcile`
reads.

    sink = open_request_log("requests.jsonl")          # or "requests.sqlite"
    meter = RequestMeter(sink, workload="text")
    with meter.request() as r:
        out = model.generate(...)
        r.units(input_tokens=n_in, output_tokens=n_out)
    meter.close()

A line is written for every call, also when the block raises (status "error"; the exception then
propagates). Wall time is `perf_counter` around the block. GPU time (CUDA events) is measured only
when a CUDA device is given, and torch is imported only then. Energy is read from any object with
`energy_mj()` (e.g. `harness.meters` NVML meters) at the start and end of the block; with requests
running concurrently the windows overlap, so per-line energy is the device's, not the request's.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

from harness.errors import BadInput
from harness.reconcile.requests import JSONL_SUFFIXES, SQLITE_SUFFIXES, SQLITE_TABLE, UNIT_FIELDS

F = TypeVar("F", bound=Callable[..., Any])

_UNIT_SET = frozenset(UNIT_FIELDS)


class EnergyCounter(Protocol):
    def energy_mj(self) -> float | None: ...


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


_current: contextvars.ContextVar[MeteredRequest | None] = contextvars.ContextVar(
    "gpucost_current_request", default=None
)


def current_request() -> MeteredRequest | None:
    """The innermost request being metered in this thread or task, if any."""
    return _current.get()


class MeteredRequest:
    """One inference being metered; set its unit counts with `units(...)` inside the block."""

    __slots__ = (
        "_counts",
        "_energy_start_mj",
        "_events",
        "_meter",
        "_start_s",
        "_t0",
        "_token",
        "workload",
    )

    def __init__(self, meter: RequestMeter, workload: str) -> None:
        self._meter = meter
        self.workload = workload
        self._counts: dict[str, float] = {}
        self._events: Any = None
        self._energy_start_mj: float | None = None
        self._token: contextvars.Token[MeteredRequest | None] | None = None
        self._t0 = 0.0
        self._start_s = 0.0

    def units(self, **counts: float) -> None:
        """Set unit counts (input_tokens, output_tokens, images, audio_s, characters, sequences,
        queries); a name set again is replaced."""
        self._counts.update(_checked(counts))

    def add(self, **counts: float) -> None:
        """Add to unit counts, e.g. one output token at a time while streaming."""
        for name, value in _checked(counts).items():
            self._counts[name] = self._counts.get(name, 0) + value

    def __enter__(self) -> MeteredRequest:
        meter = self._meter
        self._token = _current.set(self)
        if meter.energy is not None:
            self._energy_start_mj = meter.energy.energy_mj()
        self._events = meter._start_gpu_timer()
        self._start_s = time.time()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: object, tb: object) -> None:
        wall_s = time.perf_counter() - self._t0
        meter = self._meter
        gpu_s = meter._stop_gpu_timer(self._events)
        energy_j = None
        if meter.energy is not None and self._energy_start_mj is not None:
            end_mj = meter.energy.energy_mj()
            if end_mj is not None and end_mj >= self._energy_start_mj:
                energy_j = (end_mj - self._energy_start_mj) / 1000.0
        if self._token is not None:
            _current.reset(self._token)
        record = RequestRecord(
            timestamp_s=self._start_s,
            workload=self.workload,
            units=self._counts,
            wall_s=wall_s,
            gpu_s=gpu_s,
            energy_j=energy_j,
            status="ok" if exc_type is None else "error",
            error=None if exc_type is None else exc_type.__name__,
            instance=meter.instance,
        )
        for sink in meter.sinks:
            sink.write(record)


def _checked(counts: Mapping[str, float]) -> dict[str, float]:
    for name, value in counts.items():
        if name not in _UNIT_SET:
            raise BadInput(f"unknown unit {name!r}; units: {', '.join(UNIT_FIELDS)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise BadInput(f"unit {name} must be a number >= 0 (got {value!r})")
    return dict(counts)


class RequestMeter:
    """Meters inferences into one or more sinks (request logs, Prometheus).

    `cuda_device` (e.g. "cuda:0") turns on GPU time from CUDA events: the end event is waited
    for when the block exits, which costs nothing when the block already copied its results to
    the host. `energy` is any object with `energy_mj()`. `instance` (e.g. "g5.xlarge") is written
    on every line so reconcile can match requests to a bill's instance type.
    """

    def __init__(
        self,
        sink: RequestSink | Sequence[RequestSink],
        workload: str = "",
        instance: str | None = None,
        energy: EnergyCounter | None = None,
        cuda_device: str | int | None = None,
    ) -> None:
        self.sinks: tuple[RequestSink, ...] = (
            tuple(sink) if isinstance(sink, (list, tuple)) else (sink,)  # type: ignore[arg-type]
        )
        self.workload = workload
        self.instance = instance
        self.energy = energy
        self.cuda_device = cuda_device
        self._torch: Any = None

    def request(self, workload: str | None = None) -> MeteredRequest:
        return MeteredRequest(self, self.workload if workload is None else workload)

    def measure(
        self,
        workload: str | None = None,
        units_of: Callable[[Any], Mapping[str, float]] | None = None,
    ) -> Callable[[F], F]:
        """Decorator: meter every call. `units_of(result)` gives the call's unit counts; or set
        them inside the function through `current_request()`."""

        def decorate(fn: F) -> F:
            if inspect.iscoroutinefunction(fn):

                @functools.wraps(fn)
                async def metered_async(*args: Any, **kwargs: Any) -> Any:
                    with self.request(workload) as r:
                        result = await fn(*args, **kwargs)
                        if units_of is not None:
                            r.units(**units_of(result))
                        return result

                return metered_async  # type: ignore[return-value]

            @functools.wraps(fn)
            def metered(*args: Any, **kwargs: Any) -> Any:
                with self.request(workload) as r:
                    result = fn(*args, **kwargs)
                    if units_of is not None:
                        r.units(**units_of(result))
                    return result

            return metered  # type: ignore[return-value]

        return decorate

    def _start_gpu_timer(self) -> Any:
        if self.cuda_device is None:
            return None
        torch = self._torch
        if torch is None:
            import torch  # only for callers that asked for GPU time

            self._torch = torch
        stream = torch.cuda.current_stream(self.cuda_device)
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record(stream)
        return start, end, stream

    def _stop_gpu_timer(self, events: Any) -> float | None:
        if events is None:
            return None
        start, end, stream = events
        end.record(stream)
        end.synchronize()
        return start.elapsed_time(end) / 1000.0

    def flush(self) -> None:
        for sink in self.sinks:
            sink.flush()

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()

    def __enter__(self) -> RequestMeter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
