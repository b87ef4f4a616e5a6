"""What `gpucost run` shows: a progress bar while it measures and a summary table at the end."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

# The unit a workload's throughput is shown in, first one the row has.
HEADLINE_UNITS = (
    ("output_tokens", "tok/s"),
    ("images", "img/s"),
    ("audio_s", "audio s/s"),
    ("characters", "char/s"),
    ("queries", "q/s"),
    ("input_tokens", "tok/s"),
    ("sequences", "seq/s"),
    ("requests", "req/s"),
)


class RichProgress:
    """A progress bar over every workload × batch size of the run (on stderr)."""

    def __init__(self, plans: Sequence[Any]) -> None:
        self.total = sum(len(p.batch_sizes) for p in plans)
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.task = self.bar.add_task("starting", total=self.total)

    def __enter__(self) -> RichProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def workload_started(self, plan: Any) -> None:
        self.bar.update(self.task, description=f"{plan.name} ({plan.context.preset}) loading")

    def batch_started(self, plan: Any, batch_size: int) -> None:
        self.bar.update(
            self.task, description=f"{plan.name} ({plan.context.preset}) batch {batch_size}"
        )

    def batch_finished(self, plan: Any, row: dict[str, Any]) -> None:
        self.bar.advance(self.task)


def _num(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def whole(value: float | None, scale: float = 1.0) -> str:
    """A number in fixed notation with about three significant digits and thousands separators:
    never scientific notation, so a column can be read (and compared) at a glance."""
    if value is None or not math.isfinite(value):
        return "—"
    number = value * scale
    if number == 0:
        return "0"
    digits = min(6, max(0, 2 - math.floor(math.log10(abs(number)))))
    return f"{number:,.{digits}f}"


def headline(row: dict[str, Any]) -> tuple[str | None, float | None, str]:
    """The row's main count: its workload spec's primary unit column first, then any other."""
    from harness.money.units import workload_spec

    spec = workload_spec(str(row.get("workload")))
    preferred = None if spec is None else spec.primary.count_column
    known = HEADLINE_UNITS
    if spec is not None and preferred not in dict(HEADLINE_UNITS):
        known = ((preferred, f"{spec.primary_unit}/s"), *HEADLINE_UNITS)
    ordered = sorted(known, key=lambda unit: unit[0] != preferred)
    for column, label in ordered:
        amount = _num(row.get(column))
        if amount is not None:
            return column, amount, label
    return None, None, ""


UNSTABLE_NOTE = (
    "unstable: ok, but the per-iteration wall time or the bootstrapped cost varies by more than "
    "{cv:.0f} % (CV); its cost moves with the machine's load. Rerun on an idle machine or with "
    "more --iterations."
)


def _row_status(row: dict[str, Any]) -> str:
    status = str(row.get("status"))
    if status == "ok" and str(row.get("unstable")).lower() in {"true", "1"}:
        return "unstable"
    return status


def summary_table(rows: Sequence[dict[str, Any]], verbose: bool = False) -> Table:
    """One line per row, made to fit 80 columns (numbers are never cut); `verbose` adds the
    latency phases, energy and memory."""
    table = Table(
        title="Measurements (per batch; p50 unless marked)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    left = {"workload", "preset", "status"}
    columns = ["workload", "preset", "batch", "status", "throughput", "p50 ms", "p99 ms", "CV %"]
    if verbose:
        columns += ["TTFT ms", "TPOT ms", "J/unit", "mem GiB"]
    lines: list[list[str]] = []
    for row in rows:
        _, amount, label = headline(row)
        wall = _num(row.get("wall_s_p50"))
        throughput = f"{whole(amount / wall)} {label}" if amount and wall else "—"
        cv = _num(row.get("wall_s_cv"))
        cells = [
            str(row.get("workload")),
            str(row.get("preset")),
            str(row.get("batch_size")),
            _row_status(row),
            throughput,
            whole(wall, 1000),
            whole(_num(row.get("wall_s_p99")), 1000),
            whole(cv, 100),
        ]
        if verbose:
            energy = _num(row.get("energy_j"))
            cells += [
                whole(_num(row.get("ttft_s_p50")), 1000),
                whole(_num(row.get("tpot_s_p50")), 1000),
                whole(energy / amount if energy is not None and amount else None),
                whole(_num(row.get("peak_mem_allocated_bytes")), 1 / 2**30),
            ]
        lines.append(cells)
    for index, name in enumerate(columns):
        widest = max([len(name), *(len(cells[index]) for cells in lines)])
        if name in left:
            # Text gives way first (with an ellipsis) when the terminal is narrow ...
            table.add_column(
                name, justify="left", overflow="ellipsis", min_width=min(widest, 8)
            )
        else:
            # ... numbers never: each number column keeps the width of its widest cell.
            table.add_column(name, justify="right", no_wrap=True, min_width=widest)
    for cells in lines:
        table.add_row(*cells)
    return table


def _failures(rows: Sequence[dict[str, Any]], width: int | None) -> list[str]:
    lines = []
    for row in rows:
        if str(row.get("status")) in {"ok", "None"}:
            continue
        line = (
            f"{row.get('workload')} batch {row.get('batch_size')}: {row.get('status')}: "
            f"{row.get('error') or ''}"
        )
        if width is not None and len(line) > width:
            line = line[: width - 1] + "…"
        lines.append(line)
    return lines


def print_summary(
    run_dir: Path,
    rows: Sequence[dict[str, Any]],
    verbose: bool = False,
    unstable_cv: float = 0.10,
) -> None:
    console = Console() if sys.stdout.isatty() else Console(width=80)
    console.print(summary_table(rows, verbose))
    for line in _failures(rows, None if verbose else console.width):
        console.print(line, markup=False, highlight=False)
    if any(_row_status(row) == "unstable" for row in rows):
        console.print(UNSTABLE_NOTE.format(cv=unstable_cv * 100), markup=False, highlight=False)
    counts: dict[str, int] = {}
    for row in rows:
        counts[str(row.get("status"))] = counts.get(str(row.get("status")), 0) + 1
    kept = ", ".join(f"{n} {status}" for status, n in counts.items())
    console.print(
        f"Run folder: {run_dir} ({len(rows)} row{'s' if len(rows) != 1 else ''}: {kept})",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
