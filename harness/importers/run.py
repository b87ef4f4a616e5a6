"""An import: read every file, give each load level its row, write one new run folder through
the results store the way an endpoint run does (harness/endpoint/runner.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import BadInput
from harness.importers.base import (
    LATENCIES,
    PERCENTILES,
    ImportedFile,
    Level,
    check_gpus_used,
    check_level,
    level_name,
)
from harness.importers.registry import load
from harness.results.runs import check_rows
from harness.results.store import RunStore, utc_now

DEVICE = "import"
ENDPOINT_COLUMNS: tuple[str, ...] = (
    "window_s", "requests", "input_tokens", "output_tokens", "requests_per_s",
    "input_tokens_per_s", "output_tokens_per_s", "wall_s_mean",
    *(f"wall_s_p{q}" for q in PERCENTILES),
    *(f"{name}_s_p{q}" for name in LATENCIES for q in PERCENTILES),
    "output_tokens_per_s_per_user", "error_count", "error_rate",
)  # fmt: skip


@dataclass(frozen=True)
class ImportRequest:
    tool: str
    files: tuple[Path, ...]
    gpu: str
    gpus_used: int
    instance: str | None = None
    workload: str = "text"


def read_files(tool: str, files: Sequence[Path]) -> list[ImportedFile]:
    """Every file read and each of its levels checked (harness/importers/base.py: check_level)."""
    importer = load(tool)
    imported = [importer.read(path) for path in files]
    for f in imported:
        for number, level in enumerate(f.levels, start=1):
            check_level(f.path, level, level_name(level, number, len(f.levels)))
    return imported


def batch_sizes(levels: Sequence[Level]) -> list[int]:
    """A whole batch size per level, unique within the run (rows are keyed by it).

    Like an endpoint run: a closed-loop level's concurrency, an open-loop level's most requests
    in flight at once where the file says; when that is missing or already taken by another
    level, the next free whole number (the row's `request_rate` and `settings` keep the load)."""
    sizes: list[int | None] = [level.concurrency for level in levels]
    taken: set[int] = set()
    for i, size in enumerate(sizes):
        if size is None:
            continue
        if size < 1:
            raise BadInput(f"level {i + 1}: concurrency {size} is not a whole number >= 1")
        taken.add(size)
    for i, level in enumerate(levels):
        if sizes[i] is not None:
            continue
        size = max(level.max_in_flight or 1, 1)
        while size in taken:
            size += 1
        sizes[i] = size
        taken.add(size)
    return [int(s) for s in sizes if s is not None]


def _check_levels(files: Sequence[ImportedFile]) -> None:
    """The same closed-loop concurrency twice is the same level twice: refuse it in one line."""
    seen: dict[tuple[int, float | None], Path] = {}
    for imported in files:
        for level in imported.levels:
            if level.concurrency is None:
                continue
            key = (level.concurrency, level.request_rate)
            if key in seen:
                raise BadInput(
                    f"{imported.path}: concurrency {level.concurrency} is already a level "
                    f"(in {seen[key]}); give each load level once"
                )
            seen[key] = imported.path


def level_row(
    imported: ImportedFile, level: Level, batch_size: int, request: ImportRequest
) -> dict[str, Any]:
    # Every endpoint-run column is in the row, empty where the file does not hold it.
    values = {column: None for column in ENDPOINT_COLUMNS} | dict(level.values)
    ok = (
        bool(values.get("requests"))
        and bool(values.get("window_s"))
        and bool(values.get("wall_s_p50"))
    )
    error = level.note
    if not ok:
        if not values.get("requests"):
            reason = "no request succeeded"
        elif not values.get("window_s"):
            reason = "the file has no benchmark duration"
        else:
            reason = "the file has no end-to-end latency"
        error = f"{reason} ({level.note})" if level.note else reason
    return {
        "workload": request.workload,
        "preset": None,
        "model": level.model,
        "device": DEVICE,
        "gpu_name": request.gpu,
        "dtype": None,
        "batch_size": batch_size,
        "status": "ok" if ok else "error",
        "error": error,
        "engine": imported.engine,
        "concurrency": level.concurrency,
        "request_rate": level.request_rate,
        "max_in_flight": level.max_in_flight,
        "gpus_used": request.gpus_used,
        **values,
        "settings": {
            "concurrency": level.concurrency,
            "request_rate": level.request_rate,
            **level.settings,
        },
    }


def import_run(request: ImportRequest, out: Path, command: Sequence[str] = ()) -> RunStore:
    """Read every file (all before anything is written: a bad file leaves no folder), then
    write a new run folder under `out`, one measurement row per load level."""
    check_gpus_used(request.gpus_used)
    files = read_files(request.tool, request.files)
    _check_levels(files)
    pairs = [(f, level) for f in files for level in f.levels]
    sizes = batch_sizes([level for _, level in pairs])
    rows = [
        level_row(f, level, size, request) for (f, level), size in zip(pairs, sizes, strict=True)
    ]
    # What `price` would refuse to read back is refused now, before a folder is made.
    names = [
        f"{f.path}: {level_name(level, n, len(f.levels))}"
        for f in files
        for n, level in enumerate(f.levels, start=1)
    ]
    check_rows(rows, lambda index: names[int(index)])
    store = RunStore.start(
        out,
        command,
        {
            "device": {"name": request.gpu, "kind": DEVICE},
            "config": {
                "tool": request.tool,
                "workload": request.workload,
                "gpu": request.gpu,
                "gpus_used": request.gpus_used,
                "instance": request.instance,
            },
            "import": {
                "tool": request.tool,
                "files": [
                    {
                        "path": str(f.path.resolve()),
                        "sha256": f.sha256,
                        "tool": f.tool,
                        "version": f.version,
                        "schema_version": f.schema_version,
                        "levels": [
                            {"batch_size": size, **level.provenance}
                            for (source, level), size in zip(pairs, sizes, strict=True)
                            if source is f
                        ],
                    }
                    for f in files
                ],
            },
            "workloads": {},
            "idle_power_w": None,
            "calibration": None,
        },
    )
    try:
        for row in rows:
            store.add_measurement(row, [])
    except BaseException:
        store.update_meta(status="failed", finished_at=utc_now())
        raise
    store.update_meta(status="complete", finished_at=utc_now())
    return store
