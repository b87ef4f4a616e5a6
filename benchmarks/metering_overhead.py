"""`RequestMeter` cost per request with a JSON Lines request log (the target is under 50 µs)."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.metering import RequestMeter, open_request_log

REQUESTS = 100_000


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        meter = RequestMeter(open_request_log(Path(folder) / "requests.jsonl"), workload="text")
        started = time.perf_counter()
        for _ in range(REQUESTS):
            with meter.request() as request:
                request.units(input_tokens=512, output_tokens=128)
        metered_s = time.perf_counter() - started
        meter.close()
        started = time.perf_counter()
        for _ in range(REQUESTS):
            pass
        empty_s = time.perf_counter() - started
    print(f"{(metered_s - empty_s) / REQUESTS * 1e6:.1f} µs per metered request")


if __name__ == "__main__":
    main()
