"""What a run records: warmup iterations untimed, timing until the minimum duration, the
iteration cap, percentiles of the recorded iterations, one row for a workload that fails to
load, and the rows already on disk kept when a rewrite fails. Each with a hand-computed answer."""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch

from harness.measure.execute import execute_run
from harness.measure.plan import RunConfig, WorkloadPlan
from harness.meters import NullMeter
from harness.results.store import RunStore
from tests.plugin_src.gpucost_testplugin import NoopWorkload
from workloads.base import Stopwatch, WorkloadContext, WorkloadSettings


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


# -- runner: warmup, min duration, max iterations, percentiles, load failures -------------------


@dataclass(frozen=True)
class CountSettings(WorkloadSettings):
    sleep_s: float = 0.0
    load_error: str = ""


class Counting(NoopWorkload):
    """The test plugin's no-op workload, counting its iterations and failing to load on ask."""

    name: ClassVar[str] = "counting"
    settings_type = CountSettings

    def load(self) -> None:
        if self.settings.load_error == "oom":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 80 GiB")
        if self.settings.load_error == "error":
            raise ValueError("broken checkpoint")
        self.calls = 0

    def prepare(self, batch_size: int) -> None:
        self.calls = 0

    def run_once(self, stopwatch: Stopwatch) -> None:
        self.calls += 1
        if self.settings.sleep_s:
            time.sleep(self.settings.sleep_s)

    def row_extras(self, batch_size: int) -> dict[str, Any]:
        return {"run_once_calls": self.calls}


def counting_run(tmp_path: Path, batch_sizes=(1,), **config: Any) -> list[dict[str, str]]:
    settings = CountSettings(
        sleep_s=config.pop("sleep_s", 0.0), load_error=config.pop("load_error", "")
    )
    plan = WorkloadPlan(
        "counting",
        Counting,
        settings,
        WorkloadContext(preset="tiny", device="cpu", dtype="fp32"),
        tuple(batch_sizes),
    )
    cfg = RunConfig(
        workloads=(plan,),
        device="cpu",
        dtype="fp32",
        sample_interval_s=None,
        idle_power_s=0,
        count_flops=False,
        **config,
    )
    run = execute_run(cfg, tmp_path, meter=NullMeter()).path
    with open(run / "measurements.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_warmup_iterations_run_but_are_not_timed(tmp_path: Path) -> None:
    (row,) = counting_run(tmp_path, warmup=2, iterations=3, min_duration_s=0)
    assert (row["iterations"], row["run_once_calls"]) == ("3", "5")


def test_timing_goes_on_until_the_minimum_duration(tmp_path: Path) -> None:
    (row,) = counting_run(tmp_path, sleep_s=0.02, warmup=0, iterations=2, min_duration_s=0.3)
    # 2 iterations of 20 ms are 0.04 s: timing must go on until 0.3 s have passed.
    assert float(row["timed_s"]) >= 0.3 and int(row["iterations"]) > 2


def test_max_iterations_caps_a_long_minimum_duration(tmp_path: Path) -> None:
    started = time.perf_counter()
    (row,) = counting_run(tmp_path, warmup=0, iterations=1, min_duration_s=60, max_iterations=4)
    assert row["iterations"] == "4" and time.perf_counter() - started < 10


def test_percentiles_summarise_the_recorded_iterations(tmp_path: Path) -> None:
    counting_run(tmp_path, sleep_s=0.001, warmup=0, iterations=7, min_duration_s=0)
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    row = read_csv(run / "measurements.csv")[0]
    walls = [float(r["wall_s"]) for r in read_csv(run / "iterations.csv")]
    assert len(walls) == 7
    for column, q in (("wall_s_p50", 50), ("wall_s_p90", 90), ("wall_s_p99", 99)):
        assert float(row[column]) == pytest.approx(float(np.percentile(walls, q)), rel=1e-9)
    assert float(row["wall_s_mean"]) == pytest.approx(sum(walls) / 7, rel=1e-9)


def test_out_of_memory_while_loading_writes_one_row(tmp_path: Path) -> None:
    rows = counting_run(tmp_path / "oom", batch_sizes=(1, 2, 4), load_error="oom", iterations=1)
    assert [(r["batch_size"], r["status"]) for r in rows] == [("1", "oom")]
    assert rows[0]["error"].startswith("loading the model: OutOfMemoryError")
    rows = counting_run(tmp_path / "err", batch_sizes=(1, 2, 4), load_error="error", iterations=1)
    assert [(r["batch_size"], r["status"]) for r in rows] == [
        ("1", "error"),
        ("2", "error"),
        ("4", "error"),
    ]
    assert rows[0]["error"] == "loading the model: ValueError: broken checkpoint"


# -- store ----------------------------------------------------------------------------------------


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("cannot format")


def test_a_failed_rewrite_keeps_the_rows_already_on_disk(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path)
    store.add_measurement({"workload": "w", "batch_size": 1, "status": "ok"}, [])
    before = (store.path / "measurements.csv").read_bytes()
    with pytest.raises(RuntimeError):
        store.add_measurement({"workload": "w", "batch_size": 2, "note": Unprintable()}, [])
    assert (store.path / "measurements.csv").read_bytes() == before
    assert [p.name for p in store.path.iterdir() if p.name.startswith(".")] == []
