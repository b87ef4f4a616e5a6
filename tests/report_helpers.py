"""Run folders built by hand for report, compare and roofline tests (results-contract files)."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.results.schema import EXTRA_MEASUREMENT_COLUMNS, MEASUREMENT_COLUMNS, SAMPLE_COLUMNS

H100_NVML = "NVIDIA H100 80GB HBM3"
L4_NVML = "NVIDIA L4"

TINY_TEXT_ARCH: dict[str, Any] = {
    "model_type": "llama",
    "params": 205_120,
    "hidden_size": 64,
    "num_layers": 2,
    "num_attention_heads": 4,
    "num_kv_heads": 2,
    "head_dim": 16,
    "intermediate_size": 128,
    "vocab_size": 1024,
    "tie_word_embeddings": False,
}
"""What the text workload records for its `tiny` preset (a 2-layer Llama, hidden 64)."""


def text_row(
    batch_size: int,
    wall_s: float,
    *,
    gpu_name: str | None = H100_NVML,
    input_len: int = 64,
    output_len: int = 32,
    dtype: str = "bf16",
    preset: str = "tiny",
    model: str | None = None,
    energy_j: float | None = None,
    prefill_share: float = 0.2,
    status: str = "ok",
) -> dict[str, Any]:
    """One measurements.csv row of the text workload; latency percentiles spread around wall_s."""
    row: dict[str, Any] = {
        "workload": "text",
        "preset": preset,
        "model": model or preset,
        "device": "cuda:0" if gpu_name else "cpu",
        "gpu_name": gpu_name or "",
        "dtype": dtype,
        "batch_size": batch_size,
        "status": status,
        "settings": json.dumps(
            {"input_len": input_len, "output_len": output_len}, separators=(",", ":")
        ),
        "engine": "eager",
    }
    if status != "ok":
        row["error"] = "CUDA out of memory" if status == "oom" else "failed"
        return row
    prefill = wall_s * prefill_share
    decode = wall_s * (1 - prefill_share) * 0.99
    row.update(
        iterations=10,
        wall_s_mean=wall_s * 1.01,
        wall_s_p50=wall_s,
        wall_s_p90=wall_s * 1.05,
        wall_s_p99=wall_s * 1.1,
        wall_s_cv=0.02,
        prefill_s_p50=prefill,
        decode_s_p50=decode,
        ttft_s_p50=prefill,
        tpot_s_p50=decode / (output_len - 1),
        input_tokens=batch_size * input_len,
        output_tokens=batch_size * output_len,
        requests=batch_size,
        energy_j=energy_j,
        avg_power_w=None if energy_j is None else energy_j / wall_s,
        peak_mem_allocated_bytes=1_000_000 * batch_size,
        input_len=input_len,
        output_len=output_len,
    )
    return row


def write_run(
    parent: Path,
    run_id: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    gpu_name: str | None = H100_NVML,
    samples: Sequence[Mapping[str, Any]] = (),
    architecture: Mapping[str, Any] | None = None,
    calibration: Mapping[str, Any] | None = None,
    hostname: str = "bench-1",
) -> Path:
    """A complete run folder under `parent`: run.json, measurements.csv, samples.csv."""
    folder = parent / run_id
    folder.mkdir(parents=True)
    workloads = {}
    for row in rows:
        workloads.setdefault(
            row["workload"],
            {
                "preset": row.get("preset"),
                "architecture": dict(architecture if architecture is not None else TINY_TEXT_ARCH),
                "settings": json.loads(row.get("settings") or "{}"),
            },
        )
    on_gpu = bool(gpu_name)
    meta = {
        "run_id": run_id,
        "created_at": "2026-11-27T23:29:00+00:00",
        "finished_at": "2026-11-27T23:30:10+00:00",
        "status": "complete",
        "gpucost_version": "0.1.0",
        "command": ["gpucost", "run", "--workload", "text"],
        "host": {
            "hostname": hostname,
            "platform": "Linux",
            "python": "3.11.7",
            "cpu": "x86_64",
            "cpu_count": 16,
        },
        "device": {
            "type": "cuda" if on_gpu else "cpu",
            "torch_device": "cuda:0" if on_gpu else "cpu",
            "name": gpu_name or "x86_64",
            "gpu_name": gpu_name,
            "driver_version": "570.1" if on_gpu else None,
            "memory_total_bytes": 85_899_345_920 if on_gpu else None,
            "power_limit_w": 700.0 if on_gpu else None,
        },
        "libraries": {"torch": "2.5.0"},
        "config": {
            "device": "cuda:0" if on_gpu else "cpu",
            "dtype": "bf16",
            "warmup": 3,
            "iterations": 10,
        },
        "workloads": workloads,
        "idle_power_w": None,
        "calibration": dict(calibration) if calibration else None,
    }
    (folder / "run.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    columns = list(MEASUREMENT_COLUMNS + EXTRA_MEASUREMENT_COLUMNS)
    for row in rows:
        columns += [k for k in row if k not in columns]
    _write_csv(folder / "measurements.csv", columns, [{"run_id": run_id, **r} for r in rows])
    _write_csv(
        folder / "samples.csv", list(SAMPLE_COLUMNS), [{"run_id": run_id, **s} for s in samples]
    )
    return folder


def gpu_samples(
    count: int = 40, throttled_from: int = 25, throttled_to: int = 30
) -> list[dict[str, Any]]:
    """A sampler timeline every 0.1 s with a throttled stretch."""
    return [
        {
            "t_s": round(i * 0.1, 3),
            "workload": "text",
            "batch_size": 1 if i < count // 2 else 8,
            "power_w": 300.0 + 5 * i,
            "gpu_util_pct": 90.0,
            "mem_util_pct": 40.0,
            "mem_used_bytes": 2_000_000_000,
            "sm_clock_mhz": 1980.0 if not throttled_from <= i < throttled_to else 1400.0,
            "temperature_c": 60.0,
            "clock_event_reasons": "",
            "throttled": throttled_from <= i < throttled_to,
        }
        for i in range(count)
    ]


def _write_csv(path: Path, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in columns})


TEST_CARD = """\
provider: testcloud
currency: USD
as_of: 2026-11-01
source: made up for tests
instances:
  - {name: big-h100, gpu: H100-SXM-80GB, gpu_count: 1, vcpus: 16, memory_gib: 128,
     region: here, prices_per_hour: {on_demand: 4.0, spot: 2.0}}
  - {name: small-l4, gpu: L4, gpu_count: 1, vcpus: 4, memory_gib: 16,
     region: here, prices_per_hour: {on_demand: 0.6}}
"""
"""A rate card with one H100 instance (on demand and spot) and one L4 instance (on demand)."""
TEST_CARD_INSTANCES = ["--instance", "testcloud:big-h100", "--instance", "testcloud:small-l4"]
