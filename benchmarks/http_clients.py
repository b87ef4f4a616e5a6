"""Which HTTP client and event loop the load generator should use: client CPU time per streamed
chunk and the TTFT each reads, against the known-speed server (tests/known_speed_server.py, in a
process of its own), for httpx + httpx-sse (asyncio), aiohttp (asyncio) and aiohttp (uvloop).

Client CPU is the client process's own (`time.process_time`), so a server that is itself slow
cannot flatter a client; chunks per client CPU second is the per-core ceiling.

    python benchmarks/http_clients.py --concurrency 64 --requests 512 --tokens 32 --repeats 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.known_speed_server import running  # noqa: E402

BODY = {"model": "known-speed", "prompt": "hello world", "max_tokens": 32, "stream": True,
        "stream_options": {"include_usage": True}}  # fmt: skip


async def _closed_loop(one, concurrency: int, requests: int) -> list[float]:
    ttfts: list[float] = []
    sent = 0

    async def user() -> None:
        nonlocal sent
        while sent < requests:
            sent += 1
            ttfts.append(await one())

    await asyncio.gather(*(user() for _ in range(concurrency)))
    return ttfts


async def with_httpx(url: str, concurrency: int, requests: int) -> list[float]:
    import httpx
    from httpx_sse import aconnect_sse

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30, trust_env=False) as client:

        async def one() -> float:
            start = time.perf_counter()
            first = None
            async with aconnect_sse(client, "POST", url + "/completions", json=BODY) as source:
                async for event in source.aiter_sse():
                    if event.data == "[DONE]":
                        break
                    data = json.loads(event.data)
                    if data.get("choices") and first is None:
                        first = time.perf_counter()
            return first - start

        return await _closed_loop(one, concurrency, requests)


async def with_aiohttp(url: str, concurrency: int, requests: int) -> list[float]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    payload = json.dumps(BODY).encode()
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:

        async def one() -> float:
            start = time.perf_counter()
            first = None
            async with session.post(url + "/completions", data=payload, headers=headers) as resp:
                async for line in resp.content:
                    if not line.startswith(b"data: "):
                        continue
                    text = line[6:].strip()
                    if text == b"[DONE]":
                        break
                    data = json.loads(text)
                    if data.get("choices") and first is None:
                        first = time.perf_counter()
            return first - start

        return await _closed_loop(one, concurrency, requests)


CANDIDATES = {
    "httpx+asyncio": (with_httpx, False),
    "aiohttp+asyncio": (with_aiohttp, False),
    "aiohttp+uvloop": (with_aiohttp, True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--requests", type=int, default=512)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    BODY["max_tokens"] = args.tokens
    with tempfile.TemporaryDirectory() as folder, running(Path(folder) / "log") as url:
        print(f"concurrency {args.concurrency}, {args.requests} requests of {args.tokens} chunks,"
              " server TTFT 50 ms, gap 20 ms; medians of", args.repeats)  # fmt: skip
        print(f"{'client':<16} {'us CPU/chunk':>12} {'chunks/CPU-s':>12} {'TTFT p50 ms':>11}")
        for _ in range(args.repeats):
            pass
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in CANDIDATES}
        for _ in range(args.repeats):  # alternated, so load on the box hits all alike
            for name, (run, use_uvloop) in CANDIDATES.items():
                if use_uvloop:
                    import uvloop

                    runner = uvloop.run
                else:
                    runner = asyncio.run
                cpu0 = time.process_time()
                ttfts = runner(run(url, args.concurrency, args.requests))
                cpu = time.process_time() - cpu0
                chunks = args.requests * args.tokens
                results[name].append((cpu / chunks * 1e6, statistics.median(ttfts) * 1000))
        for name, values in results.items():
            us = statistics.median(v[0] for v in values)
            ttft = statistics.median(v[1] for v in values)
            print(f"{name:<16} {us:>12.1f} {1e6 / us:>12.0f} {ttft:>11.1f}")


if __name__ == "__main__":
    main()
