"""One load level in `--workers N` processes, each with its own event loop and connection pool,
so that the client is not what limits a level; and what the client itself did (CPU, lag).

The split keeps the load's shape: closed loop gives each worker its share of the users and of
the requests (together, all the users); open loop computes the one arrival schedule and gives
worker w every N-th arrival, starting at w, at its scheduled time. Every worker warms up, then
waits; the parent gives all of them one start time. Timestamps are `time.perf_counter()`, which
on Linux and macOS reads the system-wide monotonic clock: the workers' records are on one clock
and are merged as they are. A plan of requests (index → prompt, due time) splits the same way,
by index modulo N.

Client-bound: each worker measures its CPU time over the level (as a fraction of one core) and
its lag: how late its event loop runs a callback that is due (a streamed chunk waiting in the
socket waits as long before it is timestamped), sampled every LAG_SAMPLE_S, and in open loop how
late each request was sent after its scheduled time."""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from harness.endpoint.client import RequestShape
from harness.endpoint.config import LoadLevel
from harness.endpoint.loadgen import LevelResult, run_level
from harness.endpoint.prompts import Prompt
from harness.endpoint.records import RequestRecord
from harness.endpoint.transport import new_event_loop
from harness.errors import GpucostError
from harness.stats import percentile

LAG_SAMPLE_S = 0.01
CLIENT_CPU_BOUND = 0.9
"""A worker that used this fraction of a core or more was saturated."""
SEND_LAG_BOUND_S = 0.010
"""A client whose p99 lag exceeds this timestamps chunks (or sends requests) too late to trust
latencies at the millisecond."""
CHUNKS_PER_S_PER_WORKER = 10_000
"""Streamed chunks per second one worker is given by default: half of what one core sustains
(aiohttp, measured by benchmarks/http_clients.py at about 20,000 on a loaded 2-core box), so a
worker stays clear of saturation."""
ASSUMED_CHUNKS_PER_S_PER_STREAM = 50.0
"""A stream's chunk rate for sizing workers before anything is measured: 20 ms between tokens,
a fast GPU server."""
START_MARGIN_S = 0.05
"""How far ahead of now the parent sets the common start: time for every worker to hear it."""


class WorkerFailed(GpucostError):
    pass


@dataclass
class ClientLoad:
    """What one worker's client did during the measured part of a level."""

    cpu_s: float = 0.0
    wall_s: float = 0.0
    lags_s: list[float] = field(default_factory=list)

    @property
    def cpu_util(self) -> float | None:
        return self.cpu_s / self.wall_s if self.wall_s > 0 else None


@dataclass(frozen=True)
class SplitLevel:
    records: list[RequestRecord]
    max_in_flight: int
    workers: int
    loads: list[ClientLoad]

    def client_columns(self) -> dict[str, Any]:
        utils = [u for u in (load.cpu_util for load in self.loads) if u is not None]
        lags = [lag for load in self.loads for lag in load.lags_s]
        cpu = max(utils) if utils else None
        lag_p99 = percentile(lags, 99) if lags else None
        bound = None
        if cpu is not None or lag_p99 is not None:
            bound = (cpu is not None and cpu >= CLIENT_CPU_BOUND) or (
                lag_p99 is not None and lag_p99 > SEND_LAG_BOUND_S
            )
        return {
            "client_workers": self.workers,
            "client_cpu_util": cpu,
            "send_lag_s_p99": lag_p99,
            "client_bound": bound,
        }


def cores_available() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers(level: LoadLevel, output_tokens: int, cores: int | None = None) -> int:
    """Enough workers for the level's expected chunk rate at CHUNKS_PER_S_PER_WORKER each, at
    most the cores available."""
    cores = cores or cores_available()
    if level.concurrency is not None:
        chunks_per_s = level.concurrency * ASSUMED_CHUNKS_PER_S_PER_STREAM
    elif level.request_rate is not None and not math.isinf(level.request_rate):
        chunks_per_s = level.request_rate * max(output_tokens, 1)
    else:
        return cores
    return max(1, min(cores, math.ceil(chunks_per_s / CHUNKS_PER_S_PER_WORKER)))


async def measured_level(
    share: tuple[int, int], start_at: Callable[[], Any] | None, **kwargs: Any
) -> tuple[LevelResult, ClientLoad]:
    """`run_level` for one worker, with its client's CPU time and lag from the level's start."""
    load = ClientLoad()
    marks: dict[str, float] = {}
    sampler: asyncio.Task[None] | None = None

    async def begin() -> float:
        nonlocal sampler
        origin = await start_at() if start_at is not None else time.perf_counter()
        marks["cpu"], marks["wall"] = time.process_time(), origin
        sampler = asyncio.create_task(_sample_lag(load.lags_s, origin))
        return origin

    try:
        result = await run_level(share=share, start_at=begin, **kwargs)
    finally:
        if sampler is not None:
            sampler.cancel()
    if marks:
        load.cpu_s = time.process_time() - marks["cpu"]
        load.wall_s = time.perf_counter() - marks["wall"]
    load.lags_s.extend(result.send_lags_s)
    return result, load


