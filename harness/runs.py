"""Reading run folders back (the writer is harness/store.py): run.json and measurements.csv."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import RunFolderError
from harness.schema import MEASUREMENT_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

TEXT_COLUMNS: tuple[str, ...] = (
    "run_id",
    "workload",
    "preset",
    "model",
    "device",
    "gpu_name",
    "dtype",
    "status",
    "error",
    "energy_method",
    "engine",
    "settings",
)
"""Read as text even when every value looks like a number (or every cell is empty)."""

REQUIRED_COLUMNS: tuple[str, ...] = ("run_id", "workload", "batch_size", "status", "wall_s_p50")


@dataclass(frozen=True, eq=False)
class RunRecord:
    """One run folder: its `run.json` as a dict and its measurement rows."""

    path: Path
    run_id: str
    meta: dict[str, Any]
    measurements: pd.DataFrame

    def ok_rows(self) -> pd.DataFrame:
        return self.measurements[self.measurements["status"] == "ok"]


def load_run(path: str | Path) -> RunRecord:
    """Read a run folder, or raise RunFolderError saying what is missing or wrong."""
    import pandas as pd

    folder = Path(path)
    if not folder.exists():
        raise RunFolderError(f"{folder}: no such run folder")
    if not folder.is_dir():
        raise RunFolderError(f"{folder}: not a folder (expected a run folder)")
    meta_path = folder / "run.json"
    if not meta_path.is_file():
        what = "empty folder" if not any(folder.iterdir()) else "no run.json"
        raise RunFolderError(f"{folder}: not a gpucost run ({what})")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunFolderError(f"{meta_path}: not valid JSON ({err})") from None
    if not isinstance(meta, dict) or not meta.get("run_id"):
        raise RunFolderError(f"{meta_path}: not a gpucost run (no run_id)")
    csv_path = folder / "measurements.csv"
    if not csv_path.is_file():
        raise RunFolderError(f"{folder}: no measurements.csv")
    try:
        frame = pd.read_csv(csv_path, dtype={c: str for c in TEXT_COLUMNS})
    except pd.errors.EmptyDataError:
        raise RunFolderError(f"{csv_path}: empty file (no header)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise RunFolderError(f"{csv_path}: not a measurements table ({message})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise RunFolderError(
            f"{csv_path}: not a measurements table (missing columns: {', '.join(missing)})"
        )
    for column in MEASUREMENT_COLUMNS:
        if column not in frame.columns:
            frame[column] = pd.Series(
                index=frame.index, dtype=object if column in TEXT_COLUMNS else float
            )
    return RunRecord(path=folder, run_id=str(meta["run_id"]), meta=meta, measurements=frame)


def load_runs(paths: Iterable[str | Path]) -> list[RunRecord]:
    return [load_run(p) for p in paths]


def device_power_limit_w(record: RunRecord) -> float | None:
    device = record.meta.get("device") or {}
    value = device.get("power_limit_w") if isinstance(device, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def measurements_frame(records: Iterable[RunRecord]) -> pd.DataFrame:
    """All runs' rows in one frame; a row without `power_limit_w` takes its run's device limit."""
    import pandas as pd

    frames = []
    for record in records:
        frame = record.measurements.copy()
        limit = device_power_limit_w(record)
        if "power_limit_w" not in frame.columns:
            frame["power_limit_w"] = float("nan")
        if limit is not None:
            frame["power_limit_w"] = frame["power_limit_w"].astype(float).fillna(limit)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=list(MEASUREMENT_COLUMNS))
    return pd.concat(frames, ignore_index=True)
