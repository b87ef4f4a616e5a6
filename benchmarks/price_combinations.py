"""Time to price 100,000 (row × instance × plan × utilisation × price) combinations."""

from __future__ import annotations

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


def main() -> None:
    instances = [i for i in load_ratecards().instances if i.gpu == "H100-SXM-80GB"]
    prices = [parse_price("text.output_token=0.60/1M")]
    utilizations = (0.25, 0.5, 0.75, 1.0)
    plans_per_instance = sum(len(i.prices_per_hour_usd) for i in instances)
    # 3 units per text row (input token, output token, request).
    rows = 100_000 // (plans_per_instance * len(utilizations) * 3) + 1
    frame = text_rows(rows)
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        priced = apply_prices(unit_costs(frame, instances, None, utilizations), prices)
        best = min(best, time.perf_counter() - started)
    print(f"{len(priced):,} combinations ({rows} rows × {plans_per_instance} instance-plans × "
          f"{len(utilizations)} utilisations × 3 units): best of 5 {best:.3f} s")  # fmt: skip


if __name__ == "__main__":
    main()
