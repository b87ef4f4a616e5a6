"""`gpucost ratecards import skypilot` on a synthetic catalog of many instance types: the whole
command's wall time (start-up and imports included), median of several runs, each in a fresh
process.

    python benchmarks/catalog_import.py --types 300000 --regions 2 --repeats 3

The catalog is one `<cloud>/vms.csv` in SkyPilot's v8 layout: `--types` GPU instance types
(H100, A100, L4 and A10G families, 1-8 GPUs, with GpuInfo) each offered in `--regions` regions
at slightly different prices, plus a CPU-only type per 10 GPU types. `--before DIR` times an
older checkout on the same file beside this one.

A rate card file holds at most 4 MB (about 17,000 instances): above that the import refuses in
one line before writing, and the time is the time to that answer (marked "refused").
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GPUS = (("H100", 81559), ("A100", 40960), ("L4", 23034), ("A10G", 22888))
COLUMNS = ("InstanceType", "AcceleratorName", "AcceleratorCount", "vCPUs", "MemoryGiB", "Price",
           "Region", "GpuInfo", "SpotPrice")  # fmt: skip


def write_catalog(folder: Path, types: int, regions: int) -> Path:
    path = folder / "bench" / "vms.csv"
    path.parent.mkdir(parents=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i in range(types):
            name, mib = GPUS[i % len(GPUS)]
            count = 1 << (i % 4)
            info = str({"Gpus": [{"Name": name, "Manufacturer": "NVIDIA", "Count": float(count),
                                  "MemoryInfo": {"SizeInMiB": mib}}],
                        "TotalGpuMemoryInMiB": mib * count})  # fmt: skip
            for r in range(regions):
                price = round(0.5 * count * (1 + (i % 97) / 100) * (1 + r / 50), 4)
                writer.writerow((f"gpu_{count}x_{name.lower()}_{i}", name, count, 8 * count,
                                 64 * count, price, f"region-{r}", info, round(price / 3, 4)))
            if i % 10 == 0:
                for r in range(regions):
                    writer.writerow((f"cpu_{i}", "", "", 4, 16, 0.2, f"region-{r}", "", ""))
    return path


def time_once(checkout: Path, catalog: Path, out: Path) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    command = [sys.executable, "-m", "harness", "ratecards", "import", "skypilot",
               "--catalog-dir", str(catalog), "--cloud", "bench", "-o", str(out)]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=checkout)
    elapsed = time.perf_counter() - start
    if done.returncode == 2 and "more than a rate card may hold" in done.stderr:
        return elapsed, "refused"
    if done.returncode != 0:
        raise SystemExit(f"{checkout}: exit {done.returncode}: {done.stderr.strip()[-500:]}")
    return elapsed, "written"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--types", type=int, default=300_000)
    parser.add_argument("--regions", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", type=Path, default=None, help="an older checkout to time too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        start = time.perf_counter()
        path = write_catalog(folder, args.types, args.regions)
        rows = sum(1 for _ in path.open()) - 1
        print(f"catalog: {args.types:,} GPU types, {rows:,} rows, "
              f"{path.stat().st_size / 1e6:.1f} MB (written in {time.perf_counter() - start:.1f} s)")
        checkouts = [("this checkout", REPO)]
        if args.before is not None:
            checkouts.insert(0, ("before", args.before))
        for label, checkout in checkouts:
            runs = [time_once(checkout, folder, folder / f"out-{label}-{i}.yaml")
                    for i in range(args.repeats)]  # fmt: skip
            times = [t for t, _ in runs]
            print(f"{label}: median {statistics.median(times):.2f} s, {runs[0][1]} "
                  f"(runs: {', '.join(f'{t:.2f}' for t in times)})")


if __name__ == "__main__":
    main()
