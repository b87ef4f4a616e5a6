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
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from harness.errors import BadInput
from harness.metering.request_log import RequestRecord, RequestSink
from harness.reconcile.log_fields import UNIT_FIELDS

__all__ = ["MeteredRequest", "RequestMeter", "current_request"]

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("gpucost.metering")

_UNIT_SET = frozenset(UNIT_FIELDS)


class EnergyCounter(Protocol):
    def energy_mj(self) -> float | None: ...


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
            self._energy_start_mj = meter._guarded(meter.energy.energy_mj)
        self._events = meter._guarded(meter._start_gpu_timer)
        self._start_s = time.time()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: object, tb: object) -> None:
        wall_s = time.perf_counter() - self._t0
        meter = self._meter
        if self._token is not None:
            _current.reset(self._token)
        # The inference is done: nothing from here on may raise into the caller's request.
        meter._guarded(self._record, wall_s, exc_type)

    def _record(self, wall_s: float, exc_type: type[BaseException] | None) -> None:
        meter = self._meter
        gpu_s = meter._guarded(meter._stop_gpu_timer, self._events)
        energy_j = None
        if meter.energy is not None and self._energy_start_mj is not None:
            end_mj = meter._guarded(meter.energy.energy_mj)
            if end_mj is not None and end_mj >= self._energy_start_mj:
                energy_j = (end_mj - self._energy_start_mj) / 1000.0
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
            meter._guarded(sink.write, record)


def _checked(counts: Mapping[str, float]) -> dict[str, float]:
    for name, value in counts.items():
        if name not in _UNIT_SET:
            raise BadInput(f"unknown unit {name!r}; units: {', '.join(UNIT_FIELDS)}")
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not (value >= 0 and math.isfinite(value))):
            raise BadInput(f"unit {name} must be a finite number >= 0 (got {value!r})")
    return dict(counts)


class RequestMeter:
    """Meters inferences into one or more sinks (request logs, Prometheus).

    `cuda_device` (e.g. "cuda:0") turns on GPU time from CUDA events: the end event is waited
    for when the block exits, which costs nothing when the block already copied its results to
    the host. `energy` is any object with `energy_mj()`. `instance` (e.g. "g5.xlarge") is written
    on every line so reconcile can match requests to a bill's instance type.

    A metering failure (a full disk, a closed log, a meter that stops answering) never raises
    into the caller: it is counted in `failures` and logged as a warning on the
    `gpucost.metering` logger (at most once a minute); the request itself goes on.
    """

    warn_every_s = 60.0

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
        self.failures = 0
        self._last_warning = -float("inf")

    def _guarded(self, call: Callable[..., Any], *args: Any) -> Any:
        """`call(*args)`, or None (counted and warned) when it raises."""
        try:
            return call(*args)
        except Exception as err:
            self.failures += 1
            now = time.monotonic()
            if now - self._last_warning >= self.warn_every_s:
                self._last_warning = now
                log.warning(
                    "request metering failed (%s: %s); the request went on, %d failure(s) so far",
                    type(err).__name__,
                    err,
                    self.failures,
                )
            return None

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
            self._guarded(sink.flush)

    def close(self) -> None:
        for sink in self.sinks:
            self._guarded(sink.close)

    def __enter__(self) -> RequestMeter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
