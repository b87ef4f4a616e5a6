"""The sweep with a driver-like fake NVML: energy per batch, samples timeline, power integration."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from harness.measure.execute import execute_run
from harness.measure.plan import RunConfig, plan_workloads
from harness.meters.nvml import NvmlMeter
from tests.fakes.fake_pynvml import FakeNvml


def sweep(tmp_path: Path, fake: FakeNvml) -> Path:
    plans = plan_workloads(
        ["sleepy"],
        device="cpu",
        dtype="fp32",
        preset=None,
        model_path=None,
        batch_sizes=(1, 2),
        options={"sleep_s": 0.02},
        seed=0,
        engine="eager",
    )
    config = RunConfig(
        workloads=plans,
        device="cpu",
        dtype="fp32",
        warmup=1,
        iterations=5,
        min_duration_s=0.3,
        sample_interval_s=0.02,
        idle_power_s=0.2,
    )
    meter = NvmlMeter(0, fake).open()
    return execute_run(config, tmp_path, meter=meter).path


def read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_energy_counter_gives_energy_per_batch(test_plugin: Path, tmp_path: Path) -> None:
    fake = FakeNvml(power_w=250.0)
    run = sweep(tmp_path, fake)
    rows = read(run / "measurements.csv")
    assert [r["status"] for r in rows] == ["ok", "ok"]
    for row in rows:
        assert row["energy_method"] == "counter"
        iterations = int(row["iterations"])
        per_iteration_s = float(row["timed_s"]) / iterations
        # 250 W drawn the whole window: energy per batch ≈ 250 W × seconds per iteration.
        assert float(row["energy_j"]) == pytest.approx(250.0 * per_iteration_s, rel=0.1)
        assert float(row["avg_power_w"]) == pytest.approx(250.0, rel=0.1)
        assert float(row["idle_power_w"]) == pytest.approx(250.0, rel=0.1)
        assert row["gpu_name"] == "NVIDIA H100 80GB HBM3"
        assert row["throttled"] == "False"
        assert float(row["gpu_util_mean"]) == 87
        assert float(row["power_limit_w"]) == 700
    meta = json.loads((run / "run.json").read_text())
    assert meta["idle_power_w"] == pytest.approx(250.0, rel=0.1)
    samples = read(run / "samples.csv")
    labelled = [s for s in samples if s["workload"] == "sleepy"]
    assert {s["batch_size"] for s in labelled} == {"1", "2"}
    assert all(float(s["power_w"]) == 250.0 for s in labelled)
    times = [float(s["t_s"]) for s in samples]
    assert times == sorted(times) and times[0] >= 0
    assert not any(name.startswith("nvmlDeviceGetComputeRunningProcesses") for name in fake.calls)


def test_no_energy_counter_falls_back_to_power_integration(
    test_plugin: Path, tmp_path: Path
) -> None:
    fake = FakeNvml(power_w=120.0, energy_supported=False)
    for row in read(sweep(tmp_path, fake) / "measurements.csv"):
        assert row["energy_method"] == "power_integration"
        per_iteration_s = float(row["timed_s"]) / int(row["iterations"])
        assert float(row["energy_j"]) == pytest.approx(120.0 * per_iteration_s, rel=0.15)


def test_throttling_during_the_window_marks_the_row(test_plugin: Path, tmp_path: Path) -> None:
    fake = FakeNvml(power_w=300.0)
    fake.set_reasons(fake.nvmlClocksEventReasonSwPowerCap)
    rows = read(sweep(tmp_path, fake) / "measurements.csv")
    assert {r["throttled"] for r in rows} == {"True"}


def test_a_driver_that_cannot_name_the_gpu_still_gives_a_run(
    test_plugin: Path, tmp_path: Path
) -> None:
    plans = plan_workloads(
        ["noop"],
        device="cpu",
        dtype="fp32",
        preset=None,
        model_path=None,
        batch_sizes=(1,),
        options={},
        seed=0,
        engine="eager",
    )
    config = RunConfig(workloads=plans, device="cpu", dtype="fp32", warmup=0, iterations=2)
    meter = NvmlMeter(0, FakeNvml(lose_gpu_after_calls=0)).open()
    run = execute_run(config, tmp_path, meter=meter).path
    (row,) = read(run / "measurements.csv")
    assert row["status"] == "ok" and row["energy_j"] == "" and row["gpu_name"] == ""
    meta = json.loads((run / "run.json").read_text())
    assert meta["status"] == "complete"
