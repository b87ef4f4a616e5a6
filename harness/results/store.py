"""Run folders: one new folder per run, files replaced atomically, nothing ever overwritten.

`measurements.csv` and `iterations.csv` are rewritten whole (temp file + rename) after each batch
size, so a reader never sees half a row and columns can grow as workloads add phase columns.
`samples.csv` has fixed columns and only grows, so it is appended to.

run.json is written first, so a folder never lacks it. A write that fails (a full disk, a quota)
raises StoreWriteError naming the file; what was on disk before it stays whole.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import math
import os
import secrets
import signal
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness import __version__
from harness.errors import BadInput, GpucostError
from harness.results.atomicfile import replace_file
from harness.results.schema import (
    EXTRA_MEASUREMENT_COLUMNS,
    ITERATION_COLUMNS,
    MEASUREMENT_COLUMNS,
    SAMPLE_COLUMNS,
)

RUN_FILES = ("run.json", "measurements.csv", "iterations.csv", "samples.csv")


def utc_now() -> str:
    """Now, as run.json writes times: UTC, ISO 8601."""
    return datetime.now(timezone.utc).isoformat()


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return value


class StoreWriteError(GpucostError):
    """A run folder's file could not be written. The files stay as they were before the write."""

    def __init__(self, path: Path, err: OSError) -> None:
        self.path = path
        self.reason = err.strerror or str(err)
        super().__init__(f"cannot write {path} ({self.reason})")


_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    text = json.dumps(_finite(data), indent=2, default=str, allow_nan=False)
    try:
        replace_file(path, lambda fh: fh.write(text))
    except OSError as err:
        # On a full disk the temp file cannot be written, but the file's own blocks can: a
        # status update (a few bytes more or less) still lands where it does not need new ones.
        # Without the indentation it is a third shorter: a status update may then still fit
        # where the file cannot grow (a file-size limit, a quota).
        compact = json.dumps(_finite(data), default=str, allow_nan=False, separators=(",", ":"))
        if err.errno not in _FULL or not (
            _rewrite_in_place(path, text.encode("utf-8"))
            or _rewrite_in_place(path, compact.encode("utf-8"))
        ):
            raise


def _finite(value: Any) -> Any:
    """nan and inf are not JSON: they are written as null (not measured)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _rewrite_in_place(path: Path, data: bytes) -> bool:
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    before = b""
    try:
        size = os.fstat(fd).st_size
        if len(data) > os.fstat(fd).st_blocks * 512:
            return False
        before = os.pread(fd, size, 0)
        # A write can stop short without an error (a file-size limit, a quota): then the old
        # text goes back, so the file is never half of each.
        if os.pwrite(fd, data, 0) != len(data):
            raise OSError(errno.EFBIG, "short write")
        os.ftruncate(fd, len(data))
        os.fsync(fd)
        return True
    except OSError:
        if before:
            with contextlib.suppress(OSError):
                os.pwrite(fd, before, 0)
                os.ftruncate(fd, len(before))
        return False
    finally:
        os.close(fd)


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> None:
    def write(fh) -> None:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row.get(k)) for k in columns})

    replace_file(path, write)


def ordered_columns(leading: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The leading columns, then every other key in the order rows first used it."""
    columns = list(leading)
    seen = set(columns)
    for row in rows:
        for key in row:
            if key not in seen:
                seen.add(key)
                columns.append(key)
    return columns


