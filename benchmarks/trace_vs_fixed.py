"""What a fixed-length load gets wrong: the real Azure 2023 conversation trace (its first
`--trace-duration` seconds) replayed against `transformers serve` with a tiny random Llama, next
to a fixed-length open-loop run at the replayed mix's mean lengths, the same number of requests
at the same mean rate, on the same server, alternated.

Lengths are cut to the tiny model's context (`--max-input-len`, `--max-output-len`, recorded in
the rows); the trace is sped up (`--trace-speedup`) so a window runs in minutes on a small CPU.
Cost per 1M output tokens = `--price-per-hour` × window ÷ output tokens (the same formula
`gpucost price` applies to an endpoint row; the ratio between the two does not depend on the
price).

    python benchmarks/trace_vs_fixed.py --trace-duration 600 --trace-speedup 20 --pairs 1
"""

from __future__ import annotations

import argparse
import csv
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.traffic.replay import load_replay  # noqa: E402
from tests.endpoint_server import OFFLINE_ENV, build_tiny_llama, start_server  # noqa: E402

AZURE = Path("/work/shared/data/traces/AzureLLMInferenceTrace_conv.csv")


def gpucost(out: Path, *args: str) -> Path:
    """Run `gpucost run ... --out OUT` and return the run folder it made there."""
    import os

    before = set(out.iterdir()) if out.is_dir() else set()

    env = {**os.environ, **OFFLINE_ENV, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "harness", "run", *args, "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode != 0:
        raise SystemExit(f"gpucost run failed: {done.stderr.strip()[-500:]}")
    (run,) = set(out.iterdir()) - before
    return run


def row(run: Path) -> dict[str, str]:
    with (run / "measurements.csv").open() as f:
        return next(csv.DictReader(f))


def main() -> None:
    # SIGTERM unwinds like Ctrl-C, so the server started here is always stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser()
    parser.add_argument("--trace", type=Path, default=AZURE)
    parser.add_argument("--trace-duration", type=float, default=600.0)
    parser.add_argument("--trace-speedup", type=float, default=20.0)
    parser.add_argument("--max-input-len", type=int, default=256)
    parser.add_argument("--max-output-len", type=int, default=32)
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--price-per-hour", type=float, default=1.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="trace_vs_fixed_"))
    model = build_tiny_llama(work / "model")
    replay = load_replay(
        str(args.trace), None, None, seed=0, duration_s=args.trace_duration,
        max_input_len=args.max_input_len, max_output_len=args.max_output_len,
    )  # fmt: skip
    count = len(replay.requests)
    mean_in = round(sum(min(r.input_len, args.max_input_len) for r in replay.requests) / count)
    mean_out = round(sum(p.output_tokens for p in replay.prompts) / count)
    rate = count / (replay.span_s / args.trace_speedup)
    print(f"trace {args.trace.name}: first {args.trace_duration:g} s, {count} requests, "
          f"x{args.trace_speedup:g} = {rate:.1f} req/s; lengths cut to {args.max_input_len} in, "
          f"{args.max_output_len} out: mean {mean_in} in, {mean_out} out")  # fmt: skip
    server = start_server(model, work / "server.log", timeout_s=300)
    results = []
    try:
        common = ["--endpoint", server.base_url, "--model", str(model), "--warmup-requests", "2",
                  "--request-timeout", "600"]  # fmt: skip
        for pair in range(args.pairs):
            replayed = gpucost(
                work / "runs", *common, "--trace", str(args.trace), "--trace-duration", str(args.trace_duration),
                "--trace-speedup", str(args.trace_speedup), "--max-input-len",
                str(args.max_input_len), "--max-output-len", str(args.max_output_len),
            )  # fmt: skip
            fixed = gpucost(
                work / "runs", *common, "--input-len", str(mean_in), "--output-len", str(mean_out),
                "--request-rate", f"{rate:.4f}", "--requests", str(count),
            )  # fmt: skip
            for name, run in (("trace replay", replayed), ("fixed length", fixed)):
                r = row(run)
                window, out_tokens = float(r["window_s"]), float(r["output_tokens"])
                cost = args.price_per_hour * window / 3600 / out_tokens * 1e6
                results.append((pair, name, r, cost))
                print(f"pair {pair + 1} {name:>12}: {int(float(r['requests']))} requests, "
                      f"{out_tokens:.0f} output tokens in {window:.1f} s, "
                      f"{float(r['output_tokens_per_s']):.1f} tok/s, TTFT p50 "
                      f"{float(r['ttft_s_p50']):.3f} s p99 {float(r['ttft_s_p99']):.3f} s, "
                      f"${cost:.2f} per 1M output tokens at ${args.price_per_hour:g}/h",
                      flush=True)  # fmt: skip
    finally:
        server.stop()
    for pair in range(args.pairs):
        trace_cost = next(c for p, n, _, c in results if p == pair and n == "trace replay")
        fixed_cost = next(c for p, n, _, c in results if p == pair and n == "fixed length")
        print(f"pair {pair + 1}: trace / fixed cost per 1M output tokens = "
              f"{trace_cost / fixed_cost:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
