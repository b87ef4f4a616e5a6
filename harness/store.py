"""Run folders: one new folder per run, files replaced atomically, nothing ever overwritten.

`measurements.csv` and `iterations.csv` are rewritten whole (temp file + rename) after each batch
size, so a reader never sees half a row and columns can grow as workloads add phase columns.
`samples.csv` has fixed columns and only grows, so it is appended to.
"""

from __future__ import annotations

import csv
import json
import math
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.atomicfile import replace_file
from harness.errors import BadInput
from harness.schema import (
    EXTRA_MEASUREMENT_COLUMNS,
    ITERATION_COLUMNS,
    MEASUREMENT_COLUMNS,
    SAMPLE_COLUMNS,
)

RUN_FILES = ("run.json", "measurements.csv", "iterations.csv", "samples.csv")


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return value


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    replace_file(path, lambda fh: json.dump(data, fh, indent=2, default=str))


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
    def create(cls, parent: Path) -> RunStore:
        run_id, path = create_run_folder(parent)
        store = cls(path, run_id)
        write_csv(path / "measurements.csv", MEASUREMENT_COLUMNS + EXTRA_MEASUREMENT_COLUMNS, [])
        write_csv(path / "iterations.csv", ITERATION_COLUMNS, [])
        write_csv(path / "samples.csv", SAMPLE_COLUMNS, [])
        return store

    def write_meta(self, meta: Mapping[str, Any]) -> None:
        self.meta = dict(meta)
        write_json(self.path / "run.json", self.meta)

    def update_meta(self, **changes: Any) -> None:
        self.meta.update(changes)
        write_json(self.path / "run.json", self.meta)

    def add_measurement(
        self, row: Mapping[str, Any], iterations: Sequence[Mapping[str, Any]]
    ) -> None:
        self.measurements.append({"run_id": self.run_id, **row})
        self.iterations.extend({"run_id": self.run_id, **it} for it in iterations)
        leading = MEASUREMENT_COLUMNS + EXTRA_MEASUREMENT_COLUMNS
        write_csv(
            self.path / "iterations.csv",
            ordered_columns(ITERATION_COLUMNS, self.iterations),
            self.iterations,
        )
        write_csv(
            self.path / "measurements.csv",
            ordered_columns(leading, self.measurements),
            self.measurements,
        )

    def append_samples(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        with open(self.path / "samples.csv", "a", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(SAMPLE_COLUMNS), extrasaction="ignore")
            for row in rows:
                writer.writerow(
                    {k: _cell({"run_id": self.run_id, **row}.get(k)) for k in SAMPLE_COLUMNS}
                )
            fh.flush()
            os.fsync(fh.fileno())
