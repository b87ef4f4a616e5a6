"""One `gpucost run`: create the run folder, open the meters, run the sweep, close it all cleanly."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from harness import __version__
from harness.environment import device_info, host_info, library_versions
from harness.errors import MeterError
from harness.meters import GpuMeter, NullMeter, open_meter
from harness.meters.monitor import EnergyMonitor
from harness.meters.sampler import Sampler
from harness.plan import RunConfig
from harness.runner import Progress, SilentProgress, Sweep
from harness.store import RunStore


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def execute_run(
    config: RunConfig,
    out: Path,
    command: Sequence[str] = (),
    progress: Progress | None = None,
    meter: GpuMeter | None = None,
) -> RunStore:
    """Run the sweep into a new folder under `out`. Raises KeyboardInterrupt after marking the
    run `interrupted`; the rows measured so far stay on disk either way."""
    store = RunStore.create(out)
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
        store.write_meta(
            {
                "run_id": store.run_id,
                "created_at": _now(),
                "finished_at": None,
                "status": "running",
                "gpucost_version": __version__,
                "command": list(command),
                "host": host_info(),
                "device": device_info(config.device, info),
                "libraries": library_versions(),
                "config": config.as_dict(),
                "workloads": {},
                "idle_power_w": None,
                "calibration": None,
            }
        )
        sampler = Sampler(meter, interval_s=config.sample_interval_s)
        monitor = EnergyMonitor(meter, sampler)
        sweep = Sweep(
            config=config,
            store=store,
            meter=meter,
            monitor=monitor,
            sampler=sampler,
            progress=progress or SilentProgress(),
            gpu_name=info.name if info else None,
            started_perf_s=time.perf_counter(),
        )
        try:
            with sampler:
                try:
                    if info is not None:
                        sweep.idle_power_w = monitor.measure_idle_power_w(config.idle_power_s)
                        store.update_meta(idle_power_w=sweep.idle_power_w)
                    sweep.run()
                except KeyboardInterrupt:
                    store.update_meta(status="interrupted", finished_at=_now())
                    raise
                except BaseException:
                    store.update_meta(status="failed", finished_at=_now())
                    raise
        finally:
            # With the sampler stopped: the samples after the last batch size (teardown).
            sweep.flush_samples()
        store.update_meta(status="complete", finished_at=_now())
    finally:
        meter.close()
    return store


def _cuda_uuid(device: str) -> str | None:
    """The GPU's UUID as torch sees it: NVML and CUDA may number devices differently."""
    if not device.startswith("cuda"):
        return None
    import torch

    uuid = getattr(torch.cuda.get_device_properties(torch.device(device)), "uuid", None)
    return str(uuid) if uuid else None
