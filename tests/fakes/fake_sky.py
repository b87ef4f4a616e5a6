"""A stand-in for the SkyPilot SDK calls gpucost makes, with SkyPilot 0.14's shapes.

`launch`, `jobs.launch`, `status`, `job_status`, `down`, `jobs.queue`, `jobs.cancel` return a
request id (a string) at once; `get(request_id)` returns the request's result or raises the
error the request ended with, as `sky.get` does. `Task.from_yaml` reads the file. Clusters
"run" by writing a run folder into a folder that stands for the cluster's disk; `rsync_down`
of a FakeSkyApi copies from there.
"""

from __future__ import annotations

import enum
import itertools
import shutil
import threading
from pathlib import Path
from typing import Any

import yaml

from harness.sweep.sky_api import SkyApi


class ClusterStatus(enum.Enum):
    INIT = "INIT"
    UP = "UP"
    STOPPED = "STOPPED"


class JobStatus(enum.Enum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class ResourcesUnavailableError(Exception):
    """SkyPilot's error when no region has capacity (or quota) for the resources."""


class ClusterDoesNotExist(ValueError):
    pass


class Task:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.name = config.get("name")

    @classmethod
    def from_yaml(cls, path: str) -> Task:
        with open(path, encoding="utf-8") as fh:
            return cls(yaml.safe_load(fh))


class _Jobs:
    def __init__(self, sky: FakeSky) -> None:
        self.sky = sky

    def launch(self, task: Task, name: str | None = None, **_: Any) -> str:
        return self.sky._request(lambda: self.sky._start(task, name, managed=True))

    def queue(self, refresh: bool, skip_finished: bool = False, all_users: bool = False,
              job_ids: list[int] | None = None) -> str:
        def records() -> list[dict[str, Any]]:
            return [{"job_id": j, "job_name": n, "status": JobStatus.SUCCEEDED}
                    for n, j in self.sky.jobs_by_name.items() if job_ids is None or j in job_ids]
        return self.sky._request(records)

    def cancel(self, name: str | None = None, job_ids: list[int] | None = None, **_: Any) -> str:
        def cancel() -> None:
            for job_id in job_ids or []:
                self.sky.cancelled.append(job_id)
        return self.sky._request(cancel)


class FakeSky:
    """The module-level functions of `sky` that gpucost calls."""

    def __init__(self, disks: Path, fail: dict[str, Exception] | None = None) -> None:
        self.disks = disks
        self.fail = fail or {}
        self.Task = Task
        self.jobs = _Jobs(self)
        self.clusters: dict[str, ClusterStatus] = {}
        self.jobs_by_name: dict[str, int] = {}
        self.cancelled: list[int] = []
        self.launched_tasks: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._requests: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _request(self, work: Any) -> str:
        request_id = f"req-{next(self._ids):04d}"
        self._requests[request_id] = work
        return request_id

    def get(self, request_id: str) -> Any:
        work = self._requests.pop(request_id)  # a request's result is fetched once
        return work()

    def _start(self, task: Task, name: str | None, managed: bool) -> Any:
        assert name, "gpucost names every cluster and job"
        if name in self.fail:
            raise self.fail[name]
        with self._lock:
            self.launched_tasks.append(task.config)
            job_id = len(self.jobs_by_name) + 1
            self.jobs_by_name[name] = job_id
            if not managed:
                self.clusters[name] = ClusterStatus.UP
        where = task.config["envs"]["GPUCOST_RESULTS"]
        if where.startswith("/"):  # inside the bucket's mount point
            mount = next(iter(task.config["file_mounts"]))
            results = self.disks / "bucket" / where.removeprefix(mount).strip("/")
        else:  # relative to the cluster's home folder
            results = self.disks / name / where
        _write_run(results, name)
        return ([job_id], None) if managed else (job_id, object())

    def launch(self, task: Task, cluster_name: str | None = None, **_: Any) -> str:
        return self._request(lambda: self._start(task, cluster_name, managed=False))

    def status(self, cluster_names: list[str] | None = None, **_: Any) -> str:
        return self._request(lambda: [{"name": n, "status": s} for n, s in self.clusters.items()
                                      if cluster_names is None or n in cluster_names])

    def job_status(self, cluster_name: str, job_ids: list[int] | None = None) -> str:
        def statuses() -> dict[int, JobStatus]:
            if cluster_name not in self.clusters:
                raise ClusterDoesNotExist(cluster_name)
            return {j: JobStatus.SUCCEEDED for j in job_ids or []}
        return self._request(statuses)

    def down(self, cluster_name: str, purge: bool = False) -> str:
        def down() -> None:
            if cluster_name not in self.clusters:
                raise ClusterDoesNotExist(f"Cluster {cluster_name!r} does not exist.")
            del self.clusters[cluster_name]
        return self._request(down)


def _write_run(parent: Path, name: str) -> None:
    from tests.helpers_runs import text_row, write_run

    gpu = "NVIDIA H100 PCIe" if "h100" in name else "NVIDIA L40S"
    write_run(parent, [text_row(8, 2.0, gpu_name=gpu)], run_id=f"20261201T000000Z-{name[-6:]}",
              gpu_name=gpu)


class FakeSkyApi(SkyApi):
    """SkyApi over FakeSky; rsync comes from the folder standing for each cluster's disk."""

    def rsync_down(self, cluster: str, remote: str, local: Path) -> None:
        source = self.sky.disks / cluster / remote.removeprefix("~/")
        if cluster not in self.sky.clusters or not source.is_dir():
            raise RuntimeError(f"rsync: {cluster}: no such host")
        shutil.copytree(source, local, dirs_exist_ok=True)
