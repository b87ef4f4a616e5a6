"""`gpucost compare --slo` on a synthetic set of endpoint load levels: the whole command's wall
time (start-up and imports included), median of several runs, each in a fresh process.

    python benchmarks/compare_slo.py --rows 1000 --runs 4 --repeats 7

The levels are endpoint-like rows (a window, what it served, TTFT/TPOT/ITL/e2e percentiles,
output tokens/s per user), split over `--runs` run folders, half on an H100 and half on an L4,
priced on a two-instance rate card (both plans of each). Plain `compare` on the same folders is
timed beside it for reference.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.results.schema import COLUMNS

CARD = """\
provider: bench
currency: USD
as_of: 2026-12-01
source: made up for the benchmark
instances:
  - {name: h100, gpu: H100-SXM-80GB, gpu_count: 1, vcpus: 16, memory_gib: 128,
     region: here, prices_per_hour: {on_demand: 4.0, spot: 2.0}}
  - {name: l4, gpu: L4, gpu_count: 1, vcpus: 4, memory_gib: 16,
     region: here, prices_per_hour: {on_demand: 0.8, spot: 0.4}}
"""
GPUS = ("H100-SXM-80GB", "L4")
SLO = "ttft_p99=0.5,tpot_p99=0.05"


def write_run(folder: Path, levels: int, gpu: str, speed: float) -> Path:
    """One endpoint sweep of `levels` concurrency levels; latency grows with the load."""
    run_id = folder.name
    folder.mkdir(parents=True)
    meta = {"run_id": run_id, "status": "complete", "created_at": "2026-12-01T00:00:00+00:00",
            "device": {"type": "endpoint", "name": gpu, "gpu_name": gpu}, "host": {},
            "config": {}, "libraries": {}}  # fmt: skip
    (folder / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    columns = [c.name for c in COLUMNS]  # every contract column, endpoint ones included
    with (folder / "measurements.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        for i in range(levels):
            concurrency = i + 1
            ttft = 0.05 * (1 + concurrency / 16) / speed
            tpot = 0.005 * (1 + concurrency / 64) / speed
            requests = 200
            output = requests * 256
            e2e = ttft + 255 * tpot
            window = requests * e2e / concurrency
            settings = {"api": "completions", "concurrency": concurrency, "request_rate": None}
            row = {
                "run_id": run_id, "workload": "text", "model": "served", "device": "endpoint",
                "gpu_name": gpu, "batch_size": concurrency, "status": "ok", "engine": "endpoint",
                "concurrency": concurrency, "window_s": window, "gpus_used": 1,
                "iterations": requests, "requests": requests, "input_tokens": requests * 512,
                "output_tokens": output, "wall_s_mean": e2e, "wall_s_p50": e2e,
                "wall_s_p90": e2e * 1.1, "wall_s_p99": e2e * 1.3,
                "output_tokens_per_s_per_user": 1 / tpot,
                "settings": json.dumps(settings, separators=(",", ":")), "unstable": "False",
            }  # fmt: skip
            for name, value in (("ttft", ttft), ("tpot", tpot), ("itl", tpot), ("e2e", e2e)):
                for q, factor in (("p50", 1.0), ("p90", 1.2), ("p99", 1.5)):
                    row[f"{name}_s_{q}"] = value * factor
            writer.writerow(row)
    return folder


def timed(args: list[str], timeout: float) -> tuple[float | None, int, str]:
    """(wall seconds, exit code, first line of output); None when it timed out."""
    start = time.perf_counter()
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None, -1, ""
    wall = time.perf_counter() - start
    lines = (done.stdout or done.stderr).splitlines()
    return wall, done.returncode, "\n".join(lines[:6])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000, help="load levels in all")
    parser.add_argument("--runs", type=int, default=4, help="run folders they are split over")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=300.0)
    options = parser.parse_args()
    python = [sys.executable, "-m", "harness"]
    with tempfile.TemporaryDirectory() as tmp:
        card = Path(tmp) / "bench.yaml"
        card.write_text(CARD, encoding="utf-8")
        per_run = -(-options.rows // options.runs)
        runs = [
            str(write_run(Path(tmp) / f"run-{i}", per_run, GPUS[i % 2], speed=1.0 + 0.25 * i))
            for i in range(options.runs)
        ]
        common = [*python, "compare", *runs, "--ratecard", str(card),
                  "--instance", "bench:h100", "--instance", "bench:l4"]  # fmt: skip
        plans = {
            "compare --slo": [*common, "--slo", SLO, "--price", "text.output_token=0.60/1M"],
            "compare --slo --format json": [*common, "--slo", SLO, "--format", "json"],
            "compare (no --slo)": common,
        }
        print(
            f"{per_run * options.runs:,} levels in {options.runs} runs, 2 instances × 2 plans; "
            f"{options.repeats} repeats; median wall s"
        )
        for name, args in plans.items():
            walls, code, head = [], 0, ""
            for _ in range(options.repeats):
                wall, code, head = timed(args, options.timeout)
                if wall is None:
                    break
                walls.append(wall)
            if not walls:
                print(f"{name:28} timed out after {options.timeout:.0f} s")
                continue
            print(
                f"{name:28} {statistics.median(walls):6.2f} s  (min {min(walls):.2f}, "
                f"max {max(walls):.2f}, exit {code}, runs {len(walls)})"
            )
            if name == "compare --slo":
                print("  " + head.replace("\n", "\n  "))


if __name__ == "__main__":
    main()
