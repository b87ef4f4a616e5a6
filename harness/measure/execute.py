"""One `gpucost run`: create the run folder, open the meters, run the sweep, close it all cleanly."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path

from harness.errors import MeterError
from harness.measure.environment import device_info, host_info, library_versions
from harness.measure.plan import RunConfig
from harness.measure.runner import Progress, SilentProgress, Sweep
from harness.measure.stopsignals import signals_interrupt
from harness.meters import GpuMeter, NullMeter, open_meter
from harness.meters.monitor import EnergyMonitor
from harness.meters.sampler import Sampler
from harness.results.store import RunStore, StoreWriteError


def execute_run(
    config: RunConfig,
    out: Path,
    command: Sequence[str] = (),
    progress: Progress | None = None,
    meter: GpuMeter | None = None,
    on_created: Callable[[RunStore], None] | None = None,
) -> RunStore:
    """Run the sweep into a new folder under `out`. Raises KeyboardInterrupt (Interrupted for
    SIGTERM/SIGHUP) after marking the run `interrupted`, and StoreWriteError when a file cannot
    be written; the rows measured so far stay on disk either way. `on_created` is told the
    store as soon as its folder exists."""
    with signals_interrupt():
        store = RunStore.start(out, command, {"config": config.as_dict()})
        if on_created is not None:
            on_created(store)
        try:
            _sweep_into(store, config, meter, progress or SilentProgress())
        except KeyboardInterrupt as err:
            store.close_meta("interrupted", getattr(err, "signum", None))
            raise
        except BaseException:
            store.close_meta("failed", None)
            raise
        store.complete()
    return store


def _sweep_into(
    store: RunStore, config: RunConfig, meter: GpuMeter | None, progress: Progress
) -> None:
    if meter is None:
        meter = open_meter(config.device, device_uuid=_cuda_uuid(config.device))
    try:
        try:
            info = meter.info
        except MeterError as err:
            # A driver that cannot even name the device: measure without it, and say why.
            meter.close()
            meter = NullMeter(reason=str(err))
            info = None
        store.update_meta(
            host=host_info(),
            device=device_info(config.device, info),
            libraries=library_versions(),
            workloads={},
            idle_power_w=None,
            calibration=None,
        )
        sampler = Sampler(meter, interval_s=config.sample_interval_s)
        monitor = EnergyMonitor(meter, sampler)
        sweep = Sweep(
            config=config,
            store=store,
            meter=meter,
            monitor=monitor,
            sampler=sampler,
            progress=progress,
            gpu_name=info.name if info else None,
            started_perf_s=time.perf_counter(),
        )
        try:
            with sampler:
                if info is not None:
                    sweep.idle_power_w = monitor.measure_idle_power_w(config.idle_power_s)
                    store.update_meta(idle_power_w=sweep.idle_power_w)
                sweep.run()
        except BaseException:
            # The cause goes on; samples that cannot be written then must not replace it.
            with suppress(StoreWriteError):
                sweep.flush_samples()
            raise
        # With the sampler stopped: the samples after the last batch size (teardown).
        sweep.flush_samples()
    finally:
        meter.close()


def _cuda_uuid(device: str) -> str | None:
    """The GPU's UUID as torch sees it: NVML and CUDA may number devices differently."""
    if not device.startswith("cuda"):
        return None
    import torch

    uuid = getattr(torch.cuda.get_device_properties(torch.device(device)), "uuid", None)
    return str(uuid) if uuid else None
