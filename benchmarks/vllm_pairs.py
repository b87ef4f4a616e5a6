"""gpucost vs `vllm bench serve` on one vLLM server (its CPU build) with identical prompts and
output lengths, in alternated pairs (the order flips every pair, so a drift in the box's load
hits both alike). Prints output tokens/s per run, the ratio per pair, the median ratio, and what
vLLM's own /metrics counted in each run.

The prompts are gpucost's synthetic prompts (whole tokens that re-encode to themselves) written
to one JSON Lines file that both clients read. The model is the tests' tiny random Llama whose
output layer can only pick printable tokens (tests/vllm_server.py). `vllm bench serve` reads a
custom dataset through pandas: install it into vLLM's venv.

    python benchmarks/vllm_pairs.py --vllm-python /work/vllm-venv/bin/python --pairs 5
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.peer_clients import _VLLM_CLI  # noqa: E402
from harness.endpoint.prompts import load_tokenizer, synthetic_prompts  # noqa: E402
from harness.endpoint.server_metrics import scrape  # noqa: E402
from tests.vllm_server import build_printable_llama, start_vllm  # noqa: E402


def run_gpucost(url: str, dataset: Path, concurrency: int, requests: int, out: Path) -> float:
    command = [sys.executable, "-m", "harness", "run", "--endpoint", url, "--dataset",
               str(dataset), "--concurrency", str(concurrency), "--requests", str(requests),
               "--warmup-requests", "0", "--out", str(out)]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=900,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    with (sorted(out.iterdir())[-1] / "measurements.csv").open() as f:
        return float(list(csv.DictReader(f))[-1]["output_tokens_per_s"])


def run_vllm_bench(python: str, url: str, model: Path, dataset: Path, output_len: int,
                   concurrency: int, requests: int, out: Path) -> float:  # fmt: skip
    command = [python, "-c", _VLLM_CLI, "bench", "serve", "--backend", "vllm",
               "--base-url", url.removesuffix("/v1"), "--endpoint", "/v1/completions",
               "--model", str(model), "--tokenizer", str(model), "--dataset-name", "custom",
               "--dataset-path", str(dataset), "--custom-output-len", str(output_len),
               "--skip-chat-template", "--num-prompts", str(requests),
               "--max-concurrency", str(concurrency), "--ignore-eos", "--num-warmups", "0",
               "--disable-tqdm", "--save-result", "--result-dir", str(out),
               "--result-filename", "result.json"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run(command, check=True, capture_output=True, timeout=900, env=env)
    return float(json.loads((out / "result.json").read_text())["output_throughput"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vllm-python", required=True)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--input-len", type=int, default=32)
    parser.add_argument("--output-len", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        model = build_printable_llama(folder / "model")
        prompts = synthetic_prompts(load_tokenizer(str(model)), args.requests, args.input_len,
                                    args.output_len, seed=0)  # fmt: skip
        dataset = folder / "prompts.jsonl"
        dataset.write_text("".join(
            json.dumps({"prompt": p.text, "output_tokens": args.output_len}) + "\n"
            for p in prompts
        ))  # fmt: skip
        server = start_vllm(args.vllm_python, model, folder / "server.log", timeout_s=600)
        try:
            url = server.base_url
            clients = {
                "gpucost": lambda out: run_gpucost(
                    url, dataset, args.concurrency, args.requests, out
                ),
                "vllm bench": lambda out: run_vllm_bench(
                    args.vllm_python, url, model, dataset, args.output_len, args.concurrency,
                    args.requests, out,
                ),
            }
            run_gpucost(url, dataset, args.concurrency, 8, folder / "warm")  # warm the server
            print(f"vLLM CPU build, concurrency {args.concurrency}, {args.requests} requests, "
                  f"{args.input_len} in / {args.output_len} out, identical prompts")  # fmt: skip
            print(f"{'pair':>4} {'first':<11} {'gpucost tok/s':>13} {'vllm tok/s':>10} "
                  f"{'ratio':>6} {'server gen tokens (g / v)':>26} {'load':>5}")  # fmt: skip
            ratios = []
            for pair in range(args.pairs):
                order = list(clients) if pair % 2 == 0 else list(reversed(clients))
                speeds, generated = {}, {}
                for name in order:
                    out = folder / f"{name.replace(' ', '_')}-{pair}"
                    out.mkdir()
                    before = scrape(url)
                    speeds[name] = clients[name](out)
                    after = scrape(url)
                    if before and after:
                        generated[name] = (after.values["server_generation_tokens"] or 0) - (
                            before.values["server_generation_tokens"] or 0
                        )
                ratio = speeds["gpucost"] / speeds["vllm bench"]
                ratios.append(ratio)
                counts = f"{generated.get('gpucost', 0):g} / {generated.get('vllm bench', 0):g}"
                print(f"{pair:>4} {order[0]:<11} {speeds['gpucost']:>13.0f} "
                      f"{speeds['vllm bench']:>10.0f} {ratio:>6.3f} {counts:>26} "
                      f"{os.getloadavg()[0]:>5.1f}")  # fmt: skip
            print(f"median ratio gpucost / vllm bench: {statistics.median(ratios):.3f}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
