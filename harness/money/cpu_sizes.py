"""Which CPU instance sizes a CPU run can speak for.

A CPU run measured its timings with some number of threads (`config.threads` in run.json). An
instance with more vCPUs than the smallest size that holds those threads is not made faster by
the run's timing, only dearer: a 1-thread run priced on an 8-vCPU instance is always exactly
twice the 4-vCPU one. Such sizes are left out (and named), unless the reader names them.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.gpus import CPU_ONLY
from harness.money.ratecard import Instance
from harness.results.runs import RunRecord


def run_threads(run: RunRecord) -> int | None:
    """Threads a CPU run measured with; None for a GPU run or one that did not record them."""
    device = run.meta.get("device") or {}
    if device.get("type") != "cpu":
        return None
    threads = (run.meta.get("config") or {}).get("threads")
    return threads if isinstance(threads, int) and threads > 0 else None


def cpu_sizes_spoken_for(
    runs: Sequence[RunRecord], instances: Sequence[Instance]
) -> tuple[list[Instance], str | None]:
    """The instances less the CPU sizes the runs cannot speak for (per provider, every size but
    the smallest that holds the runs' threads), and a line naming those left out."""
    threads = [t for t in (run_threads(run) for run in runs) if t is not None]
    if not threads:
        return list(instances), None
    need = max(threads)
    smallest: dict[str, float] = {}
    for inst in instances:
        if inst.gpu == CPU_ONLY and inst.vcpus >= need:
            smallest[inst.provider] = min(smallest.get(inst.provider, inst.vcpus), inst.vcpus)
    kept, left = [], []
    for inst in instances:
        fits = inst.gpu != CPU_ONLY or inst.vcpus == smallest.get(inst.provider)
        (kept if fits else left).append(inst)
    if not left:
        return kept, None
    names = ", ".join(f"{i.key} ({i.vcpus:g} vCPUs)" for i in left)
    return kept, (
        f"CPU sizes left out: {names}: the run measured {need} thread{'s' if need > 1 else ''} "
        "and cannot say what more vCPUs would do (name one with --instance to price it anyway)"
    )
