"""The sweep: for each workload, build once, then per batch size warm up, time, summarise, write.

Rows are written as soon as each batch size finishes. An out-of-memory becomes an `oom` row and
skips the larger sizes of that workload; any other exception becomes an `error` row; Ctrl-C
propagates after the finished rows are on disk.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from harness import stats
from harness.devicemem import free_device_memory, is_out_of_memory
from harness.measure.flops import count_iteration_flops
from harness.measure.goodput import batch_slo_columns, latency_percentiles
from harness.measure.plan import RunConfig, WorkloadPlan
from harness.measure.stopwatch import IterationTiming, time_iteration
from harness.meters.base import EnergyWindow, GpuMeter, Sample
from harness.meters.sampler import sample_row
from harness.money.confidence import median_cost_interval, unstable_from_cv
from harness.results.store import RunStore
from harness.slo import parse_slo
from workloads.base import Workload


class Progress(Protocol):
    def workload_started(self, plan: WorkloadPlan) -> None: ...

    def batch_started(self, plan: WorkloadPlan, batch_size: int) -> None: ...

    def batch_finished(self, plan: WorkloadPlan, row: dict[str, Any]) -> None: ...


class SilentProgress:
    def workload_started(self, plan: WorkloadPlan) -> None:
        pass

    def batch_started(self, plan: WorkloadPlan, batch_size: int) -> None:
        pass

    def batch_finished(self, plan: WorkloadPlan, row: dict[str, Any]) -> None:
        pass


class EnergyWindows(Protocol):
    def begin_window(self, key: str) -> None: ...

    def end_window(self, key: str) -> EnergyWindow: ...


class LabelledSampler(Protocol):
    def set_label(self, workload: str | None, batch_size: int | None) -> None: ...

    def drain(self) -> list[tuple[tuple[str | None, int | None], Sample]]: ...


@dataclass
class Sweep:
    """Runs a RunConfig, writing into a RunStore. Meters are given so tests can use fakes."""

    config: RunConfig
    store: RunStore
    meter: GpuMeter
    monitor: EnergyWindows
    sampler: LabelledSampler
    progress: Progress
    idle_power_w: float | None = None
    gpu_name: str | None = None
    started_perf_s: float = 0.0
    clock: Callable[[], float] = time.perf_counter

    def run(self) -> None:
        device = torch.device(self.config.device)
        if device.type == "cuda":
            # CUDA events record on the current device's stream: make it the measured one.
            torch.cuda.set_device(device)
        # Set, never left to torch's default (one per core): on a busy machine that default
        # makes small models several times slower and their timings noisy.
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(self.config.threads)
        try:
            for plan in self.config.workloads:
                self.progress.workload_started(plan)
                self.run_workload(plan)
        finally:
            torch.set_num_threads(previous_threads)

    def run_workload(self, plan: WorkloadPlan) -> None:
        device = torch.device(self.config.device)
        workload = plan.workload_type(plan.settings, plan.context)
        try:
            try:
                workload.load()
            except Exception as err:
                status = "oom" if is_out_of_memory(err) else "error"
                sizes = plan.batch_sizes[:1] if status == "oom" else plan.batch_sizes
                for size in sizes:
                    self._write_failed(plan, size, status, f"loading the model: {_message(err)}")
                return
            self._record_description(plan, workload)
            for size in plan.batch_sizes:
                self.progress.batch_started(plan, size)
                try:
                    row, iterations = self.measure(plan, workload, size, device)
                except Exception as err:
                    workload.release()
                    free_device_memory(device)
                    if is_out_of_memory(err):
                        self._write_failed(plan, size, "oom", _message(err))
                        break
                    self._write_failed(plan, size, "error", _message(err))
                    continue
                finally:
                    self.flush_samples()
                self.store.add_measurement(row, iterations)
                self.progress.batch_finished(plan, row)
        finally:
            workload.close()
            del workload
            free_device_memory(device)

    def measure(
        self, plan: WorkloadPlan, workload: Workload, batch_size: int, device: torch.device
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        cfg = self.config
        self.sampler.set_label(plan.name, batch_size)
        try:
            workload.prepare(batch_size)
            if device.type == "cuda":
                # Empty the cache first: the reserved peak restarts from what is reserved now.
                free_device_memory(device)
                torch.cuda.reset_peak_memory_stats(device)
            phases = plan.workload_type.phases
            for _ in range(cfg.warmup):
                time_iteration(device, phases, workload.run_once)
            counted_flops = count_iteration_flops(workload) if cfg.count_flops else None
            compile_s = workload.compile_s()
            graphs_before = _compiled_graphs() if compile_s is not None else None
            key = f"{plan.name}/{batch_size}"
            timings: list[IterationTiming] = []
            self.monitor.begin_window(key)
            started = self.clock()
            try:
                while len(timings) < cfg.iterations or (
                    self.clock() - started < cfg.min_duration_s
                    and len(timings) < cfg.max_iterations
                ):
                    timings.append(time_iteration(device, phases, workload.run_once))
            finally:
                window = self.monitor.end_window(key)
            recompiles = _compiled_graphs() - graphs_before if graphs_before is not None else None
        finally:
            self.sampler.set_label(None, None)
        timed_s = self.clock() - started
        row = self._summarise(plan, workload, batch_size, timings, window, timed_s, device)
        row["counted_flops"] = counted_flops
        row["compile_s"] = compile_s
        row["recompiles"] = recompiles
        if recompiles:
            # The timings include compile time: keep the numbers, but not as a valid row.
            row["status"] = "error"
            row["error"] = (
                f"{recompiles} recompilation(s) inside the timed window: the timings include "
                "compilation"
            )
        iterations = [
            {
                "workload": plan.name,
                "batch_size": batch_size,
                "iteration": i,
                "wall_s": t.wall_s,
                "gpu_s": t.gpu_s,
                **{f"{name}_s": v for name, v in t.phases_s.items()},
            }
            for i, t in enumerate(timings)
        ]
        workload.release()
        return row, iterations

    def _base_row(self, plan: WorkloadPlan, batch_size: int) -> dict[str, Any]:
        ctx = plan.context
        return {
            "workload": plan.name,
            "preset": ctx.preset,
            "model": str(ctx.model_path) if ctx.model_path else ctx.preset,
            "device": ctx.device,
            "gpu_name": self.gpu_name,
            "dtype": ctx.dtype,
            "batch_size": batch_size,
            "engine": ctx.engine,
            "settings": json.dumps(plan.settings.as_dict(), sort_keys=True, separators=(",", ":")),
            "power_limit_w": self.meter.info.power_limit_w if self.meter.info else None,
            "idle_power_w": self.idle_power_w,
        }

    def _summarise(
        self,
        plan: WorkloadPlan,
        workload: Workload,
        batch_size: int,
        timings: list[IterationTiming],
        window: EnergyWindow,
        timed_s: float,
        device: torch.device,
    ) -> dict[str, Any]:
        walls = [t.wall_s for t in timings]
        gpus = [t.gpu_s for t in timings if t.gpu_s is not None]
        phases_p50 = {
            p.name: stats.percentile([t.phases_s.get(p.name) for t in timings], 50)
            for p in plan.workload_type.phases
        }
        n = len(timings)
        wall_p50 = stats.percentile(walls, 50)
        wall_cv = stats.cv(walls)
        cost = median_cost_interval(walls)
        row = self._base_row(plan, batch_size)
        row.update(
            status="ok",
            error=None,
            iterations=n,
            wall_s_mean=stats.mean(walls),
            wall_s_p50=wall_p50,
            wall_s_p90=stats.percentile(walls, 90),
            wall_s_p99=stats.percentile(walls, 99),
            wall_s_cv=wall_cv,
            unstable=unstable_from_cv(wall_cv, cost.cv, self.config.unstable_cv),
            **cost.columns(),
            gpu_s_p50=stats.percentile(gpus, 50),
            gpu_s_mean=stats.mean(gpus),
            prefill_s_p50=phases_p50.get("prefill"),
            decode_s_p50=phases_p50.get("decode"),
            energy_j=window.energy_j / n if window.energy_j is not None and n else None,
            energy_method=window.energy_method,
            avg_power_w=window.avg_power_w,
            gpu_util_mean=window.gpu_util_mean,
            sm_clock_mhz_mean=window.sm_clock_mhz_mean,
            temperature_c_max=window.temperature_c_max,
            nvml_mem_used_bytes_max=window.mem_used_bytes_max,
            throttled=window.throttled,
            warmup_iterations=self.config.warmup,
            timed_s=timed_s,
        )
        if device.type == "cuda":
            row["peak_mem_allocated_bytes"] = torch.cuda.max_memory_allocated(device)
            row["peak_mem_reserved_bytes"] = torch.cuda.max_memory_reserved(device)
        row.update(workload.units(batch_size))
        row.update({f"{name}_s_p50": v for name, v in phases_p50.items()})
        row.update(workload.row_extras(batch_size))
        row.update(workload.derived_columns(batch_size, wall_p50, phases_p50))
        row.update(self._request_latency_columns(plan, workload, batch_size, timings, row))
        return row

    def _request_latency_columns(
        self,
        plan: WorkloadPlan,
        workload: Workload,
        batch_size: int,
        timings: list[IterationTiming],
        row: dict[str, Any],
    ) -> dict[str, Any]:
        """Per-request latency percentiles over the timed iterations and, with `--slo`, the
        row's SLO and goodput columns."""
        metrics = plan.workload_type.slo_metrics
        per_iteration = [
            {"e2e": t.wall_s, **workload.request_latencies(batch_size, dict(t.phases_s))}
            for t in timings
        ]
        columns: dict[str, Any] = {
            k: v for k, v in latency_percentiles(metrics, per_iteration).items()
            if row.get(k) is None
        }  # fmt: skip
        if self.config.slo:
            slo = parse_slo(self.config.slo)
            columns.update(
                batch_slo_columns(slo, {**row, **columns}, metrics, per_iteration, batch_size)
            )
        return columns

    def _write_failed(self, plan: WorkloadPlan, batch_size: int, status: str, error: str) -> None:
        row = {**self._base_row(plan, batch_size), "status": status, "error": error}
        self.store.add_measurement(row, [])
        self.progress.batch_finished(plan, row)

    def _record_description(self, plan: WorkloadPlan, workload: Workload) -> None:
        described = dict(self.store.meta.get("workloads") or {})
        described[plan.name] = workload.describe()
        self.store.update_meta(workloads=described)

    def flush_samples(self) -> None:
        rows = [sample_row(label, s, self.started_perf_s) for label, s in self.sampler.drain()]
        self.store.append_samples(rows)


def _compiled_graphs() -> int:
    """Graphs torch.compile has built in this process (rises with every compilation)."""
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def _message(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return f"{type(err).__name__}: {text}"[:500]
