"""`gpucost sweep collect`: every finished run folder back on this machine, keeping what finished
when others failed."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from harness.errors import BadInput
from harness.sweep.plan import SweepPlan
from harness.sweep.sky_api import SkyApi
from harness.sweep.state import SweepState


@dataclass(frozen=True)
class Collected:
    name: str
    run_dirs: list[Path]
    problem: str | None


def _run_folders(folder: Path) -> list[Path]:
    """Run folders whose run has ended (complete, interrupted or failed: rows kept either way)."""
    found = []
    for path in sorted(p for p in folder.iterdir() if (p / "run.json").is_file()):
        try:
            status = json.loads((path / "run.json").read_text(encoding="utf-8")).get("status")
        except (OSError, ValueError, AttributeError):
            continue
        if status != "running":
            found.append(path)
    return found


def collect_sweep(plan: SweepPlan, plan_dir: Path, out_dir: Path, api: SkyApi | None,
                  bucket_copy: Path | None = None) -> list[Collected]:
    """Bring results into `out_dir/<entry>/<run_id>/`.

    Without a bucket they come from each cluster (rsync through SkyPilot's SSH entries); with one,
    from `bucket_copy`, a local copy of the bucket (e.g. `aws s3 sync s3://b/prefix DIR`).
    """
    if plan.bucket and bucket_copy is None:
        raise BadInput(f"--from: results are in {plan.bucket}; copy it here and give the folder")
    state = SweepState(plan_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    collected = []
    for entry in plan.entries:
        record = state.get(entry.name)
        target = out_dir / entry.name
        if record.get("status") != "LAUNCHED":
            collected.append(Collected(entry.name, [], record.get("error") or "not launched"))
            continue
        try:
            if bucket_copy is not None:
                source = bucket_copy / entry.name
                if not source.is_dir():
                    raise FileNotFoundError(f"no {entry.name}/ in {bucket_copy}")
                shutil.copytree(source, target, dirs_exist_ok=True)
            else:
                assert api is not None
                api.rsync_down(entry.name, entry.results_path, target)
        except Exception as err:
            collected.append(Collected(entry.name, [], f"{type(err).__name__}: {err}"))
            continue
        runs = _run_folders(target) if target.is_dir() else []
        collected.append(Collected(entry.name, runs, None if runs else "no run folder yet"))
        state.update(entry.name, collected=[str(r) for r in runs])
    return collected
