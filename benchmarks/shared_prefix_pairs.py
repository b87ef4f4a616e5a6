"""What a prefix cache does to the cost of input tokens: synthetic runs against one vLLM server
(its CPU build, `--enable-prefix-caching`) with and without `--shared-prefix-len`, at the same
input and output lengths, in alternated pairs (the order flips every pair, so a drift in the
box's load hits both alike). Prints per run the cache hit rate the server reported, input
tokens/s (and the server's own /metrics count of cached prompt tokens), and the cost per 1M input tokens at $1.00 per server-hour (the whole window over the
input tokens; the output is kept short so prefill dominates), then the median ratio.

    python benchmarks/shared_prefix_pairs.py --vllm-python /work/vllm-venv/bin/python --pairs 2
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.vllm_server import build_printable_llama, start_vllm  # noqa: E402

USD_PER_HOUR = 1.0


def run_gpucost(
    url: str, model: Path, args: argparse.Namespace, prefix: int, seed: int, out: Path
) -> dict:
    """One run; every run has a seed of its own, so no run finds an earlier run's prompts in
    the cache (only the shared prefix within a run can be cached)."""
    command = [sys.executable, "-m", "harness", "run", "--endpoint", url, "--tokenizer",
               str(model), "--input-len", str(args.input_len), "--output-len",
               str(args.output_len), "--concurrency", str(args.concurrency), "--requests",
               str(args.requests), "--seed", str(seed), "--out", str(out)]  # fmt: skip
    if prefix:
        command += ["--shared-prefix-len", str(prefix)]
    subprocess.run(command, check=True, capture_output=True, timeout=900,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    with (sorted(out.iterdir())[-1] / "measurements.csv").open() as f:
        row = list(csv.DictReader(f))[-1]
    window_s, tokens = float(row["window_s"]), float(row["input_tokens"])
    return {
        "hit": float(row["cache_hit_rate"]) if row.get("cache_hit_rate") else float("nan"),
        "server_cached": row.get("server_cached_prompt_tokens") or "-",
        "in_per_s": float(row["input_tokens_per_s"]),
        "usd_per_1m_in": window_s / 3600 * USD_PER_HOUR / tokens * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vllm-python", required=True)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--input-len", type=int, default=448)
    parser.add_argument("--shared-prefix-len", type=int, default=384)
    parser.add_argument("--output-len", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--requests", type=int, default=48)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = build_printable_llama(work / "model")
        server = start_vllm(args.vllm_python, model, work / "vllm.log",
                            extra=("--enable-prompt-tokens-details",))
        ratios = []
        try:
            for pair in range(args.pairs):
                order = (0, args.shared_prefix_len) if pair % 2 == 0 else (args.shared_prefix_len, 0)
                got = {p: run_gpucost(server.base_url, model, args, p, 100 * pair + i,
                                     work / f"r{pair}-{p}") for i, p in enumerate(order)}
                for p in order:
                    r = got[p]
                    print(f"pair {pair + 1} shared prefix {p:>4}: cache_hit_rate {r['hit']:.3f} "
                          f"(server: {r['server_cached']} cached), "
                          f"{r['in_per_s']:,.0f} input tok/s, ${r['usd_per_1m_in']:.4f} per 1M "
                          f"input tokens", flush=True)  # fmt: skip
                ratios.append(got[args.shared_prefix_len]["usd_per_1m_in"] / got[0]["usd_per_1m_in"])
        finally:
            server.stop()
        print(f"cost with / without shared prefix, per pair: "
              f"{', '.join(f'{r:.2f}' for r in ratios)}; median {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