async def _sample_lag(lags: list[float], origin: float) -> None:
    due = max(origin, time.perf_counter()) + LAG_SAMPLE_S
    while True:
        await asyncio.sleep(max(due - time.perf_counter(), 0.0))
        now = time.perf_counter()
        lags.append(max(now - due, 0.0))
        due = now + LAG_SAMPLE_S


def run_split_level(
    base_url: str,
    shape: RequestShape,
    prompts: Sequence[Prompt],
    level: LoadLevel,
    workers: int,
    run_async: Callable[[Any], Any],
    on_start: Callable[[], None] | None = None,
    **kwargs: Any,
) -> SplitLevel:
    """Run the level in `workers` processes (in this process for one, through `run_async`, which
    owns the stop signals); every worker process is stopped on every way out. `on_start` is
    called once every worker has warmed up, just before the measured requests start (the server's
    counters are read there)."""
    if level.concurrency is not None:
        workers = min(workers, level.concurrency)
    if kwargs.get("requests") is not None:
        workers = min(workers, kwargs["requests"])
    workers = max(workers, 1)
    args = dict(base_url=base_url, shape=shape, prompts=list(prompts), level=level, **kwargs)
    if workers == 1:

        async def start_now() -> float:
            if on_start is not None:
                on_start()
            return time.perf_counter()

        result, load = run_async(measured_level((0, 1), start_now, **args))
        return SplitLevel(result.records, result.max_in_flight, 1, [load])
    results = _in_processes(args, workers, on_start)
    records = sorted((r for res, _ in results for r in res.records), key=lambda r: r.start_s)
    if level.concurrency is not None:
        in_flight = sum(res.max_in_flight for res, _ in results)
    else:
        in_flight = max(_most_overlapping(records), 1)
    return SplitLevel(records, in_flight, workers, [load for _, load in results])


def _most_overlapping(records: Sequence[RequestRecord]) -> int:
    """The most requests in flight at once (a failed request counts from its start only)."""
    events = sorted(
        [(r.start_s, 1) for r in records]
        + [(r.end_s, -1) for r in records if r.end_s is not None]
        + [(r.start_s, -1) for r in records if r.end_s is None],
        key=lambda e: (e[0], -e[1]),
    )
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def _in_processes(
    args: dict[str, Any], workers: int, on_start: Callable[[], None] | None
) -> list[tuple[LevelResult, ClientLoad]]:
    # spawn, not fork: the parent may run a GPU sampling thread, and a forked copy of a
    # threaded process can deadlock.
    context = multiprocessing.get_context("spawn")
    pipes: list[Connection] = []
    processes = []
    try:
        for worker in range(workers):
            parent_end, child_end = context.Pipe()
            process = context.Process(
                target=_worker_main, args=(child_end, (worker, workers), args), daemon=True
            )
            process.start()
            child_end.close()
            pipes.append(parent_end)
            processes.append(process)
        for message in _gather(pipes, processes):
            if message[0] != "ready":
                raise WorkerFailed(f"load worker failed before the level: {message[1]}")
        if on_start is not None:
            on_start()
        origin = time.perf_counter() + START_MARGIN_S
        for pipe in pipes:
            pipe.send(("go", origin))
        results = []
        for message in _gather(pipes, processes):
            if message[0] != "done":
                raise WorkerFailed(f"load worker failed: {message[1]}")
            results.append((message[1], message[2]))
        return results
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join()
        for pipe in pipes:
            pipe.close()


def _gather(pipes: list[Connection], processes: list[Any]) -> list[Any]:
    """One message from each worker, in worker order; a worker that dies first is an error."""
    messages: dict[int, Any] = {}
    while len(messages) < len(pipes):
        waiting = [p for i, p in enumerate(pipes) if i not in messages]
        ready = wait(waiting, timeout=1.0)
        for pipe in ready:
            i = pipes.index(pipe)
            try:
                messages[i] = pipe.recv()
            except EOFError:
                code = processes[i].exitcode
                raise WorkerFailed(f"load worker {i} exited (code {code})") from None
    return [messages[i] for i in range(len(pipes))]


def _worker_main(pipe: Connection, share: tuple[int, int], args: dict[str, Any]) -> None:
    # Ctrl-C reaches the whole process group: the parent decides, and stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    loop = new_event_loop()
    asyncio.set_event_loop(loop)

    async def start_at() -> float:
        pipe.send(("ready",))
        message = await loop.run_in_executor(None, pipe.recv)
        return float(message[1])

    try:
        result, load = loop.run_until_complete(measured_level(share, start_at, **args))
        pipe.send(("done", result, load))
    except BaseException as err:  # the parent gets one line, whatever went wrong
        pipe.send(("failed", f"{type(err).__name__}: {err}"))
    finally:
        loop.close()
