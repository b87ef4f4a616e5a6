"""Reading run folders back (the writer is harness/results/store.py): run.json and measurements.csv."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import BadInput, RunFolderError
from harness.results.schema import (
    BOOL_COLUMN_NAMES,
    COLUMN_BY_NAME,
    MEASUREMENT_COLUMNS,
    NUMBER_COLUMN_NAMES,
    ORDERED_COLUMNS,
    STATUSES,
    TEXT_COLUMN_NAMES,
)
from harness.slo import parse_slo, row_meets

if TYPE_CHECKING:
    import pandas as pd

Locate = Callable[[Any], str]
"""Names a row of a table by its index in error lines: "FILE: line N", "FILE: level K"."""

TEXT_COLUMNS: tuple[str, ...] = TEXT_COLUMN_NAMES
"""Read as text even when every value looks like a number (or every cell is empty)."""

REQUIRED_COLUMNS: tuple[str, ...] = ("run_id", "workload", "batch_size", "status", "wall_s_p50")

NUMERIC_COLUMNS: tuple[str, ...] = tuple(
    c for c in MEASUREMENT_COLUMNS if c in NUMBER_COLUMN_NAMES and c != "batch_size"
)
"""Contract columns that hold a number in their declared range or nothing."""

_TRUE = frozenset({"true", "1", "1.0"})
_FALSE = frozenset({"false", "0", "0.0"})

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
            dtype={c: str for c in (*TEXT_COLUMNS, *BOOL_COLUMN_NAMES)},
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
    check_frame(frame, _lines_of(csv_path), str(meta["run_id"]))
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


def _lines_of(csv_path: Path) -> Locate:
    return lambda index: f"{csv_path}: line {int(index) + 2}"  # the header is line 1


def check_frame(frame: pd.DataFrame, where: Locate, run_id: str | None = None) -> None:
    """Every check a measurements table passes before anything is priced from it: declared
    types and ranges, true/false columns, ordered pairs, statuses and ok rows, and SLO verdicts.
    `where(index)` names a row in error lines ("FILE: line N"). Turns columns into their types."""
    _check_numbers(frame, where)
    _check_flags(frame, where)
    _check_order(frame, where)
    _check_rows(frame, where, run_id)
    _check_slo_verdicts(frame, where)


def check_rows(rows: Sequence[Mapping[str, Any]], where: Locate) -> None:
    """`check_frame` on rows about to be written (an import): what `price` would refuse to read
    back is refused before a run folder is made."""
    import pandas as pd

    frame = pd.DataFrame([dict(r) for r in rows]).replace({None: float("nan")})
    for column in frame.columns:
        if column in TEXT_COLUMNS or column in BOOL_COLUMN_NAMES:
            frame[column] = frame[column].map(lambda v: v if isinstance(v, str) or pd.isna(v)
                                              else str(v))  # fmt: skip
    for column in MEASUREMENT_COLUMNS:
        if column not in frame.columns:
            frame[column] = float("nan")
    frame["run_id"] = "(new)"  # the store gives the run its id
    check_frame(frame, where, "(new)")


def _check_rows(frame: pd.DataFrame, where: Locate, run_id: str | None) -> None:
    """Statuses, run ids, duplicates, and what an ok row must hold to be priced: a finite,
    positive wall time, finite unit counts and energy, and phases no longer than the wall."""
    import pandas as pd

    def fail(mask: pd.Series, column: str, problem: str) -> None:
        raise RunFolderError(f"{where(mask.idxmax())}, column {column}: {problem}")

    for column in ("run_id", "workload", "status"):
        empty = frame[column].isna() | (frame[column].astype(str).str.strip() == "")
        if empty.any():
            fail(empty, column, "empty")
    unknown = ~frame["status"].isin(STATUSES)
    if unknown.any():
        value = str(frame.loc[unknown.idxmax(), "status"])[:40]
        fail(unknown, "status", f"unknown status {value!r} (statuses: {', '.join(STATUSES)})")
    other = frame["run_id"] != run_id if run_id is not None else frame["run_id"].isna()
    if other.any():
        value = str(frame.loc[other.idxmax(), "run_id"])[:40]
        fail(other, "run_id", f"{value!r} is not this run ({run_id!r} in run.json)")
    key = [c for c in ROW_KEY if c in frame.columns]
    duplicated = frame.duplicated(key, keep="first")
    if duplicated.any():
        fail(duplicated, "batch_size", "the same row again (same workload, settings, batch)")
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


def _shown(value: Any) -> str:
    import pandas as pd

    if isinstance(value, str):
        return repr(value[:40])
    if pd.isna(value):
        return "(empty)"
    return f"{float(value):g}"


def _fail_at(where: Locate, index: Any, column: str, value: Any, expected: str) -> None:
    raise RunFolderError(f"{where(index)}: {column} {_shown(value)} is not {expected}")


def _check_numbers(frame: pd.DataFrame, where: Locate) -> None:
    """Turn every declared number column present numeric, each value finite and inside the
    range `harness/results/schema.py` declares; RunFolderError naming line, column and value.
    Not-a-number spelled out ("nan") is refused like any other text: empty means not measured."""
    import pandas as pd

    present = [c for c in NUMBER_COLUMN_NAMES if c in frame.columns]
    for name in ("batch_size", *[c for c in present if c != "batch_size"]):
        column = COLUMN_BY_NAME[name]
        raw = frame[name]
        numbers = pd.to_numeric(raw, errors="coerce")
        checks = (
            (raw.notna() & numbers.isna(), "a number"),
            (numbers.isin([math.inf, -math.inf]), "a finite number"),
            (_outside(numbers, column), column.range_text()),
        )
        for bad, expected in checks:
            if bad.any():
                index = bad.idxmax()
                _fail_at(where, index, name, raw[index], expected)
        frame[name] = numbers.astype(float)
    sizes = frame["batch_size"]
    if sizes.isna().any():
        index = sizes.isna().idxmax()
        _fail_at(where, index, "batch_size", sizes[index], "a whole number >= 1")
    frame["batch_size"] = sizes.astype(int)


def _outside(numbers: pd.Series, column: Any) -> pd.Series:
    """Values (not empty) outside the column's declared range, or not whole for an "int"."""
    known = numbers.notna() & numbers.abs().lt(math.inf)
    bad = known & False
    if column.low is not None:
        bad |= known & ((numbers <= column.low) if column.low_open else (numbers < column.low))
    if column.high is not None:
        bad |= known & (numbers > column.high)
    if column.kind == "int":
        bad |= known & (numbers != numbers.round())
    return bad


