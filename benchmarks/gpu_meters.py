"""The meters checked against each other and against the work they watch.

1. Energy: over a steady matmul window (default 12 s), the NVML energy counter against the
   sampler's integrated power, with idle power before it. Target: within 5 %.
2. Overhead: the same text sweep with the sampler off, at 100 ms and at 10 ms, alternating
   rounds; output tokens/s per setting (median over rounds). Target: within 1 % at 100 ms.
3. Repeatability: p50 wall time of the same configuration across rounds. Target: within 3 %.

On a machine without NVML the energy part says so and is skipped; the sweeps still run (on the
CPU with `--device cpu --preset tiny`), so the script is checked before it meets a card.

    python benchmarks/gpu_meters.py --device cuda:0 --json out.json
    python benchmarks/gpu_meters.py --device cpu --preset tiny --batch-sizes 4 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.meters import EnergyMonitor, Sampler, integrate_power_j, open_meter  # noqa: E402

SAMPLER_SETTINGS_S = (0.0, 0.1, 0.01)


def energy_check(device: str, seconds: float, idle_s: float) -> dict[str, Any]:
    """Counter energy and integrated sampled power over one steady matmul window."""
    meter = open_meter(device)
    if meter.info is None or meter.energy_mj() is None:
        meter.close()
        return {"skipped": f"no NVML energy counter on {device}"}
    import torch

    size = 8192
    a = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    b = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    with Sampler(meter, interval_s=0.1) as sampler:
        monitor = EnergyMonitor(meter, sampler)
        idle_w = monitor.measure_idle_power_w(idle_s)
        # Warm up to a steady clock and temperature before the window opens.
        warm_until = time.perf_counter() + 2.0
        while time.perf_counter() < warm_until:
            a @ b
        torch.cuda.synchronize()
        monitor.begin_window("steady")
        t0_s = time.perf_counter()
        while time.perf_counter() - t0_s < seconds:
            for _ in range(8):
                a @ b
            torch.cuda.synchronize()
        window = monitor.end_window("steady")
        t1_s = t0_s + window.elapsed_s
        around = sampler.samples_between(t0_s, t1_s, include_edges=True)
        integrated_j = integrate_power_j(around, t0_s, t1_s)
        samples = len(sampler.samples_between(t0_s, t1_s))
    meter.close()
    counter_j = window.energy_j
    diff = None
    if counter_j and integrated_j:
        diff = (integrated_j - counter_j) / counter_j
    return {
        "window_s": window.elapsed_s,
        "counter_energy_j": counter_j,
        "energy_method": window.energy_method,
        "integrated_energy_j": integrated_j,
        "integrated_vs_counter": diff,
        "samples": samples,
        "avg_power_w": window.avg_power_w,
        "idle_power_w": idle_w,
    }


def sweep(args: argparse.Namespace, interval_s: float, out: Path) -> dict[str, Any]:
    """One `gpucost run` of the text sweep; its rows' throughput and p50 wall time."""
    command = [
        sys.executable, "-m", "harness", "run", "-w", "text", "--preset", args.preset,
        "--device", args.device, "-b", args.batch_sizes, "--input-len", str(args.input_len),
        "--output-len", str(args.output_len), "--iterations", str(args.iterations),
        "--warmup", "2", "--min-duration", str(args.min_duration),
        "--sample-interval", str(interval_s), "--out", str(out), "--no-price",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["?"]
        raise SystemExit(f"gpucost run failed (sampler {interval_s} s): {tail[0]}")
    import pandas as pd

    newest = max(out.glob("*/measurements.csv"), key=lambda p: p.stat().st_mtime)
    rows = pd.read_csv(newest)
    rows = rows[rows["status"] == "ok"]
    return {
        int(r["batch_size"]): {
            "output_tokens_per_s": r["output_tokens"] / r["wall_s_p50"],
            "wall_s_p50": r["wall_s_p50"],
        }
        for _, r in rows.iterrows()
    }


def sweeps(args: argparse.Namespace) -> dict[str, Any]:
    """Rounds of off / 100 ms / 10 ms, interleaved so drift hits every setting alike."""
    measured: dict[float, list[dict[int, dict[str, float]]]] = {s: [] for s in SAMPLER_SETTINGS_S}
    with tempfile.TemporaryDirectory() as folder:
        for round_number in range(args.rounds):
            # Each round starts at another setting: a cold first run burdens none of them twice.
            turn = round_number % len(SAMPLER_SETTINGS_S)
            for interval_s in (*SAMPLER_SETTINGS_S[turn:], *SAMPLER_SETTINGS_S[:turn]):
                measured[interval_s].append(sweep(args, interval_s, Path(folder)))
    result: dict[str, Any] = {}
    off = measured[0.0]
    for interval_s, rounds in measured.items():
        per_batch = {}
        for batch in rounds[0]:
            tps = [r[batch]["output_tokens_per_s"] for r in rounds if batch in r]
            walls = [r[batch]["wall_s_p50"] for r in rounds if batch in r]
            base = statistics.median(r[batch]["output_tokens_per_s"] for r in off if batch in r)
            per_batch[batch] = {
                "output_tokens_per_s_median": statistics.median(tps),
                "vs_sampler_off": statistics.median(tps) / base - 1,
                "wall_s_p50_spread": (max(walls) - min(walls)) / statistics.median(walls),
            }
        result[f"sampler_{interval_s:g}_s"] = per_batch
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--preset", default="llama-3.2-1b")
    parser.add_argument("--batch-sizes", default="1,8")
    parser.add_argument("--input-len", type=int, default=128)
    parser.add_argument("--output-len", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--min-duration", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--energy-seconds", type=float, default=12.0)
    parser.add_argument("--idle-seconds", type=float, default=3.0)
    parser.add_argument("--skip-sweeps", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    report: dict[str, Any] = {"device": args.device}
    report["energy"] = energy_check(args.device, args.energy_seconds, args.idle_seconds)
    print("energy:", json.dumps(report["energy"], default=str))
    if not args.skip_sweeps:
        report["sweeps"] = sweeps(args)
        for setting, per_batch in report["sweeps"].items():
            for batch, figures in per_batch.items():
                print(
                    f"{setting} batch {batch}: {figures['output_tokens_per_s_median']:.1f} tok/s "
                    f"({figures['vs_sampler_off']:+.2%} vs off), "
                    f"p50 wall spread over rounds {figures['wall_s_p50_spread']:.2%}"
                )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
