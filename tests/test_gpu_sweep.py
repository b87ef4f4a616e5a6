"""On a CUDA GPU: the whole sweep's device paths (events, peak memory, NVML energy, samples)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main

pytestmark = pytest.mark.gpu


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_tiny_text_sweep_on_the_gpu_fills_every_device_column(tmp_path: Path) -> None:
    import torch

    args = ["run", "-w", "text,embedding", "--preset", "tiny", "-b", "1,4", "--device", "cuda:0"]
    args += ["--iterations", "5", "--warmup", "2", "--min-duration", "0.5", "--idle-seconds", "0.5"]
    args += ["--sample-interval", "0.05", "--out", str(tmp_path), "--no-price"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (run,) = list(tmp_path.iterdir())
    meta = json.loads((run / "run.json").read_text())
    major, _ = torch.cuda.get_device_capability(0)
    assert meta["config"]["dtype"] == ("bf16" if major >= 8 else "fp16")
    assert meta["device"]["type"] == "cuda" and meta["device"]["gpu_name"]
    for row in rows(run / "measurements.csv"):
        assert row["status"] == "ok", row["error"]
        wall, gpu = float(row["wall_s_p50"]), float(row["gpu_s_p50"])
        assert 0 < gpu <= wall * 1.05
        assert int(float(row["peak_mem_allocated_bytes"])) > 0
        assert int(float(row["peak_mem_reserved_bytes"])) >= int(
            float(row["peak_mem_allocated_bytes"])
        )
        assert row["gpu_name"] == meta["device"]["gpu_name"]
        if meta["device"]["has_energy_counter"]:
            assert row["energy_method"] == "counter" and float(row["energy_j"]) > 0
        if row["workload"] == "text":
            prefill, decode = float(row["prefill_s_p50"]), float(row["decode_s_p50"])
            assert prefill > 0 and decode > 0 and prefill + decode <= wall * 1.05
    samples = rows(run / "samples.csv")
    assert samples and any(s["power_w"] for s in samples)
    assert {s["workload"] for s in samples} >= {"text", "embedding"}
