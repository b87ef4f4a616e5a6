"""Reading run folders back (the writer is harness/results/store.py): run.json and measurements.csv."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import RunFolderError
from harness.results.schema import (
    MEASUREMENT_COLUMNS,
    NUMBER_COLUMN_NAMES,
    STATUSES,
    TEXT_COLUMN_NAMES,
)

if TYPE_CHECKING:
    import pandas as pd

TEXT_COLUMNS: tuple[str, ...] = TEXT_COLUMN_NAMES
"""Read as text even when every value looks like a number (or every cell is empty)."""

REQUIRED_COLUMNS: tuple[str, ...] = ("run_id", "workload", "batch_size", "status", "wall_s_p50")

NUMERIC_COLUMNS: tuple[str, ...] = tuple(
    c for c in MEASUREMENT_COLUMNS if c in NUMBER_COLUMN_NAMES and c != "batch_size"
)
"""Contract columns that hold a non-negative number or nothing."""

ROW_KEY: tuple[str, ...] = (
    "run_id", "workload", "preset", "model", "dtype", "engine", "settings", "batch_size",
    "concurrency", "request_rate",
)  # fmt: skip
"""Columns that tell two measurement rows apart: the same key twice is the same row twice."""

META_MAPPINGS: tuple[str, ...] = ("host", "device", "config", "libraries", "calibration")
"""run.json fields that are a mapping when present."""

PHASE_TOLERANCE = 1.05
"""A phase's median may exceed the wall median by this factor (medians of separate series)."""


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
    meta = _read_meta(meta_path)
    csv_path = folder / "measurements.csv"
    if not csv_path.is_file():
        raise RunFolderError(f"{folder}: no measurements.csv")
    _check_shape(csv_path)
    try:
        frame = pd.read_csv(
            csv_path,
            dtype={c: str for c in (*TEXT_COLUMNS, "unstable")},
            keep_default_na=False,
            na_values=[""],
        )
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
    _check_rows(frame, csv_path, str(meta["run_id"]))
    record = RunRecord(path=folder, run_id=str(meta["run_id"]), meta=meta, measurements=frame)
    # Rows written before the power limit was recorded per row take the run's device limit.
    limit = device_power_limit_w(record)
    if "power_limit_w" not in frame.columns:
        frame["power_limit_w"] = float("nan")
    frame["power_limit_w"] = pd.to_numeric(frame["power_limit_w"], errors="coerce")
    if limit is not None:
        frame["power_limit_w"] = frame["power_limit_w"].fillna(limit)
    return record


def _read_meta(meta_path: Path) -> dict[str, Any]:
    """run.json as a dict with a text run_id and mappings where mappings belong."""
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunFolderError(f"{meta_path}: not valid JSON ({err})") from None
    except RecursionError:
        raise RunFolderError(f"{meta_path}: not valid JSON (nested too deeply)") from None
    if not isinstance(meta, dict) or not meta.get("run_id"):
        raise RunFolderError(f"{meta_path}: not a gpucost run (no run_id)")
    if not isinstance(meta["run_id"], str):
        raise RunFolderError(f"{meta_path}: run_id must be a text (got {_kind(meta['run_id'])})")
    for name in META_MAPPINGS:
        if meta.get(name) is not None and not isinstance(meta[name], dict):
            raise RunFolderError(
                f"{meta_path}: {name} must be a mapping of fields (got {_kind(meta[name])})"
            )
    return meta


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a text", bool: "true/false"}.get(
        type(value), type(value).__name__
    )


def _check_shape(csv_path: Path) -> None:
    """Every record has as many fields as the header: a short last record is a truncated
    write (pandas would read the missing cells as empty and the row would look measured)."""
    try:
        with csv_path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                return
            for record in reader:
                if len(record) != len(header) and record:
                    what = "truncated" if len(record) < len(header) else "too many fields"
                    raise RunFolderError(
                        f"{csv_path}: line {reader.line_num}: {what} "
                        f"({len(record)} fields, the header has {len(header)})"
                    )
    except (UnicodeDecodeError, csv.Error) as err:
        raise RunFolderError(f"{csv_path}: not a measurements table ({err})") from None


def _check_rows(frame: pd.DataFrame, csv_path: Path, run_id: str) -> None:
    """Statuses, run ids, duplicates, and what an ok row must hold to be priced: a finite,
    positive wall time, finite unit counts and energy, and phases no longer than the wall."""
    import pandas as pd

    def fail(mask: pd.Series, column: str, problem: str) -> None:
        index = mask.idxmax()
        line = int(index) + 2
        raise RunFolderError(f"{csv_path}: line {line}, column {column}: {problem}")

    for column in ("run_id", "workload", "status"):
        empty = frame[column].isna() | (frame[column].astype(str).str.strip() == "")
        if empty.any():
            fail(empty, column, "empty")
    unknown = ~frame["status"].isin(STATUSES)
    if unknown.any():
        value = str(frame.loc[unknown.idxmax(), "status"])[:40]
        fail(unknown, "status", f"unknown status {value!r} (statuses: {', '.join(STATUSES)})")
    other = frame["run_id"] != run_id
    if other.any():
        value = str(frame.loc[other.idxmax(), "run_id"])[:40]
        fail(other, "run_id", f"{value!r} is not this run ({run_id!r} in run.json)")
    key = [c for c in ROW_KEY if c in frame.columns]
    duplicated = frame.duplicated(key, keep="first")
    if duplicated.any():
        fail(duplicated, "batch_size", "the same row again (same workload, settings, batch)")
    if "unstable" in frame.columns:
        flags = frame["unstable"].astype(str).str.strip().str.lower()
        known = frame["unstable"].isna() | flags.isin(["true", "false", "1", "0"])
        if not known.all():
            fail(~known, "unstable", "must be true, false or empty")
        frame["unstable"] = flags.isin(["true", "1"]).where(frame["unstable"].notna())
    ok = frame["status"] == "ok"
    wall = frame["wall_s_p50"]
    bad_wall = ok & ~(wall > 0)
    if bad_wall.any():
        fail(bad_wall, "wall_s_p50", "an ok row needs a wall time > 0")
    longest = wall * PHASE_TOLERANCE
    if "wall_s_p99" in frame.columns:
        longest = pd.concat([longest, frame["wall_s_p99"]], axis=1).max(axis=1)
    phases = [c for c in frame.columns if c.endswith("_s_p50") and c not in ("wall_s_p50", "gpu_s_p50")]
    for column in dict.fromkeys(phases):
        longer = ok & (pd.to_numeric(frame[column], errors="coerce") > longest)
        if longer.any():
            fail(longer, column, "a phase longer than the wall time of its iteration")


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
        infinite = numbers.isin([math.inf, -math.inf])
        if infinite.any():
            index = infinite.idxmax()
            fail(index, column, raw[index], "a finite number")
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
