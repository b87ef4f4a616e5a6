"""Money commands at scale: a large run folder through `price`, `compare` and `report`, and the
report's time for one ordinary run. Wall time and peak memory (max RSS) per command, medians.

    python benchmarks/money_scale.py --rows 100000 --repeats 3 --timeout 900
    python benchmarks/money_scale.py --rows 10000 --commands price,compare

Each command runs in a fresh process (`python -m harness`), so start-up and imports count, as
they do for a user. A command that runs past `--timeout` is reported as such.
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

from harness.results.schema import EXTRA_MEASUREMENT_COLUMNS, MEASUREMENT_COLUMNS

H100 = "NVIDIA H100 80GB HBM3"


def write_run(folder: Path, rows: int) -> Path:
    """A text run of `rows` ok rows (distinct batch sizes), valid for the run-folder readers."""
    run_id = folder.name
    folder.mkdir(parents=True)
    meta = {"run_id": run_id, "status": "complete", "created_at": "2026-12-01T00:00:00+00:00",
            "device": {"type": "cuda", "name": H100, "gpu_name": H100, "power_limit_w": 700.0},
            "host": {}, "config": {}, "libraries": {}}  # fmt: skip
    (folder / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    columns = [*MEASUREMENT_COLUMNS, *EXTRA_MEASUREMENT_COLUMNS]
    with (folder / "measurements.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        for i in range(rows):
            batch = i + 1
            wall = 0.05 + 0.001 * (i % 997)
            writer.writerow(
                {"run_id": run_id, "workload": "text", "preset": "llama-3.1-8b",
                 "model": "llama-3.1-8b", "device": "cuda:0", "gpu_name": H100, "dtype": "bf16",
                 "batch_size": batch, "status": "ok", "iterations": 10, "wall_s_mean": wall,
                 "wall_s_p50": wall, "wall_s_p99": wall * 1.1, "prefill_s_p50": wall * 0.2,
                 "decode_s_p50": wall * 0.8, "input_tokens": batch * 128,
                 "output_tokens": batch * 64, "requests": batch, "energy_j": 100.0 * wall,
                 "unstable": "False"}
            )  # fmt: skip
    return folder


_MEASURE = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:], "
    "capture_output=True).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)"
)
"""A wrapper process per command, so the peak RSS it reports is that command's alone."""


def timed(args: list[str], timeout: float) -> tuple[float | None, float | None, int]:
    """(wall seconds, peak RSS MiB, exit code); None, None when it timed out."""
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-c", _MEASURE, *args],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return None, None, -1
    wall = time.perf_counter() - start
    peak_kib, code = done.stdout.split()
    return wall, int(peak_kib) / 1024, int(code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--commands", default="price,compare,report,report-one-run")
    options = parser.parse_args()
    python = [sys.executable, "-m", "harness"]
    with tempfile.TemporaryDirectory() as tmp:
        big = write_run(Path(tmp) / "big-run", options.rows)
        small = write_run(Path(tmp) / "one-run", 3)
        plans = {
            "price": [*python, "price", str(big), "--plan", "on_demand", "--format", "csv",
                      "-o", str(Path(tmp) / "price.csv")],
            "compare": [*python, "compare", str(big), "--plan", "on_demand", "--format", "csv"],
            "report": [*python, "report", str(big), "--plan", "on_demand",
                       "-o", str(Path(tmp) / "big.html")],
            "report-one-run": [*python, "report", str(small), "-o", str(Path(tmp) / "one.html")],
        }  # fmt: skip
        print(f"{options.rows:,} rows; {options.repeats} repeats; median wall s, peak RSS MiB")
        for name in options.commands.split(","):
            walls, peaks, code = [], [], 0
            for _ in range(options.repeats):
                wall, peak, code = timed(plans[name], options.timeout)
                if wall is None:
                    break
                walls.append(wall)
                peaks.append(peak)
            if not walls:
                print(f"{name:16} timed out after {options.timeout:.0f} s")
                continue
            print(
                f"{name:16} {statistics.median(walls):8.2f} s  {max(peaks):8.0f} MiB"
                f"  (exit {code}, runs {len(walls)})"
            )


if __name__ == "__main__":
    main()
