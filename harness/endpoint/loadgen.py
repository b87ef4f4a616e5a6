"""Load generation: closed loop (N requests always in flight) and open loop (Poisson or gamma
arrivals). One event loop, one pooled HTTP client (harness/endpoint/transport.py) per level and
worker process (harness/endpoint/workers.py)."""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from harness.endpoint.client import RequestShape, send
from harness.endpoint.config import LoadLevel
from harness.endpoint.prompts import Prompt
from harness.endpoint.records import RequestRecord
from harness.endpoint.transport import Client


@dataclass(frozen=True)
class LevelResult:
    records: list[RequestRecord]  # measured requests only (warmup left out)
    max_in_flight: int
    stopped_early: bool = False
    send_lags_s: list[float] = field(default_factory=list)
    """open loop: each request's send time − its scheduled time"""


def make_client(
    connections: int, timeout_s: float, headers: Mapping[str, str] | None = None
) -> Client:
    """A pooled client; `headers` (the endpoint's Authorization) go with every request."""
    return Client(connections, timeout_s, headers)


MAX_REQUESTS_PER_LEVEL = 1_000_000
"""Most requests one level sends (each keeps a record): a `--duration` level stops there too."""
MAX_BURST_REQUESTS = 10_000
"""Requests an infinite-rate level sends at once when no `--requests` says how many."""


def arrival_gaps(rate: float, burstiness: float, seed: int) -> Iterator[float]:
    """Gaps between arrivals, drawn as they are needed: gamma with shape `burstiness` and mean
    1/rate (shape 1 = Poisson); all zero for an infinite rate."""
    if math.isinf(rate):
        yield from itertools.repeat(0.0)
        return
    rng = random.Random(seed)
    while True:
        yield rng.gammavariate(burstiness, 1.0 / (rate * burstiness))


def arrival_gaps_s(rate: float, burstiness: float, count: int, seed: int) -> list[float]:
    """The first `count` gaps of `arrival_gaps`."""
    return list(itertools.islice(arrival_gaps(rate, burstiness, seed), count))


async def run_level(
    base_url: str,
    shape: RequestShape,
    prompts: Sequence[Prompt],
    level: LoadLevel,
    *,
    requests: int | None,
    duration_s: float | None,
    warmup_requests: int,
    timeout_s: float,
    burstiness: float = 1.0,
    seed: int = 0,
    headers: Mapping[str, str] | None = None,
    share: tuple[int, int] = (0, 1),
    start_at: Callable[[], Awaitable[float]] | None = None,
) -> LevelResult:
    """Warm up, then run the level until `requests` are sent or `duration_s` has passed (requests
    in flight then are awaited and counted).

    `share` (worker, workers) runs one worker's part of the level (harness/endpoint/workers.py):
    its share of the closed-loop users and requests, or every workers-th arrival of the one
    open-loop schedule; request indices and prompts interleave so the union is the whole level.
    `start_at`, awaited after the warm-up, gives the (perf_counter) time the level starts."""
    worker, workers = share
    pool = itertools.islice(itertools.cycle(prompts), worker, None, workers)
    counter = itertools.count(worker, workers)
    concurrency = None if level.concurrency is None else _part(level.concurrency, share)
    total_requests = requests
    requests = None if requests is None else _part(requests, share)
    warmup_requests = math.ceil(warmup_requests / workers)
    width = concurrency or (requests or 64)
    connections = max(1, min(width, 1024))
    async with make_client(connections, timeout_s, headers) as client:
        if warmup_requests:
            parallel = concurrency or 1
            await _closed_loop(
                client, base_url, shape, pool, counter, parallel, warmup_requests, None, timeout_s
            )
        origin = None
        if start_at is not None:
            origin = await start_at()
            await asyncio.sleep(max(origin - time.perf_counter(), 0.0))
        if concurrency is not None:
            if not concurrency or requests == 0:
                return LevelResult([], 0)
            return await _closed_loop(
                client,
                base_url,
                shape,
                pool,
                counter,
                concurrency,
                requests,
                duration_s,
                timeout_s,
            )
        assert level.request_rate is not None
        return await _open_loop(
            client,
            base_url,
            shape,
            pool,
            counter,
            level.request_rate,
            burstiness,
            total_requests,
            duration_s,
            timeout_s,
            seed,
            share,
            origin,
        )


def _part(total: int, share: tuple[int, int]) -> int:
    """Worker `share[0]`'s part of `total` split as evenly as whole numbers allow."""
    worker, workers = share
    return total // workers + (1 if worker < total % workers else 0)


async def _closed_loop(client, base_url, shape, pool, counter, concurrency, requests, duration_s, timeout_s) -> LevelResult:  # fmt: skip
    records: list[RequestRecord] = []
    sent = 0
    deadline = None if duration_s is None else time.perf_counter() + duration_s
    in_flight = 0
    max_in_flight = 0

    def more() -> bool:
        if sent >= (MAX_REQUESTS_PER_LEVEL if requests is None else requests):
            return False
        return deadline is None or time.perf_counter() < deadline

    async def user() -> None:
        nonlocal sent, in_flight, max_in_flight
        while more():
            sent += 1
            in_flight += 1
            max_in_flight = max(max_in_flight, in_flight)
            try:
                records.append(
                    await send(client, base_url, shape, next(pool), next(counter), timeout_s)
                )
            finally:
                in_flight -= 1

    await asyncio.gather(*(user() for _ in range(concurrency)))
    records.sort(key=lambda r: r.start_s)
    return LevelResult(records, max_in_flight)


async def _open_loop(client, base_url, shape, pool, counter, rate, burstiness, requests, duration_s, timeout_s, seed, share=(0, 1), origin=None) -> LevelResult:  # fmt: skip
    worker, workers = share
    if requests is not None:
        limit = requests
    elif math.isinf(rate):
        limit = MAX_BURST_REQUESTS
    else:
        limit = MAX_REQUESTS_PER_LEVEL
    gaps = itertools.islice(arrival_gaps(rate, burstiness, seed), limit)
    start = time.perf_counter() if origin is None else origin
    deadline = None if duration_s is None else start + duration_s
    in_flight = 0
    max_in_flight = 0
    tasks: list[asyncio.Task[RequestRecord]] = []

    lags: list[float] = []

    async def one(due: float) -> RequestRecord:
        nonlocal in_flight, max_in_flight
        in_flight += 1
        max_in_flight = max(max_in_flight, in_flight)
        try:
            lags.append(time.perf_counter() - due)
            return await send(client, base_url, shape, next(pool), next(counter), timeout_s)
        finally:
            in_flight -= 1

    due = start
    for k, gap in enumerate(gaps):
        due += gap
        if deadline is not None and due >= deadline:
            break
        if k % workers != worker:
            continue
        now = time.perf_counter()
        if due > now:
            await asyncio.sleep(due - now)
        tasks.append(asyncio.create_task(one(due)))
    records = list(await asyncio.gather(*tasks))
    records.sort(key=lambda r: r.start_s)
    return LevelResult(records, max(max_in_flight, 1), send_lags_s=lags)
