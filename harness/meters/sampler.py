"""Background sampler: a daemon thread that reads the meter at a fixed interval.

Each sample carries the label (workload, batch size) that was current when it was read. The
owner moves new samples to disk with `drain()` between batch sizes; all samples stay in memory
for window summaries (a few tens of bytes each: an hour at 10 Hz is 36,000 samples).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from harness.errors import BadInput, MeterError
from harness.meters.base import GpuMeter, Sample

DEFAULT_INTERVAL_S = 0.1


class SampleLabel(NamedTuple):
    """What was running when a sample was read; None outside any workload."""

    workload: str | None
    batch_size: int | None


class LabelledSample(NamedTuple):
    label: SampleLabel
    sample: Sample


SamplesHandler = Callable[[list[LabelledSample]], None]


def sample_row(label: SampleLabel, s: Sample, origin_s: float) -> dict[str, object]:
    """One samples.csv row: the sample's readings, its label, and its time from `origin_s`."""
    workload, batch_size = label
    return {
        "t_s": s.t_s - origin_s,
        "workload": workload,
        "batch_size": batch_size,
        "power_w": s.power_w,
        "gpu_util_pct": s.gpu_util_pct,
        "mem_util_pct": s.mem_util_pct,
        "mem_used_bytes": s.mem_used_bytes,
        "sm_clock_mhz": s.sm_clock_mhz,
        "temperature_c": s.temperature_c,
        "clock_event_reasons": s.clock_event_reasons,
        "throttled": s.throttled,
    }


class Sampler:
    """Reads `meter.read_sample()` every `interval_s` seconds on a daemon thread.

    `interval_s=None` or 0 turns the thread off (only `sample_now()` records), and so does a
    meter with nothing to read (`meter.info is None`, the NullMeter). `on_samples`, when given,
    receives what each `drain()` returns.
    """

    def __init__(
        self,
        meter: GpuMeter,
        interval_s: float | None = DEFAULT_INTERVAL_S,
        on_samples: SamplesHandler | None = None,
    ) -> None:
        if interval_s is not None and not interval_s >= 0:
            raise BadInput(f"sampler interval {interval_s!r} s: must be 0 (off) or more")
        self.meter = meter
        self.interval_s = interval_s or None
        self.on_samples = on_samples
        self.failed_reads = 0
        self.last_error: str | None = None
        self._label = SampleLabel(None, None)
        self._lock = threading.Lock()
        self._times: list[float] = []
        self._samples: list[LabelledSample] = []
        self._pending: list[LabelledSample] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._has_meter: bool | None = None

    def __enter__(self) -> Sampler:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def has_meter(self) -> bool:
        """Whether the meter reads a device (False for the NullMeter or a meter that fails)."""
        if self._has_meter is None:
            try:
                self._has_meter = self.meter.info is not None
            except MeterError as err:
                self.last_error = str(err)
                self._has_meter = False
        return self._has_meter

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Sampler:
        """Start the thread (no thread when disabled or with nothing to read). Idempotent."""
        if self.running or self.interval_s is None or not self.has_meter:
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="gpucost-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread; returns at once (the thread waits on an Event, not a sleep)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            # A read stuck in the driver must not hang the run: the thread is a daemon.
            thread.join(timeout=2.0)

    def set_label(self, workload: str | None, batch_size: int | None) -> None:
        """Label the samples read from now on."""
        self._label = SampleLabel(workload, batch_size)

    def sample_now(self) -> Sample | None:
        """Take and keep one sample now (None when there is nothing to read or the read failed)."""
        if not self.has_meter:
            return None
        return self._take()

    def drain(self) -> list[LabelledSample]:
        """Samples taken since the last drain, oldest first; also handed to `on_samples`."""
        with self._lock:
            new, self._pending = self._pending, []
        new.sort(key=lambda item: item.sample.t_s)
        if new and self.on_samples is not None:
            self.on_samples(new)
        return new

    @property
    def samples(self) -> list[LabelledSample]:
        """Every sample kept so far, oldest first."""
        with self._lock:
            return list(self._samples)

    def samples_between(
        self, t0_s: float, t1_s: float, *, include_edges: bool = False
    ) -> list[Sample]:
        """Samples with t0_s <= t_s <= t1_s (perf_counter seconds), oldest first.

        With `include_edges`, also the last sample before t0_s and the first after t1_s, so a
        caller can hold or interpolate values up to the window's edges.
        """
        with self._lock:
            lo = bisect.bisect_left(self._times, t0_s)
            hi = bisect.bisect_right(self._times, t1_s)
            if include_edges:
                lo, hi = max(lo - 1, 0), min(hi + 1, len(self._times))
            return [item.sample for item in self._samples[lo:hi]]

    def _run(self) -> None:
        interval_s = self.interval_s or DEFAULT_INTERVAL_S
        next_t = time.perf_counter()
        while True:
            self._take()
            next_t += interval_s
            delay_s = next_t - time.perf_counter()
            if delay_s < 0:  # a slow read: skip the missed ticks instead of bursting
                next_t = time.perf_counter()
                delay_s = 0.0
            if self._stop.wait(delay_s):
                return

    def _take(self) -> Sample | None:
        try:
            sample = self.meter.read_sample()
        except Exception as err:  # the sampler outlives any one failed read
            self.failed_reads += 1
            self.last_error = f"{type(err).__name__}: {err}"
            return None
        item = LabelledSample(self._label, sample)
        with self._lock:
            at = bisect.bisect_right(self._times, sample.t_s)
            self._times.insert(at, sample.t_s)
            self._samples.insert(at, item)
            self._pending.append(item)
        return sample
