"""Energy over begin/end windows, from the NVML energy counter or, without one, sampled power.

    monitor = EnergyMonitor(meter, sampler)
    monitor.begin_window("text/bs8")
    ...  # timed iterations, device synchronized
    window = monitor.end_window("text/bs8")   # EnergyWindow(elapsed_s=..., energy_j=..., ...)

Windows are keyed, so they may nest or overlap.
"""

from __future__ import annotations

import bisect
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean

from harness.errors import MeterError
from harness.meters.base import EnergyWindow, GpuMeter, Sample
from harness.meters.sampler import Sampler

# The driver updates the energy counter every 10-100 ms, so a window shorter than that often
# reads a difference of exactly 0. That 0 is an artefact of the update period, not a
# measurement: below this length a zero difference is reported as not measured. Longer windows
# keep what the counter says.
MIN_COUNTER_WINDOW_S = 0.1
IDLE_POLL_INTERVAL_S = 0.1

COUNTER = "counter"
POWER_INTEGRATION = "power_integration"


@dataclass(frozen=True)
class _OpenWindow:
    t0_s: float
    energy0_mj: float | None


class EnergyMonitor:
    """Measures energy and summarises the sampler's readings over keyed windows.

    Without a sampler (or with a disabled one) the counter still measures energy; the summaries
    that need samples are None.
    """

    def __init__(self, meter: GpuMeter, sampler: Sampler | None = None) -> None:
        self.meter = meter
        self.sampler = sampler
        self._open: dict[str, _OpenWindow] = {}

    def begin_window(self, key: str) -> None:
        """Start measuring. MeterError if a window with this key is already open."""
        if key in self._open:
            raise MeterError(f"energy window {key!r} is already open")
        t0_s = time.perf_counter()
        energy0_mj = self._energy_mj()
        if energy0_mj is None:
            self._edge_sample()
        self._open[key] = _OpenWindow(t0_s, energy0_mj)

    def end_window(self, key: str) -> EnergyWindow:
        """Stop measuring and return what the window saw. MeterError for a key never begun."""
        window = self._open.pop(key, None)
        if window is None:
            raise MeterError(f"energy window {key!r} was never begun (or already ended)")
        energy1_mj = self._energy_mj() if window.energy0_mj is not None else None
        if energy1_mj is None:
            self._edge_sample()
        t1_s = time.perf_counter()
        elapsed_s = t1_s - window.t0_s

        energy_j, method = _counter_energy_j(window.energy0_mj, energy1_mj, elapsed_s)
        if method is None and window.energy0_mj is None and self.sampler is not None:
            around = self.sampler.samples_between(window.t0_s, t1_s, include_edges=True)
            energy_j = integrate_power_j(around, window.t0_s, t1_s)
            method = None if energy_j is None else POWER_INTEGRATION

        inside = [] if self.sampler is None else self.sampler.samples_between(window.t0_s, t1_s)
        return summarise_window(elapsed_s, energy_j, method, inside)

    def measure_idle_power_w(self, duration_s: float = 1.0) -> float | None:
        """Mean power while waiting `duration_s` (call before the sweep, with the GPU idle).

        From the energy counter where it moved; else the mean of power read every 0.1 s;
        None when the meter reads nothing (no wait then).
        """
        try:
            has_device = self.meter.info is not None
        except MeterError:
            return None
        if not has_device:
            return None
        t0_s = time.perf_counter()
        energy0_mj = self._energy_mj()
        powers_w: list[float] = []
        deadline_s = t0_s + duration_s
        while True:
            power_w = self._quiet_sample().power_w
            if power_w is not None:
                powers_w.append(power_w)
            remaining_s = deadline_s - time.perf_counter()
            if remaining_s <= 0:
                break
            time.sleep(min(IDLE_POLL_INTERVAL_S, remaining_s))
        energy1_mj = self._energy_mj() if energy0_mj is not None else None
        elapsed_s = time.perf_counter() - t0_s
        if energy0_mj is not None and energy1_mj is not None and energy1_mj > energy0_mj:
            return (energy1_mj - energy0_mj) / 1000.0 / elapsed_s
        return fmean(powers_w) if powers_w else None

    def _energy_mj(self) -> float | None:
        try:
            return self.meter.energy_mj()
        except MeterError:
            return None  # a failed read is "not measured"; the window's other numbers still count

    def _edge_sample(self) -> None:
        # Without a counter, energy comes from sampled power: a sample at each edge keeps short
        # windows (shorter than the sampling interval) measurable.
        if self.sampler is not None:
            self.sampler.sample_now()

    def _quiet_sample(self) -> Sample:
        try:
            return self.meter.read_sample()
        except MeterError:
            return Sample(time.perf_counter(), None, None, None, None, None, None, None, None)


