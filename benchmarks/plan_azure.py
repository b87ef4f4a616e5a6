"""`gpucost plan` on the real Azure 2023 conversation trace, with a stated capacity table.

    python benchmarks/plan_azure.py [--trace PATH] [--step 5m] [--max-spot-share 0.5]

The trace (Azure/AzurePublicDataset, `AzureLLMInferenceTrace_conv.csv`, one hour, 19,366
requests) is planned on four shipped rate-card instances (on demand and spot, their cards'
prices) with the capacity table below: illustrative requests/s of an 8B model under an SLO such
as ttft_p99=2,tpot_p99=0.1, scaled from the A10G's by memory bandwidth (L4 ½, L40S 1.45×, H100
PCIe 3.3×), with more room for long requests on the larger memories. It is a stated assumption,
not a measurement: measure yours with `gpucost capacity`. Prints the plan's answer and the
savings against each baseline; the whole command runs in a fresh process and is timed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TRACE = Path("/work/shared/data/traces/AzureLLMInferenceTrace_conv.csv")

BUCKETS = ((1024, 256), (1024, 1024), (4096, 256), (4096, 1024), (16384, 256), (16384, 1024))
CAPACITY = {  # requests/s per bucket, in BUCKETS order
    "aws:g6.xlarge": (1.5, 0.5, 0.6, 0.25, 0.12, 0.05),  # L4
    "aws:g5.xlarge": (3.0, 1.0, 1.2, 0.5, 0.25, 0.1),  # A10G
    "aws:g6e.xlarge": (4.3, 1.45, 1.8, 0.75, 0.45, 0.18),  # L40S
    "lambda:gpu_1x_h100_pcie": (10.0, 3.3, 4.2, 1.7, 1.1, 0.45),  # H100 PCIe
}
LOW_SHARE = 0.85
"""The interval's low end, as a share of the figure (a stated ±15 %)."""


def capacity_csv() -> str:
    lines = ["instance,input_len_max,output_len_max,max_requests_per_s,max_requests_per_s_low,source"]
    for instance, rates in CAPACITY.items():
        for (in_max, out_max), rate in zip(BUCKETS, rates, strict=True):
            lines.append(
                f"{instance},{in_max},{out_max},{rate},{rate * LOW_SHARE:.4g},stated (benchmark)"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", type=Path, default=TRACE)
    parser.add_argument("--step", default="5m")
    parser.add_argument("--max-spot-share", default="0.5")
    parser.add_argument("--horizon", default=None, help="e.g. 30d (repeats the trace's hour)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        table = Path(folder) / "capacity.csv"
        table.write_text(capacity_csv(), encoding="utf-8")
        command = [
            sys.executable, "-m", "harness", "plan", "--traffic", str(args.trace),
            "--capacity", str(table), "--step", args.step,
            "--max-spot-share", args.max_spot_share, "--format", "json",
        ]  # fmt: skip
        if args.horizon:
            command += ["--horizon", args.horizon]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(done.stderr.strip())
    plan = json.loads(done.stdout)
    print(f"trace {args.trace.name}: {plan['requests']:,.0f} requests over "
          f"{plan['horizon_hours']:g} h, steps of {args.step}; command {wall:.1f} s")  # fmt: skip
    print(f"plan: ${plan['total_cost_usd']:.2f} (at low capacity "
          f"${plan['total_cost_usd_at_low_capacity']:.2f}), ${plan['monthly_cost_usd']:,.0f}/month, "
          f"${plan['cost_per_request_usd'] * 1000:.4f} per 1K requests, "
          f"${plan['cost_per_1m_output_tokens_usd']:.3f} per 1M output tokens; "
          f"solver {plan['solver']['status']}, gap {100 * (plan['solver']['gap'] or 0):.2f} %, "
          f"{plan['solver']['solve_s']:.1f} s")  # fmt: skip
    for row in plan["fleet"]:
        print(f"  {row['instance']:<26} {row['plan']:<10} min {row['count_min']} "
              f"median {row['count_median']:g} max {row['count_max']}")  # fmt: skip
    for base in plan["baselines"]:
        if base["total_cost_usd"] is None:
            print(f"vs {base['name']}: none ({base['reason']})")
            continue
        print(f"vs {base['name']} ({base['instance']}): ${base['total_cost_usd']:.2f}, "
              f"saves ${base['savings_usd']:.2f} ({100 * base['savings_share']:.1f} %)")  # fmt: skip


if __name__ == "__main__":
    main()
