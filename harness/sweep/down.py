"""`gpucost sweep down`: tear down every cluster (or cancel every managed job) of a plan."""

from __future__ import annotations

from pathlib import Path

from harness.sweep.plan import SweepPlan
from harness.sweep.sky_api import SkyApi
from harness.sweep.state import SweepState


def down_sweep(plan: SweepPlan, plan_dir: Path, api: SkyApi) -> dict[str, str | None]:
    """Entry name → None when torn down, else the error; every entry is tried."""
    state = SweepState(plan_dir)
    outcome: dict[str, str | None] = {}
    for entry in plan.entries:
        record = state.get(entry.name)
        if not record:
            continue  # never launched
        # A failed launch may still have left a half-made cluster: it is torn down too.
        try:
            api.down(entry.name, bool(record.get("managed")), record.get("job_id"))
        except Exception as err:
            if type(err).__name__ != "ClusterDoesNotExist":
                outcome[entry.name] = f"{type(err).__name__}: {err}"
                continue
        state.update(entry.name, status="DOWN")
        outcome[entry.name] = None
    return outcome
