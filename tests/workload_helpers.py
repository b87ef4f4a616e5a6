"""Driving a workload directly, the way the runner does, with a stopwatch that records its marks."""

from __future__ import annotations

import csv
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workloads import registry
from workloads.base import Workload, WorkloadContext


class RecordingStopwatch:
    """Keeps every mark in order with its perf_counter time (marking a name again replaces it)."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.times: dict[str, float] = {}

    def mark(self, name: str) -> None:
        self.order.append(name)
        self.times[name] = time.perf_counter()


def build(
    name: str,
    preset: str = "tiny",
    options: Mapping[str, Any] | None = None,
    model_path: Path | None = None,
    seed: int = 0,
    dtype: str = "fp32",
    engine: str = "eager",
) -> Workload:
    """Resolve settings as `gpucost run` does, check them, and load the model on the CPU."""
    cls = registry.load(name)
    settings = cls.settings_for(preset, dict(options or {}))
    ctx = WorkloadContext(
        preset=preset if model_path is None else "local",
        device="cpu",
        dtype=dtype,
        seed=seed,
        model_path=model_path,
        engine=engine,
    )
    cls.check(settings, ctx)
    workload = cls(settings, ctx)
    workload.load()
    return workload


def run_iteration(workload: Workload, batch_size: int) -> RecordingStopwatch:
    """prepare + one iteration between "start" and "end" marks, as the runner times it."""
    workload.prepare(batch_size)
    stopwatch = RecordingStopwatch()
    stopwatch.mark("start")
    workload.run_once(stopwatch)
    stopwatch.mark("end")
    return stopwatch


def phase_marks(workload: Workload) -> list[str]:
    """The marks the workload's phases expect, in iteration order, without duplicates."""
    marks: list[str] = []
    for phase in type(workload).phases:
        for mark in (phase.start_mark, phase.end_mark):
            if mark not in marks:
                marks.append(mark)
    return marks


FAST_RUN = ["--iterations", "2", "--warmup", "1", "--min-duration", "0", "--idle-seconds", "0"]


def cli_run(out: Path, *args: str) -> list[dict[str, str]]:
    """`gpucost run ... --out OUT` through click's runner; the measurements.csv rows."""
    from click.testing import CliRunner

    from harness.cli import main

    result = CliRunner().invoke(main, ["run", *args, "--out", str(out), "--no-price", *FAST_RUN])
    assert result.exit_code == 0, result.output
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    with open(run_dir / "measurements.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def assert_phases_add_up(row: dict[str, str], phases: list[str]) -> None:
    """The phases' p50s cover the iteration's p50 wall time (within CPU timing noise)."""
    parts = [float(row[f"{phase}_s_p50"]) for phase in phases]
    assert all(part > 0 for part in parts), row
    wall = float(row["wall_s_p50"])
    assert abs(wall - sum(parts)) <= 0.25 * wall + 0.005, (wall, parts)
