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

NUMERIC_COLUMNS: tuple[str, ...] = tuple(
    c for c in MEASUREMENT_COLUMNS if c not in TEXT_COLUMNS and c not in ("batch_size", "throttled")
)
"""Contract columns that hold a non-negative number or nothing."""


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
    _check_numbers(frame, csv_path)
    record = RunRecord(path=folder, run_id=str(meta["run_id"]), meta=meta, measurements=frame)
    # Rows written before the power limit was recorded per row take the run's device limit.
    limit = device_power_limit_w(record)
    if "power_limit_w" not in frame.columns:
        frame["power_limit_w"] = float("nan")
    frame["power_limit_w"] = pd.to_numeric(frame["power_limit_w"], errors="coerce")
    if limit is not None:
        frame["power_limit_w"] = frame["power_limit_w"].fillna(limit)
    return record


def _check_numbers(frame: pd.DataFrame, csv_path: Path) -> None:
    """Turn number columns numeric; RunFolderError naming line and column for a bad value."""
    import pandas as pd

    def fail(index: Any, column: str, value: Any, expected: str) -> None:
        line = int(index) + 2  # the header is line 1
        if isinstance(value, str):
            shown = repr(value)
        elif pd.isna(value):
            shown = "(empty)"
        else:
            shown = f"{float(value):g}"
        raise RunFolderError(f"{csv_path}: line {line}: {column} {shown} is not {expected}")

    for column in ("batch_size", *NUMERIC_COLUMNS):
        raw = frame[column]
        numbers = pd.to_numeric(raw, errors="coerce")
        bad = raw.notna() & numbers.isna()
        if bad.any():
            index = bad.idxmax()
            fail(index, column, raw[index], "a number")
        negative = numbers < 0
        if negative.any():
            index = negative.idxmax()
            fail(index, column, raw[index], "a number >= 0")
        frame[column] = numbers.astype(float)
    sizes = frame["batch_size"]
    whole = sizes.notna() & (sizes >= 1) & (sizes == sizes.round())
    if not whole.all():
        index = (~whole).idxmax()
        fail(index, "batch_size", sizes[index], "a whole number >= 1")
    frame["batch_size"] = sizes.astype(int)


def load_runs(paths: Iterable[str | Path]) -> list[RunRecord]:
    return [load_run(p) for p in paths]


def device_power_limit_w(record: RunRecord) -> float | None:
    device = record.meta.get("device") or {}
    value = device.get("power_limit_w") if isinstance(device, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def measurements_frame(records: Iterable[RunRecord]) -> pd.DataFrame:
    """All runs' rows in one frame (each run once, even when given twice)."""
    import pandas as pd

    seen: set[str] = set()
    frames = []
    for record in records:
        if record.run_id in seen:
            continue
        seen.add(record.run_id)
        frames.append(record.measurements)
    if not frames:
        return pd.DataFrame(columns=list(MEASUREMENT_COLUMNS))
    return pd.concat(frames, ignore_index=True)
