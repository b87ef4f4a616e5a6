"""`gpucost reconcile` at scale: a 5M-line JSON Lines request log and a month of hourly CUR rows.

Builds the inputs once (in --workdir), then times, each in its own process with its peak
resident memory: `gpucost reconcile` (this checkout), optionally an older checkout's (--before
FOLDER holding its `harness/`), and DuckDB's own time for the bare per-day join, the floor.
Medians over --repeat runs.

    python benchmarks/reconcile_scale.py [--lines 5000000] [--repeat 3] [--before /tmp/old]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INSTANCES = ("g5.xlarge", "g5.2xlarge", "g6.xlarge", "p4d.24xlarge")
START_S = 1_793_491_200  # 2026-11-01T00:00:00Z
MONTH_S = 30 * 86_400


def build_log(path: Path, lines: int) -> None:
    """Lines as `harness.metering.meter` writes them, in time order over November 2026."""
    rng = random.Random(1)
    step = MONTH_S / lines
    with open(path, "w", encoding="utf-8") as fh:
        batch = []
        for i in range(lines):
            t = START_S + i * step
            secs = int(t)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
            batch.append(
                f'{{"timestamp":"{stamp}.{int((t - secs) * 1e6):06d}+00:00","workload":"text",'
                f'"instance":"{INSTANCES[i % 4]}","input_tokens":{rng.randrange(16, 2048)},'
                f'"output_tokens":{rng.randrange(1, 512)},"wall_s":{rng.random():.4f},'
                f'"status":"{"ok" if i % 50 else "error"}"}}\n'
            )
            if len(batch) == 100_000:
                fh.writelines(batch)
                batch = []
        fh.writelines(batch)


def build_cur(path: Path) -> None:
    """A month of hourly legacy CUR rows: 200 resources × 720 hours, 40 columns, a quarter
    tagged Project=Demo."""
    header = [
        "identity/LineItemId",
        "lineItem/LineItemType",
        "lineItem/UsageStartDate",
        "lineItem/UsageEndDate",
        "lineItem/UnblendedCost",
        "lineItem/CurrencyCode",
        "lineItem/ResourceId",
        "product/instanceType",
        "resourceTags/user:Project",
    ] + [f"product/filler{i}" for i in range(31)]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for hour in range(720):
            start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(START_S + hour * 3600))
            end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(START_S + (hour + 1) * 3600))
            for r in range(200):
                writer.writerow(
                    [
                        f"li-{hour}-{r}",
                        "Usage",
                        start,
                        end,
                        f"{1.006 + r / 1000:.4f}",
                        "USD",
                        f"i-{r:04d}",
                        INSTANCES[r % 4],
                        "Demo" if r % 4 == 0 else "Other",
                    ]
                    + ["x" * 12] * 31
                )


FLOOR_SQL = """
SET TimeZone = 'UTC';
WITH r AS (
    SELECT date_trunc('day', CAST(timestamp AS TIMESTAMPTZ)) AS d, instance,
        count(*) AS n, sum(input_tokens) AS i, sum(output_tokens) AS o
    FROM read_json('{log}', format = 'newline_delimited') GROUP BY ALL
), b AS (
    SELECT date_trunc('day', CAST("lineItem/UsageStartDate" AS TIMESTAMPTZ)) AS d,
        "product/instanceType" AS instance, sum(CAST("lineItem/UnblendedCost" AS DOUBLE)) AS c
    FROM read_csv('{cur}', all_varchar = true)
    WHERE "resourceTags/user:Project" = 'Demo' GROUP BY ALL
)
SELECT count(*) FROM b FULL JOIN r USING (d, instance);
"""


def timed(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, peak resident MB) of one process, from GNU time."""
    out = subprocess.run(
        ["/usr/bin/time", "-f", "%e %M", *command],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,  # not the checkout: `python -m harness` must not pick the folder it runs in
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{out.stderr[-2000:]}")
    wall, kb = out.stderr.strip().splitlines()[-1].split()
    return float(wall), int(kb) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/gpucost-reconcile-bench"))
    parser.add_argument("--before", type=Path, default=None, help="folder with an older harness/")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    log = args.workdir / f"requests-{args.lines}.jsonl"
    cur = args.workdir / "cur-month.csv"
    if not log.exists():
        print(f"building {log} ...", flush=True)
        build_log(log, args.lines)
    if not cur.exists():
        print(f"building {cur} ...", flush=True)
        build_cur(cur)
    print(f"log {log.stat().st_size / 1e6:.0f} MB, bill {cur.stat().st_size / 1e6:.0f} MB")
    reconcile = [
        "-m",
        "harness",
        "reconcile",
        "--bill",
        str(cur),
        "--requests",
        str(log),
        "--tag",
        "Project=Demo",
        "--format",
        "csv",
        "-o",
        str(args.workdir / "out.csv"),
    ]
    floor_py = (
        "import duckdb, sys; con = duckdb.connect(); "
        "[con.execute(s) for s in sys.argv[1].split(';') if s.strip()]"
    )
    cases: dict[str, tuple[list[str], dict[str, str] | None]] = {
        "after (this checkout)": ([sys.executable, *reconcile], None),
        "DuckDB bare query (floor)": (
            [sys.executable, "-c", floor_py, FLOOR_SQL.format(log=log, cur=cur)],
            None,
        ),
    }
    if args.before is not None:
        env = {**os.environ, "PYTHONPATH": str(args.before)}
        cases["before"] = ([sys.executable, *reconcile], env)
    results = {}
    for name, (command, env) in cases.items():
        runs = [timed(command, args.workdir, env) for _ in range(args.repeat)]
        results[name] = (
            statistics.median(r[0] for r in runs),
            statistics.median(r[1] for r in runs),
        )
        print(f"{name:28s} wall {results[name][0]:6.2f} s  peak RSS {results[name][1]:7.0f} MB")
    floor = results["DuckDB bare query (floor)"][0]
    after = results["after (this checkout)"][0]
    print(f"after / floor = {after / floor:.2f}x (target <= 1.2x)")


if __name__ == "__main__":
    main()
