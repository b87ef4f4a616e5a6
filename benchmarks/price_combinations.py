"""Time to price (row × instance × plan × utilisation × unit) combinations, and how it scales.

    python benchmarks/price_combinations.py                       # 100,000 combinations, best of 5
    python benchmarks/price_combinations.py --scale 1e6,3e6,1e7 --repeats 3

`--scale` prices each size in a fresh process and reports the median wall time of
`unit_costs` + `apply_prices` and the peak RSS of that process, so that linear growth (time and
memory per combination staying flat) can be read off the table.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd

from harness.money import apply_prices, load_ratecards, parse_price, unit_costs
from harness.results.schema import MEASUREMENT_COLUMNS

H100 = "NVIDIA H100 80GB HBM3"


def text_rows(count: int) -> pd.DataFrame:
    rows = []
    for i in range(count):
        batch = 1 + i % 64
        rows.append(
            {
                "run_id": "bench", "workload": "text", "preset": "llama-3.1-8b",
                "model": "llama-3.1-8b", "device": "cuda:0", "gpu_name": H100, "dtype": "bf16",
                "batch_size": batch, "status": "ok", "wall_s_p50": 2.0 + batch * 0.01,
                "prefill_s_p50": 0.2, "decode_s_p50": 1.8 + batch * 0.01,
                "input_tokens": batch * 512, "output_tokens": batch * 256, "requests": batch,
                "power_limit_w": 700.0,
            }
        )  # fmt: skip
    frame = pd.DataFrame(rows)
    for column in MEASUREMENT_COLUMNS:
        if column not in frame:
            frame[column] = float("nan")
    return frame


UTILIZATIONS = (0.25, 0.5, 0.75, 1.0)
PRICES = ("text.output_token=0.60/1M",)


def _instances() -> list:
    return [i for i in load_ratecards().instances if i.gpu == "H100-SXM-80GB"]


def _rows_for(combinations: int, instances: list) -> int:
    plans_per_instance = sum(len(i.prices_per_hour_usd) for i in instances)
    # 3 units per text row (input token, output token, request).
    return combinations // (plans_per_instance * len(UTILIZATIONS) * 3) + 1


def price_once(combinations: int) -> None:
    """One pricing in this process: prints combinations, wall s and peak RSS MiB."""
    instances = _instances()
    frame = text_rows(_rows_for(combinations, instances))
    prices = [parse_price(p) for p in PRICES]
    started = time.perf_counter()
    priced = apply_prices(unit_costs(frame, instances, None, UTILIZATIONS), prices)
    wall = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(len(priced), wall, peak_mib)


def scale(sizes: list[int], repeats: int) -> None:
    print(f"{repeats} repeats per size, each in a fresh process; medians")
    print(f"{'combinations':>14} {'wall s':>9} {'peak MiB':>9} {'µs/comb':>8} {'B/comb':>7}")
    for size in sizes:
        walls, peaks, count = [], [], 0
        for _ in range(repeats):
            done = subprocess.run(
                [sys.executable, __file__, "--once", str(size)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            count_text, wall_text, peak_text = done.stdout.split()
            count = int(count_text)
            walls.append(float(wall_text))
            peaks.append(float(peak_text))
        wall, peak = statistics.median(walls), statistics.median(peaks)
        print(f"{count:>14,} {wall:>9.2f} {peak:>9.0f} {wall / count * 1e6:>8.2f} "
              f"{peak * 2**20 / count:>7.0f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", help="comma-separated sizes, e.g. 1e6,3e6,1e7")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--once", type=float, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.once is not None:
        price_once(int(options.once))
        return
    if options.scale:
        scale([int(float(s)) for s in options.scale.split(",")], options.repeats)
        return
    instances = _instances()
    prices = [parse_price(p) for p in PRICES]
    rows = _rows_for(100_000, instances)
    frame = text_rows(rows)
    plans_per_instance = sum(len(i.prices_per_hour_usd) for i in instances)
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        priced = apply_prices(unit_costs(frame, instances, None, UTILIZATIONS), prices)
        best = min(best, time.perf_counter() - started)
    print(f"{len(priced):,} combinations ({rows} rows × {plans_per_instance} instance-plans × "
          f"{len(UTILIZATIONS)} utilisations × 3 units): best of 5 {best:.3f} s")  # fmt: skip


if __name__ == "__main__":
    main()