def _counter_energy_j(
    energy0_mj: float | None, energy1_mj: float | None, elapsed_s: float
) -> tuple[float | None, str | None]:
    if energy0_mj is None or energy1_mj is None:
        return None, None
    delta_mj = energy1_mj - energy0_mj
    if delta_mj < 0:  # the counter restarted (driver reload): the difference means nothing
        return None, None
    if delta_mj == 0 and elapsed_s < MIN_COUNTER_WINDOW_S:
        return None, None
    return delta_mj / 1000.0, COUNTER


def integrate_power_j(samples: Sequence[Sample], t0_s: float, t1_s: float) -> float | None:
    """Trapezoid integral of sampled power over [t0_s, t1_s] in joules.

    Power between samples is interpolated linearly; before the first and after the last sample
    the nearest value is held. None when no power sample lies in the window or brackets it.
    """
    points = sorted((s.t_s, s.power_w) for s in samples if s.power_w is not None)
    if not points:
        return None
    times = [t for t, _ in points]
    inside = any(t0_s <= t <= t1_s for t in times)
    brackets = times[0] <= t0_s and times[-1] >= t1_s
    if not (inside or brackets):
        return None

    def power_at(t_s: float) -> float:
        at = bisect.bisect_left(times, t_s)
        if at == 0:
            return points[0][1]
        if at == len(points):
            return points[-1][1]
        (ta, pa), (tb, pb) = points[at - 1], points[at]
        return pa if tb == ta else pa + (pb - pa) * (t_s - ta) / (tb - ta)

    knots = [t0_s, *(t for t in times if t0_s < t < t1_s), t1_s]
    return sum(
        (tb - ta) * (power_at(ta) + power_at(tb)) / 2.0 for ta, tb in itertools.pairwise(knots)
    )


def summarise_window(
    elapsed_s: float, energy_j: float | None, method: str | None, samples: Sequence[Sample]
) -> EnergyWindow:
    """An EnergyWindow from the window's energy and the samples read inside it."""
    powers = [s.power_w for s in samples if s.power_w is not None]
    if energy_j is not None and elapsed_s > 0:
        avg_power_w: float | None = energy_j / elapsed_s
    else:
        avg_power_w = fmean(powers) if powers else None
    utils = [s.gpu_util_pct for s in samples if s.gpu_util_pct is not None]
    clocks = [s.sm_clock_mhz for s in samples if s.sm_clock_mhz is not None]
    temps = [s.temperature_c for s in samples if s.temperature_c is not None]
    mems = [s.mem_used_bytes for s in samples if s.mem_used_bytes is not None]
    throttles = [s.throttled for s in samples if s.throttled is not None]
    return EnergyWindow(
        elapsed_s=elapsed_s,
        energy_j=energy_j,
        energy_method=method,
        avg_power_w=avg_power_w,
        gpu_util_mean=fmean(utils) if utils else None,
        sm_clock_mhz_mean=fmean(clocks) if clocks else None,
        temperature_c_max=max(temps) if temps else None,
        mem_used_bytes_max=max(mems) if mems else None,
        throttled=any(throttles) if throttles else None,
    )
