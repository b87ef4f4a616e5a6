"""Replay arrival accuracy: how late each request of a schedule reaches a recording server,
at 10, 100 and 1,000 requests/s.

The server runs in its own process and stamps each request with `time.perf_counter()` as its
handler starts (CLOCK_MONOTONIC on Linux: the same clock as the client's across processes); it
answers one streamed token at once, so it is never the limit. The schedule is Poisson arrivals
(seeded) replayed by `harness.endpoint.replay.run_schedule`, the function `--trace` uses.
Reported: arrival error = server stamp − planned time (p50/p99/max), and the client's own send
lag = the request's start − planned time.

    python benchmarks/replay_accuracy.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
import urllib.request

from harness.endpoint.client import RequestShape
from harness.endpoint.prompts import Prompt
from harness.endpoint.replay import PlannedRequest, run_schedule
from harness.endpoint.server import free_port
from harness.stats import percentile

BODY = (
    b'data: {"choices": [{"text": " a", "finish_reason": "length"}]}\n\n'
    b'data: {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}\n\n'
    b"data: [DONE]\n\n"
)


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stamps: dict) -> None:
    """HTTP/1.1 keep-alive, one asyncio task per connection: far lighter than a thread each,
    so the server stamps arrivals promptly at 1,000 requests/s."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            arrived = time.perf_counter()
            lines = head.decode("latin-1").split("\r\n")
            method, path = lines[0].split(" ")[:2]
            length = next(
                (
                    int(h.split(":", 1)[1])
                    for h in lines[1:]
                    if h.lower().startswith("content-length:")
                ),
                0,
            )
            body = await reader.readexactly(length) if length else b""
            if method == "POST":
                stamps[json.loads(body)["prompt"]] = arrived
                out, kind = BODY, b"text/event-stream"
            else:
                out, kind = (
                    json.dumps(dict(stamps) if path == "/dump" else {"data": []}).encode(),
                    b"application/json",
                )
                if path == "/dump":
                    stamps.clear()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: " + kind + b"\r\nContent-Length: "
                         + str(len(out)).encode() + b"\r\n\r\n" + out)  # fmt: skip
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


def serve(port: int) -> None:
    async def main() -> None:
        stamps: dict[str, float] = {}
        server = await asyncio.start_server(
            lambda r, w: _handle(r, w, stamps), "127.0.0.1", port, backlog=2048
        )
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def measure(url: str, rate: float, seconds: float, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    schedule, t = [], 0.0
    while True:
        t += rng.expovariate(rate)
        if t >= seconds:
            break
        schedule.append(PlannedRequest(t, Prompt(f"r{len(schedule)}", 1, 1)))
    result = asyncio.run(
        run_schedule(url, RequestShape("completions", None, length_fields=False), schedule,
                     warmup_requests=0, timeout_s=30.0)
    )  # fmt: skip
    with urllib.request.urlopen(url.removesuffix("/v1") + "/dump") as answer:
        stamps = json.load(answer)
    errors = [
        stamps[p.prompt.text] - (result.started_s + p.send_s)
        for p in schedule
        if p.prompt.text in stamps
    ]
    sends = {r.index: r.start_s for r in result.records}
    lags = [sends[i] - (result.started_s + p.send_s) for i, p in enumerate(schedule)]
    return {
        "rate": rate, "requests": len(schedule), "arrived": len(errors),
        "failed": sum(not r.ok for r in result.records),
        "error_p50_ms": 1000 * (percentile(errors, 50) or 0),
        "error_p99_ms": 1000 * (percentile(errors, 99) or 0),
        "error_max_ms": 1000 * max(errors, default=0),
        "lag_p50_ms": 1000 * (percentile(lags, 50) or 0),
        "lag_p99_ms": 1000 * (percentile(lags, 99) or 0),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rates", default="10,100,1000")
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], env=os.environ)
    try:
        url = f"http://127.0.0.1:{port}/v1"
        for _ in range(100):
            try:
                urllib.request.urlopen(url.removesuffix("/v1") + "/health", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
              f"{args.seconds:g} s of Poisson arrivals per rate")  # fmt: skip
        print(f"{'req/s':>6} {'sent':>6} {'err p50':>8} {'err p99':>8} {'err max':>8} "
              f"{'lag p50':>8} {'lag p99':>8}  (ms; err = server arrival - plan)")  # fmt: skip
        for number, rate in enumerate(float(r) for r in args.rates.split(",")):
            m = measure(url, rate, args.seconds, seed=number)
            print(f"{m['rate']:>6g} {m['requests']:>6d} {m['error_p50_ms']:>8.2f} "
                  f"{m['error_p99_ms']:>8.2f} {m['error_max_ms']:>8.2f} {m['lag_p50_ms']:>8.2f} "
                  f"{m['lag_p99_ms']:>8.2f}" + (f"  ({m['failed']} failed)" if m["failed"] else ""))  # fmt: skip
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
