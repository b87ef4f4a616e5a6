"""Workloads a third party could ship, used by the tests through the entry-point group.

`noop` does nothing (harness overhead), `flaky` runs out of memory above a batch size or raises,
`sleepy` sleeps per iteration (interruption tests), `frames` counts a unit of its own (`frames`)
that its spec in gpucost_testplugin_specs.py prices.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import ClassVar

import torch

from workloads.base import Phase, Stopwatch, Workload, WorkloadSettings


@dataclass(frozen=True)
class NoopSettings(WorkloadSettings):
    items: int = 1


class NoopWorkload(Workload):
    name: ClassVar[str] = "noop"
    settings_type = NoopSettings
    presets: ClassVar[dict] = {"tiny": {}}
    gpu_default_preset = "tiny"
    unit_columns = ("requests",)

    def load(self) -> None:
        pass

    def prepare(self, batch_size: int) -> None:
        pass

    def run_once(self, stopwatch: Stopwatch) -> None:
        pass

    def units(self, batch_size: int) -> dict[str, float]:
        return {"requests": batch_size}


@dataclass(frozen=True)
class FlakySettings(WorkloadSettings):
    oom_above: int = 2
    fail_at: int = 0


class FlakyWorkload(NoopWorkload):
    """Matrix products that run out of memory above `oom_above`, or raise at `fail_at`."""

    name: ClassVar[str] = "flaky"
    settings_type = FlakySettings
    phases = (Phase("first", "start", "half"), Phase("second", "half", "end"))

    def prepare(self, batch_size: int) -> None:
        s = self.settings
        if batch_size > s.oom_above:
            raise torch.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {batch_size} GiB")
        if batch_size == s.fail_at:
            raise ValueError(f"bad shape at batch {batch_size}")
        self.x = torch.ones(batch_size, 32, 32)

    def run_once(self, stopwatch: Stopwatch) -> None:
        y = self.x @ self.x
        stopwatch.mark("half")
        (y @ self.x).sum()


@dataclass(frozen=True)
class SleepySettings(WorkloadSettings):
    sleep_s: float = 0.05


class SleepyWorkload(NoopWorkload):
    name: ClassVar[str] = "sleepy"
    settings_type = SleepySettings

    def run_once(self, stopwatch: Stopwatch) -> None:
        time.sleep(self.settings.sleep_s)
        marker = os.environ.get("GPUCOST_TEST_SLEEPY_MARKER")
        if marker:
            open(marker, "a").close()


@dataclass(frozen=True)
class FramesSettings(WorkloadSettings):
    frames_per_clip: int = 24


class FramesWorkload(NoopWorkload):
    """A small matrix product per frame; one clip (request) of `frames_per_clip` frames each."""

    name: ClassVar[str] = "frames"
    settings_type = FramesSettings
    unit_columns = ("frames", "requests")

    def prepare(self, batch_size: int) -> None:
        self.x = torch.ones(batch_size * self.settings.frames_per_clip, 16, 16)

    def run_once(self, stopwatch: Stopwatch) -> None:
        (self.x @ self.x).sum()

    def units(self, batch_size: int) -> dict[str, float]:
        return {"frames": batch_size * self.settings.frames_per_clip, "requests": batch_size}
