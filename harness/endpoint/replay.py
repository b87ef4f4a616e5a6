"""Open loop on a given schedule: each planned request is sent at its own time after the level
starts. The schedule comes from a trace (harness/traffic) or anything else; nothing here knows
trace formats."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from harness.endpoint.client import RequestShape, send
from harness.endpoint.loadgen import LevelResult, make_client
from harness.endpoint.prompts import Prompt
from harness.endpoint.records import RequestRecord

MAX_CONNECTIONS = 1024


@dataclass(frozen=True, slots=True)
class PlannedRequest:
    """Send `prompt` (its text and `output_tokens`, the max_tokens asked) `send_s` seconds after
    the level starts."""

    send_s: float
    prompt: Prompt


@dataclass(frozen=True)
class ScheduleResult(LevelResult):
    """A level's records (`RequestRecord.index` is the position in the schedule) and when the
    level started on the `time.perf_counter()` clock, to compare sends with the plan."""

    started_s: float = 0.0


async def run_schedule(
    base_url: str,
    shape: RequestShape,
    schedule: Sequence[PlannedRequest],
    *,
    warmup_requests: int,
    timeout_s: float,
    headers: Mapping[str, str] | None = None,
    on_start: Callable[[], None] | None = None,
) -> ScheduleResult:
    """Warm up with the first prompts one at a time (not measured), then send every planned
    request at its time and await them all. `on_start` is called once the warm-up is done, just
    before the measured requests (the server's counters and the client's CPU are read there)."""
    connections = max(1, min(len(schedule), MAX_CONNECTIONS))
    async with make_client(connections, timeout_s, headers) as client:
        for i in range(min(warmup_requests, len(schedule))):
            await send(client, base_url, shape, schedule[i].prompt, -1 - i, timeout_s)
        if on_start is not None:
            on_start()
        in_flight = 0
        max_in_flight = 0

        async def one(index: int, prompt: Prompt) -> RequestRecord:
            nonlocal in_flight, max_in_flight
            in_flight += 1
            max_in_flight = max(max_in_flight, in_flight)
            try:
                return await send(client, base_url, shape, prompt, index, timeout_s)
            finally:
                in_flight -= 1

        tasks: list[asyncio.Task[RequestRecord]] = []
        start = time.perf_counter()
        for index, planned in enumerate(schedule):
            wait = start + planned.send_s - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.create_task(one(index, planned.prompt)))
        records = list(await asyncio.gather(*tasks))
    records.sort(key=lambda r: r.start_s)
    return ScheduleResult(records, max(max_in_flight, 1), started_s=start)


def replay_schedule(
    arrivals_s: Sequence[float], prompts: Sequence[Prompt], speedup: float
) -> list[PlannedRequest]:
    """Arrivals `speedup` times faster: the same requests at `speedup` times the rate."""
    if not speedup > 0:
        raise ValueError("speed-up must be > 0")
    return [
        PlannedRequest(arrival / speedup, prompt)
        for arrival, prompt in zip(arrivals_s, prompts, strict=True)
    ]
