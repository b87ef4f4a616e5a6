"""`gpucost sweep launch`: every task of a plan through SkyPilot, in parallel; one failing
(no quota, no capacity) is recorded for its instance and the others go on."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness.sweep.plan import SweepEntry, SweepPlan
from harness.sweep.sky_api import SkyApi
from harness.sweep.state import SweepState

Progress = Callable[[str, str, str], None]
"""Called with (entry name, status, detail) as each launch moves on."""


def estimate_lines(plan: SweepPlan) -> list[str]:
    """What the sweep is expected to cost: instance price × expected hours, per instance."""
    lines = [
        f"{e.instance:<40} {e.plan:<9} ${e.price_per_hour_usd:,.2f}/h × {plan.expected_hours:g} h"
        f" = ${e.price_per_hour_usd * plan.expected_hours:,.2f}"
        for e in plan.entries
    ]
    lines.append(f"estimated sweep cost: ${plan.estimated_cost_usd():,.2f} "
                 f"({len(plan.entries)} instances, {plan.expected_hours:g} h each)")
    return lines


def launch_sweep(plan: SweepPlan, plan_dir: Path, api: SkyApi, *, parallel: int = 8,
                 progress: Progress | None = None) -> SweepState:
    state = SweepState(plan_dir)
    report = progress or (lambda *_: None)

    def one(entry: SweepEntry) -> None:
        state.update(entry.name, status="LAUNCHING", managed=plan.managed, error=None)
        report(entry.name, "LAUNCHING", entry.instance)
        try:
            task = api.load_task(plan_dir / entry.task_file)
            job_id, _ = api.get(api.launch(task, entry.name, plan.managed))
        except Exception as err:  # a vendor error of any kind belongs to this instance only
            message = f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}"
            state.update(entry.name, status="FAILED_LAUNCH", error=message)
            report(entry.name, "FAILED_LAUNCH", message)
            return
        if isinstance(job_id, list):  # managed jobs answer a list of job ids
            job_id = job_id[0] if job_id else None
        state.update(entry.name, status="LAUNCHED", job_id=job_id)
        report(entry.name, "LAUNCHED", f"job {job_id}")

    # Launching again retries what failed; what was launched already is left alone.
    todo = [e for e in plan.entries if state.get(e.name).get("status") != "LAUNCHED"]
    for entry in plan.entries:
        if entry not in todo:
            report(entry.name, "LAUNCHED", "already launched")
    if todo:
        with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(todo)))) as pool:
            list(pool.map(one, todo))
    return state
