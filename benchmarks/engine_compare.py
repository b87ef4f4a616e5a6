"""Decode tokens/s of the `text` workload, eager vs compiled, measured alternately, medians.

Both engines hold the same model shape and prompts; rounds alternate eager and compiled
iterations so drift on the machine lands on both. Decode tokens/s = batch × (output_len − 1) /
decode seconds. With `--calibration FILE` (what `gpucost calibrate` writes) it adds each
engine's decode as a share of the bandwidth roofline: the least bytes decode must move (weights
once per step + the KV cache read so far, `harness.analysis.roofline.text_work`) over the measured copy
bandwidth.

    python benchmarks/engine_compare.py --preset tiny --batch-sizes 1,4
    python benchmarks/engine_compare.py --preset llama-3.2-1b --device cuda:0 --dtype bf16 \\
        --batch-sizes 1,8,64 --input-len 128 --output-len 256 --calibration calibration.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from harness.analysis.roofline import DTYPE_BYTES, DecoderShape, text_work
from harness.measure.stopwatch import time_iteration
from workloads import registry
from workloads.base import Workload, WorkloadContext

ENGINES = ("eager", "compiled")


def build(args: argparse.Namespace, engine: str) -> Workload:
    cls = registry.load("text")
    options = {"input_len": args.input_len, "output_len": args.output_len}
    settings = cls.settings_for(args.preset, options)
    ctx = WorkloadContext(preset=args.preset, device=args.device, dtype=args.dtype, engine=engine)
    cls.check(settings, ctx)
    workload = cls(settings, ctx)
    workload.load()
    return workload


def compare(args: argparse.Namespace, batch_size: int, copy_bytes_per_s: float | None) -> dict:
    workloads: dict[str, Workload] = {}
    try:
        for engine in ENGINES:
            workloads[engine] = build(args, engine)
        return _measure(args, workloads, batch_size, copy_bytes_per_s)
    finally:
        for workload in workloads.values():
            workload.close()


def _measure(
    args: argparse.Namespace,
    workloads: dict[str, Workload],
    batch_size: int,
    copy_bytes_per_s: float | None,
) -> dict:
    device = torch.device(args.device)
    settings = workloads["eager"].settings
    phases = type(workloads["eager"]).phases
    compile_s: dict[str, float | None] = {}
    for engine, workload in workloads.items():
        workload.prepare(batch_size)
        compile_s[engine] = workload.compile_s()
        for _ in range(args.warmup):
            time_iteration(device, phases, workload.run_once)
    decode_s: dict[str, list[float]] = {engine: [] for engine in ENGINES}
    prefill_s: dict[str, list[float]] = {engine: [] for engine in ENGINES}
    for _ in range(args.rounds):
        for engine, workload in workloads.items():
            timing = time_iteration(device, phases, workload.run_once)
            decode_s[engine].append(timing.phases_s["decode"])
            prefill_s[engine].append(timing.phases_s["prefill"])
    steps = settings.output_len - 1
    shape = DecoderShape.from_architecture(workloads["eager"].architecture())
    decode_bytes = None
    if shape is not None and steps > 0:
        _, decode = text_work(
            shape, batch_size, settings.input_len, settings.output_len, DTYPE_BYTES[args.dtype]
        )
        decode_bytes = decode.min_bytes
    row: dict[str, Any] = {"preset": args.preset, "batch_size": batch_size}
    for engine in ENGINES:
        median_decode = statistics.median(decode_s[engine])
        row[f"{engine}_decode_tok_s"] = batch_size * steps / median_decode
        row[f"{engine}_prefill_s_p50"] = statistics.median(prefill_s[engine])
        row[f"{engine}_compile_s"] = compile_s[engine]
        if copy_bytes_per_s and decode_bytes:
            row[f"{engine}_roofline_share"] = decode_bytes / median_decode / copy_bytes_per_s
    row["speedup"] = row["compiled_decode_tok_s"] / row["eager_decode_tok_s"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--batch-sizes", default="1,4")
    parser.add_argument("--input-len", type=int, default=None)
    parser.add_argument("--output-len", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calibration", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    copy_bytes_per_s = None
    if args.calibration is not None:
        copy_bytes_per_s = json.loads(args.calibration.read_text())["copy_bytes_per_s"]
    rows = []
    for size in (int(s) for s in args.batch_sizes.split(",")):
        try:
            row = compare(args, size, copy_bytes_per_s)
        except Exception as err:  # one failed size (out of memory, compile) keeps the others
            print(f"{args.preset} batch {size}: failed: {type(err).__name__}: {err}", flush=True)
            continue
        finally:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        rows.append(row)
        print(
            f"{row['preset']} batch {size}: decode tok/s eager {row['eager_decode_tok_s']:.1f}"
            f" | compiled {row['compiled_decode_tok_s']:.1f} ({row['speedup']:.2f}×)"
            f" | compile_s {row['compiled_compile_s']:.1f}"
            + (
                f" | roofline share eager {row['eager_roofline_share']:.0%}"
                f" compiled {row['compiled_roofline_share']:.0%}"
                if "compiled_roofline_share" in row
                else ""
            ),
            flush=True,
        )
        if args.json is not None:
            args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
