"""The runner's own cost per timed iteration, measured with a workload that does nothing."""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.measure.plan import RunConfig, WorkloadPlan
from harness.measure.runner import (
    SilentProgress,
    Sweep,
)
from harness.meters import NullMeter
from harness.meters.monitor import EnergyMonitor
from harness.meters.sampler import Sampler
from harness.results.store import RunStore
from workloads.base import Stopwatch, Workload, WorkloadContext, WorkloadSettings

ITERATIONS = 20_000


@dataclass(frozen=True)
class NoSettings(WorkloadSettings):
    pass


class Noop(Workload):
    name: ClassVar[str] = "noop"
    settings_type = NoSettings
    presets: ClassVar[dict] = {"none": {}}
    gpu_default_preset = "none"
    unit_columns = ("requests",)

    def load(self) -> None:
        pass

    def prepare(self, batch_size: int) -> None:
        pass

    def run_once(self, stopwatch: Stopwatch) -> None:
        pass

    def units(self, batch_size: int) -> dict[str, float]:
        return {"requests": batch_size}


def main() -> None:
    ctx = WorkloadContext(preset="none", device="cpu", dtype="fp32")
    plan = WorkloadPlan("noop", Noop, NoSettings(), ctx, (1,))
    config = RunConfig(
        workloads=(plan,), device="cpu", dtype="fp32", warmup=100,
        iterations=ITERATIONS, max_iterations=ITERATIONS, min_duration_s=0.0,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        store = RunStore.create(Path(folder))
        meter = NullMeter()
        sampler = Sampler(meter, interval_s=None)
        sweep = Sweep(
            config, store, meter, EnergyMonitor(meter, sampler), sampler, SilentProgress()
        )
        started = time.perf_counter()
        sweep.run()
        total_s = time.perf_counter() - started
        row = store.measurements[0]
    print(
        f"{ITERATIONS} iterations: {row['timed_s'] / ITERATIONS * 1e6:.2f} µs per timed iteration"
    )
    print(f"inside the measured wall time: {row['wall_s_mean'] * 1e6:.2f} µs (mean)")
    print(f"whole sweep incl. warm-up and writing: {total_s:.3f} s")


if __name__ == "__main__":
    main()
