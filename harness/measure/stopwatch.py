"""Per-iteration timing: wall time with the device synchronized, GPU time and phases from CUDA events.

On CUDA, marks are events recorded on the current stream, so a phase boundary is when the device
finished the work enqueued before it, and marking never synchronizes inside the iteration. On the
CPU, marks are `perf_counter` readings (the work is synchronous).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from workloads.base import Phase


@dataclass(frozen=True)
class IterationTiming:
    wall_s: float
    gpu_s: float | None
    phases_s: dict[str, float | None]


class _CpuMarks:
    def __init__(self) -> None:
        self.marks: dict[str, float] = {}

    def mark(self, name: str) -> None:
        self.marks[name] = time.perf_counter()

    def elapsed_s(self, start: str, end: str) -> float | None:
        if start not in self.marks or end not in self.marks:
            return None
        return self.marks[end] - self.marks[start]


class _CudaMarks:
    def __init__(self) -> None:
        self.marks: dict[str, torch.cuda.Event] = {}

    def mark(self, name: str) -> None:
        event = torch.cuda.Event(enable_timing=True)
        event.record()
        self.marks[name] = event

    def elapsed_s(self, start: str, end: str) -> float | None:
        if start not in self.marks or end not in self.marks:
            return None
        return self.marks[start].elapsed_time(self.marks[end]) / 1000.0


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_iteration(device: torch.device, phases: tuple[Phase, ...], body) -> IterationTiming:
    """Run `body(stopwatch)` once and time it. The device is idle before and after."""
    on_cuda = device.type == "cuda"
    marks = _CudaMarks() if on_cuda else _CpuMarks()
    synchronize(device)
    started = time.perf_counter()
    marks.mark("start")
    body(marks)
    marks.mark("end")
    synchronize(device)
    wall_s = time.perf_counter() - started
    phases_s = {p.name: marks.elapsed_s(p.start_mark, p.end_mark) for p in phases}
    return IterationTiming(
        wall_s=wall_s,
        gpu_s=marks.elapsed_s("start", "end") if on_cuda else None,
        phases_s=phases_s,
    )
