"""An OpenAI-compatible streaming server whose speed is known exactly: every request's first
token leaves `--ttft-ms` after its body arrived, then one token every `--gap-ms`, whatever the
load (each token is sent at its own absolute due time, so load never pushes later tokens back).
It logs every request's start, token send times and end (JSON Lines, `time.perf_counter()`
seconds: CLOCK_MONOTONIC, the clock the load generator uses, shared by all processes).

    python tests/known_speed_server.py PORT LOG [--ttft-ms 50] [--gap-ms 20]

Plain asyncio streams and HTTP/1.1 keep-alive with chunked transfer, so one process serves
hundreds of streams without being the limit; the load generator under test runs elsewhere."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHUNK_TEXT = " tok"


def _response(status: str, body: bytes, content_type: str = "application/json") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _chunk(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _event(data: dict[str, Any] | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return _chunk(b"data: " + text.encode() + b"\n\n")


class KnownSpeedServer:
    def __init__(self, ttft_s: float, gap_s: float, log: Any) -> None:
        self.ttft_s = ttft_s
        self.gap_s = gap_s
        self.log = log
        self.served = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                # The request's arrival: as soon as its head is read, before any parsing, so the
                # server's own intake counts as server time (as the client sees it).
                arrived = (time.perf_counter(), asyncio.get_running_loop().time())
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                length = int(headers.get("content-length") or 0)
                body = await reader.readexactly(length) if length else b""
                if method == "GET" and path.endswith("/models"):
                    models = {"object": "list", "data": [{"id": "known-speed"}]}
                    writer.write(_response("200 OK", json.dumps(models).encode()))
                elif method == "GET" and path in ("/health", "/metrics"):
                    writer.write(_response("404 Not Found", b"{}"))
                elif method == "POST" and path.endswith("/completions"):
                    await self.stream(json.loads(body), writer, arrived)
                else:
                    writer.write(_response("404 Not Found", b'{"error":"no route"}'))
                await writer.drain()
        finally:
            writer.close()

    async def stream(
        self, body: dict[str, Any], writer: asyncio.StreamWriter, arrived: tuple[float, float]
    ) -> None:
        loop = asyncio.get_running_loop()
        # Due times on the loop's clock (monotonic), offset from the request's own arrival.
        start, begin = arrived
        tokens = int(body.get("max_tokens") or 16)
        prompt = body.get("prompt") or ""
        prompt_tokens = len(str(prompt).split())
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        sent: list[float] = []
        late = 0.0
        chat = "messages" in body
        for k in range(tokens):
            due = begin + self.ttft_s + k * self.gap_s
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            late = max(late, loop.time() - due)
            if chat:
                choice = {"index": 0, "delta": {"content": CHUNK_TEXT}, "finish_reason": None}
            else:
                choice = {"index": 0, "text": CHUNK_TEXT, "finish_reason": None}
            writer.write(_event({"id": "k", "object": "text_completion", "choices": [choice]}))
            await writer.drain()
            sent.append(time.perf_counter())
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": tokens,
                 "total_tokens": prompt_tokens + tokens}  # fmt: skip
        writer.write(_event({"id": "k", "choices": [], "usage": usage}))
        writer.write(_event("[DONE]") + b"0\r\n\r\n")
        await writer.drain()
        end = time.perf_counter()
        self.served += 1
        record = {"start_s": start, "token_times_s": sent, "end_s": end, "tokens": tokens,
                  "late_s": late}  # fmt: skip
        self.log.write(json.dumps(record) + "\n")
        self.log.flush()


def read_log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def server_truth(entries: list[dict[str, Any]], last: int) -> dict[str, float]:
    """What the server's own log says it did for the `last` requests it received (the measured
    ones: warm-up and probe requests come first), and how late its own sends were (a box too
    loaded to keep a schedule at the millisecond cannot judge a client at the millisecond)."""
    measured = sorted(entries, key=lambda e: e["start_s"])[-last:]
    window = max(e["end_s"] for e in measured) - min(e["start_s"] for e in measured)
    tokens = sum(e["tokens"] for e in measured)
    ttfts = sorted(e["token_times_s"][0] - e["start_s"] for e in measured)
    gaps = sorted(b - a for e in measured for a, b in itertools.pairwise(e["token_times_s"]))
    return {
        "requests": len(measured),
        "output_tokens": tokens,
        "output_tokens_per_s": tokens / window,
        "ttft_s_p50": ttfts[len(ttfts) // 2],
        "itl_s_p50": gaps[len(gaps) // 2],
        "late_s_p99": sorted(e["late_s"] for e in measured)[int(len(measured) * 0.99)],
    }


@contextlib.contextmanager
def running(log: Path, ttft_ms: float = 50.0, gap_ms: float = 20.0) -> Iterator[str]:
    """The server in a process of its own on a free port; yields its base URL (…/v1)."""
    import httpx

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    process = subprocess.Popen(
        [sys.executable, __file__, str(port), str(log), "--ttft-ms", str(ttft_ms),
         "--gap-ms", str(gap_ms)]
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(200):
            try:
                if httpx.get(url + "/models", timeout=1.0, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        else:
            raise RuntimeError("the known-speed server did not start")
        yield url
    finally:
        process.terminate()
        process.wait(10)


async def serve(port: int, log_path: Path, ttft_s: float, gap_s: float) -> None:
    with log_path.open("a") as log:
        app = KnownSpeedServer(ttft_s, gap_s, log)
        server = await asyncio.start_server(app.handle, "127.0.0.1", port, backlog=2048)
        async with server:
            await _until_orphaned()


async def _until_orphaned() -> None:
    """Serve while the process that started this one lives: a test killed outright (SIGKILL)
    cannot stop its server, so the server stops itself."""
    parent = os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("log", type=Path)
    parser.add_argument("--ttft-ms", type=float, default=50.0)
    parser.add_argument("--gap-ms", type=float, default=20.0)
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.port, args.log, args.ttft_ms / 1000, args.gap_ms / 1000))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