def create_run_folder(parent: Path) -> tuple[str, Path]:
    """Make a new, empty run folder under `parent`; BadInput when `parent` cannot be written."""
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise BadInput(f"--out {parent}: cannot create the folder ({err.strerror})") from None
    if not parent.is_dir():
        raise BadInput(f"--out {parent}: not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BadInput(f"--out {parent}: folder is not writable")
    for _ in range(20):
        run_id = new_run_id()
        path = parent / run_id
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as err:
            raise BadInput(f"--out {parent}: cannot create a run folder ({err.strerror})") from None
        return run_id, path
    raise BadInput(f"--out {parent}: could not find a free run folder name")


class RunStore:
    """Writes one run folder as the sweep goes."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        self.meta: dict[str, Any] = {}
        self.measurements: list[dict[str, Any]] = []
        self.iterations: list[dict[str, Any]] = []
        self._samples_started = False

    @classmethod
    def create(cls, parent: Path, meta: Mapping[str, Any] | None = None) -> RunStore:
        """A new run folder with run.json (`meta` plus the run id) written before anything else."""
        run_id, path = create_run_folder(parent)
        store = cls(path, run_id)
        try:
            store.write_meta({"run_id": run_id, **(meta or {})})
        except StoreWriteError:
            path.rmdir()  # never a folder without run.json
            raise
        try:
            store._write(
                path / "measurements.csv",
                write_csv,
                MEASUREMENT_COLUMNS + EXTRA_MEASUREMENT_COLUMNS,
                [],
            )
            store._write(path / "iterations.csv", write_csv, ITERATION_COLUMNS, [])
            store._write(path / "samples.csv", write_csv, SAMPLE_COLUMNS, [])
        except StoreWriteError:
            # Nothing was measured into it yet: the folder goes, so "no run folder was made"
            # is true; where it cannot go, run.json says the run failed rather than `running`.
            store._discard()
            raise
        return store

    def _discard(self) -> None:
        for file in [*(self.path / n for n in RUN_FILES), *self.path.glob(".*")]:
            with contextlib.suppress(OSError):  # .* : temp files of a write that failed
                file.unlink(missing_ok=True)
        try:
            self.path.rmdir()
        except OSError:
            self.meta.update(status="failed", finished_at=utc_now())
            with contextlib.suppress(OSError):
                write_json(self.path / "run.json", self.meta)

    def _write(self, path: Path, write: Any, *args: Any) -> None:
        try:
            write(path, *args)
        except OSError as err:
            raise StoreWriteError(path, err) from None

    @classmethod
    def start(cls, parent: Path, command: Sequence[str], meta: Mapping[str, Any]) -> RunStore:
        """A new run folder whose run.json opens the run (created now, `running`, this gpucost
        version and command line), then `meta`: what every kind of run records first."""
        opening = {
            "created_at": utc_now(),
            "finished_at": None,
            "status": "running",
            "gpucost_version": __version__,
            "command": list(command),
        }
        return cls.create(parent, {**opening, **meta})

    def write_meta(self, meta: Mapping[str, Any]) -> None:
        self.meta = dict(meta)
        self._write(self.path / "run.json", write_json, self.meta)

    def update_meta(self, **changes: Any) -> None:
        self.meta.update(changes)
        self._write(self.path / "run.json", write_json, self.meta)

    def complete(self) -> None:
        """Mark the run `complete`, with its rows counted by status."""
        self._count_rows()
        self.update_meta(status="complete", finished_at=utc_now())

    def close_meta(self, status: str, signum: int | None) -> None:
        """Mark how the run ended (`stopped_by` names the signal that stopped it, if one did); a
        failure to write that (a full disk) must not hide the cause."""
        self._count_rows()
        changes: dict[str, Any] = {"status": status, "finished_at": utc_now()}
        if signum is not None:
            changes["stopped_by"] = signal.Signals(signum).name
        with contextlib.suppress(StoreWriteError):
            self.update_meta(**changes)

    def _count_rows(self) -> None:
        statuses = [str(row.get("status")) for row in self.measurements[: self.rows_kept]]
        self.meta["rows"] = {s: statuses.count(s) for s in dict.fromkeys(statuses)}

    def add_measurement(
        self, row: Mapping[str, Any], iterations: Sequence[Mapping[str, Any]]
    ) -> None:
        self.measurements.append({"run_id": self.run_id, **row})
        self.iterations.extend({"run_id": self.run_id, **it} for it in iterations)
        leading = MEASUREMENT_COLUMNS + EXTRA_MEASUREMENT_COLUMNS
        self._write(
            self.path / "iterations.csv",
            write_csv,
            ordered_columns(ITERATION_COLUMNS, self.iterations),
            self.iterations,
        )
        self._write(
            self.path / "measurements.csv",
            write_csv,
            ordered_columns(leading, self.measurements),
            self.measurements,
        )

    @property
    def rows_kept(self) -> int:
        """Rows in measurements.csv on disk (fewer than `measurements` after a failed write).
        Counted in the file: a stop signal can land after the file is replaced and before a
        counter kept beside it would be set."""
        try:
            with open(self.path / "measurements.csv", newline="", encoding="utf-8") as fh:
                on_disk = sum(1 for _ in csv.reader(fh)) - 1
        except (OSError, csv.Error, UnicodeDecodeError):
            return 0
        return max(0, min(on_disk, len(self.measurements)))

    def update_measurements(self, changes: Sequence[Mapping[str, Any]]) -> None:
        """Set columns on the rows written so far (`changes[i]` onto row i) and rewrite
        measurements.csv: for a verdict known only after every row was measured."""
        for row, change in zip(self.measurements, changes, strict=False):
            row.update(change)
        self._write(
            self.path / "measurements.csv",
            write_csv,
            ordered_columns(MEASUREMENT_COLUMNS + EXTRA_MEASUREMENT_COLUMNS, self.measurements),
            self.measurements,
        )

    def append_samples(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        path = self.path / "samples.csv"
        lines = _csv_text(
            [
                {k: _cell({"run_id": self.run_id, **row}.get(k)) for k in SAMPLE_COLUMNS}
                for row in rows
            ]
        )
        try:
            with open(path, "ab") as fh:
                start = fh.tell()
                try:
                    fh.write(lines)
                    fh.flush()
                    os.fsync(fh.fileno())
                except OSError:
                    # Never leave half a sample row: cut the file back to where it was.
                    fh.truncate(start)
                    raise
        except OSError as err:
            raise StoreWriteError(path, err) from None


def _csv_text(rows: Sequence[Mapping[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(SAMPLE_COLUMNS), extrasaction="ignore")
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")
