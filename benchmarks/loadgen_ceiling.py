"""The endpoint load generator's own ceiling: requests/s it sustains against a local endpoint
that answers at once, and its CPU time per request.

The endpoint runs in a separate process (tests/endpoint_fakeapp.py, streamed completions of
`--tokens` chunks), so the CPU time measured here is the load generator's alone. Medians of
`--repeats` runs per concurrency.

    python benchmarks/loadgen_ceiling.py --concurrency 1,16,64 --requests 1000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.endpoint.client import RequestShape  # noqa: E402
from harness.endpoint.config import LoadLevel  # noqa: E402
from harness.endpoint.loadgen import run_level  # noqa: E402
from harness.endpoint.prompts import Prompt  # noqa: E402
from harness.endpoint.server import free_port  # noqa: E402


def wait_up(url: str) -> None:
    for _ in range(100):
        try:
            if httpx.get(url + "/models", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("fake endpoint did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--tokens", type=int, default=8, help="streamed chunks per response")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    port = free_port()
    app = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "endpoint_fakeapp.py"), str(port), "ok"]
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_up(url)
        shape = RequestShape(api="completions", model="fake-model")
        prompts = [Prompt("hello", 1, args.tokens)]
        print("concurrency  requests/s  cpu_ms/request  errors")
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            rates, cpu = [], []
            errors = 0
            for _ in range(args.repeats):
                cpu0, wall0 = time.process_time(), time.perf_counter()
                result = asyncio.run(
                    run_level(url, shape, prompts, LoadLevel(concurrency=concurrency),
                              requests=args.requests, duration_s=None, warmup_requests=0,
                              timeout_s=30.0)
                )  # fmt: skip
                wall = time.perf_counter() - wall0
                rates.append(len(result.records) / wall)
                cpu.append((time.process_time() - cpu0) / len(result.records) * 1000)
                errors += sum(not r.ok for r in result.records)
            print(f"{concurrency:>11}  {statistics.median(rates):>10.0f}  "
                  f"{statistics.median(cpu):>14.3f}  {errors:>6}")  # fmt: skip
    finally:
        app.terminate()
        app.wait()


if __name__ == "__main__":
    main()
