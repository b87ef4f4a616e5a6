"""`gpucost fleet down`: tear down every cluster (or cancel every managed job) of a plan."""

from __future__ import annotations

from pathlib import Path

from harness.fleet.plan import FleetPlan
from harness.fleet.sky_api import SkyApi
from harness.fleet.state import FleetState


def down_fleet(plan: FleetPlan, plan_dir: Path, api: SkyApi) -> dict[str, str | None]:
    """Entry name → None when torn down, else the error; every entry is tried."""
    state = FleetState(plan_dir)
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
