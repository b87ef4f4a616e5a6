"""`gpucost calibrate`: refused without a GPU, stored into run.json, used by the roofline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.analysis.roofline import efficiency
from harness.cli import main
from harness.errors import BadInput
from harness.measure.calibrate import (
    Ceilings,
    attach_to_run,
    default_output,
    measure_ceilings,
    write_ceilings,
)
from harness.results.runs import load_run
from tests.report_helpers import L4_NVML, text_row, write_run


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


H100_CEILINGS = Ceilings(
    matmul_tflops=798.0,
    copy_bytes_per_s=3.0e12,
    matmul_shape=(8192, 8192, 8192),
    matmul_dtype="bf16",
    copy_bytes=2 * 2**30,
    repeats=10,
    gpu_name="NVIDIA H100 80GB HBM3",
    gpu_key="H100-SXM-80GB",
    measured_at="2026-11-27T23:40:00+00:00",
)


@pytest.mark.skipif(_has_cuda(), reason="this machine has a CUDA GPU")
def test_calibrate_without_a_gpu_is_one_clear_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["calibrate", "--out", str(tmp_path / "c.json")])
    assert result.exit_code != 0
    assert result.stderr.strip().splitlines() == [
        "Error: calibrate needs a CUDA GPU (torch finds none on this machine)"
    ]
    assert not (tmp_path / "c.json").exists()


def test_calibrate_checks_the_run_folder_before_measuring(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["calibrate", "--run", str(tmp_path)])
    assert result.exit_code != 0
    assert f"--run {tmp_path}: not a gpucost run folder (no run.json)" in result.stderr


def test_ceilings_go_into_run_json_and_the_roofline_uses_them(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, "r1", [text_row(2, 0.1)])
    before = json.loads((run_dir / "run.json").read_text())
    attach_to_run(run_dir, H100_CEILINGS)
    after = json.loads((run_dir / "run.json").read_text())
    assert after["calibration"]["matmul_tflops"] == 798.0
    assert after["calibration"]["matmul_shape"] == [8192, 8192, 8192]
    assert {k: v for k, v in after.items() if k != "calibration"} == {
        k: v for k, v in before.items() if k != "calibration"
    }
    assert [p.name for p in run_dir.iterdir() if p.name.startswith(".")] == []
    run = load_run(run_dir)
    row = efficiency(run.measurements, run.meta).iloc[0]
    assert row["ceiling_source"] == "measured"
    assert row["mbu"] == pytest.approx(row["min_bytes"] / 0.1 / 3.0e12)


def test_ceilings_of_another_gpu_are_refused(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, "l4", [text_row(1, 0.1, gpu_name=L4_NVML)], gpu_name=L4_NVML)
    original = (run_dir / "run.json").read_bytes()
    with pytest.raises(BadInput, match="measured on NVIDIA L4, not on this NVIDIA H100"):
        attach_to_run(run_dir, H100_CEILINGS)
    assert (run_dir / "run.json").read_bytes() == original


def test_ceilings_file(tmp_path: Path) -> None:
    path = default_output(H100_CEILINGS, tmp_path / "results")
    assert path.name == "calibration-H100-SXM-80GB.json"
    write_ceilings(H100_CEILINGS, path)
    data = json.loads(path.read_text())
    assert data["copy_bytes_per_s"] == 3.0e12 and data["gpu_key"] == "H100-SXM-80GB"
    with pytest.raises(BadInput, match="cannot write"):
        write_ceilings(H100_CEILINGS, path / "inside-a-file.json")


@pytest.mark.gpu
def test_measure_ceilings_on_the_gpu() -> None:
    ceilings = measure_ceilings(
        "cuda:0", matmul_size=4096, copy_buffer_bytes=256 * 2**20, repeats=5
    )
    assert 1.0 < ceilings.matmul_tflops < 5000.0
    assert 1e10 < ceilings.copy_bytes_per_s < 1e14
    assert ceilings.matmul_shape == (4096, 4096, 4096)
    assert ceilings.copy_bytes == 2 * 256 * 2**20
    assert ceilings.gpu_name
