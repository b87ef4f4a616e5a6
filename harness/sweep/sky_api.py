"""The only place gpucost touches SkyPilot: the few SDK calls a sweep needs.

SkyPilot 0.14's SDK is asynchronous: `sky.launch`, `sky.jobs.launch`, `sky.job_status`, `sky.down`
return a request id and `sky.get(request_id)` waits for its result (or raises the error).
Results of a cluster run come back with rsync over the SSH host entry SkyPilot writes for each
cluster.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from harness.sweep import SweepUnavailable


def import_sky() -> Any:
    try:
        import sky
    except ImportError:
        raise SweepUnavailable() from None
    return sky


class SkyApi:
    """Thin wrapper over the SDK calls; a test replaces `sky` with a fake of the same calls."""

    def __init__(self, sky: Any | None = None) -> None:
        self.sky = sky if sky is not None else import_sky()

    def load_task(self, path: Path) -> Any:
        return self.sky.Task.from_yaml(str(path))

    def launch(self, task: Any, name: str, managed: bool) -> Any:
        """Start a launch; returns the request id."""
        if managed:
            return self.sky.jobs.launch(task, name=name)
        return self.sky.launch(task, cluster_name=name, down=False)

    def get(self, request_id: Any) -> Any:
        return self.sky.get(request_id)

    def job_status(self, name: str, job_id: int) -> str | None:
        statuses = self.get(self.sky.job_status(name, job_ids=[job_id]))
        value = (statuses or {}).get(job_id)
        return None if value is None else _state(value)

    def managed_status(self, job_ids: list[int]) -> dict[int, str]:
        records = self.get(self.sky.jobs.queue(refresh=False, job_ids=job_ids))
        return {int(_field(r, "job_id")): _state(_field(r, "status")) for r in records}

    def down(self, name: str, managed: bool, job_id: int | None) -> None:
        if managed:
            if job_id is not None:
                self.get(self.sky.jobs.cancel(job_ids=[job_id]))
            return
        self.get(self.sky.down(name))

    def rsync_down(self, cluster: str, remote: str, local: Path) -> None:
        local.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            ["rsync", "-a", f"{cluster}:{remote.rstrip('/')}/", f"{local}/"],
            capture_output=True, text=True, timeout=3600,
        )
        if proc.returncode != 0:
            lines = (proc.stderr or proc.stdout or "rsync failed").strip().splitlines()
            raise RuntimeError(lines[-1] if lines else "rsync failed")


def make_api() -> SkyApi:
    """The SkyApi the commands use (SkyPilot imported now, or SweepUnavailable)."""
    return SkyApi()


def _field(record: Any, name: str) -> Any:
    return record[name] if isinstance(record, dict) else getattr(record, name)


def _state(value: Any) -> str:
    """An enum member (ClusterStatus.UP, JobStatus.SUCCEEDED) or a string, as its name."""
    return str(getattr(value, "name", value)).rsplit(".", 1)[-1]