def _check_flags(frame: pd.DataFrame, where: Locate) -> None:
    """Every declared true/false column holds true, false (1, 0) or nothing; read as bools."""
    for name in BOOL_COLUMN_NAMES:
        if name not in frame.columns:
            continue
        raw = frame[name]
        flags = raw.astype(str).str.strip().str.lower()
        known = raw.isna() | flags.isin(_TRUE | _FALSE)
        if not known.all():
            index = (~known).idxmax()
            _fail_at(where, index, name, raw[index], "true, false or empty")
        frame[name] = flags.isin(_TRUE).astype(object).where(raw.notna())


def _check_order(frame: pd.DataFrame, where: Locate) -> None:
    """A lower percentile above a higher one of the same series, or an interval's low end above
    its high end, is a tampered or broken row: nothing can be priced from it."""
    for low, high in ORDERED_COLUMNS:
        if low not in frame.columns or high not in frame.columns:
            continue
        a, b = frame[low], frame[high]
        # Written rounded: allow the last printed digit.
        reversed_ = a.notna() & b.notna() & (a > b * (1 + 1e-9) + 1e-12)
        if reversed_.any():
            index = reversed_.idxmax()
            raise RunFolderError(
                f"{where(index)}: {low} {_shown(a[index])} is above "
                f"{high} {_shown(b[index])}"
            )


def _check_slo_verdicts(frame: pd.DataFrame, where: Locate) -> None:
    """A row that says it met its own SLO while its own percentiles or error rate miss it
    contradicts itself (its verdict is what `compare --slo` would trust)."""
    if "slo" not in frame.columns or "slo_met" not in frame.columns:
        return
    said_met = frame["slo_met"].eq(True) & frame["slo"].notna()
    for index in frame.index[said_met]:
        text = str(frame.at[index, "slo"])
        try:
            slo = parse_slo(text, where="slo")
        except BadInput as err:
            raise RunFolderError(f"{where(index)}: slo: {err}") from None
        row = frame.loc[index].to_dict()
        if row_meets(slo, row) is False:
            raise RunFolderError(
                f"{where(index)}: slo_met true, but the row's own "
                f"latencies or error rate miss its SLO {text!r}"
            )


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
