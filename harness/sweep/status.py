"""`gpucost sweep status`: each instance's launch record and what SkyPilot says of its job now."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.sweep.plan import SweepPlan
from harness.sweep.sky_api import SkyApi
from harness.sweep.state import SweepState

FINISHED_OK = "SUCCEEDED"


@dataclass(frozen=True)
class EntryStatus:
    name: str
    instance: str
    launch: str
    job: str | None
    error: str | None


def sweep_status(plan: SweepPlan, plan_dir: Path, api: SkyApi) -> list[EntryStatus]:
    state = SweepState(plan_dir)
    rows = []
    for entry in plan.entries:
        record = state.get(entry.name)
        launch = record.get("status", "NOT_LAUNCHED")
        job, error = None, record.get("error")
        job_id = record.get("job_id")
        if launch == "LAUNCHED" and job_id is not None:
            try:
                if record.get("managed"):
                    job = api.managed_status([int(job_id)]).get(int(job_id))
                else:
                    job = api.job_status(entry.name, int(job_id))
            except Exception as err:
                error = f"status unknown: {type(err).__name__}: {err}"
            if job is not None:
                state.update(entry.name, job=job)
        rows.append(EntryStatus(entry.name, entry.instance, launch, job, error))
    return rows
