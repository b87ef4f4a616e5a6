"""What `gpucost run` shows: a progress bar while it measures and a summary table at the end."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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


def _fmt(value: float | None, scale: float = 1.0, digits: int = 3) -> str:
    return "—" if value is None else f"{value * scale:.{digits}g}"


# Built-in workloads' main unit; other workloads use the first unit of HEADLINE_UNITS they have.
WORKLOAD_HEADLINE = {
    "text": "output_tokens",
    "image": "images",
    "asr": "audio_s",
    "tts": "characters",
    "embedding": "input_tokens",
    "retrieval": "queries",
}


def headline(row: dict[str, Any]) -> tuple[str | None, float | None, str]:
    preferred = WORKLOAD_HEADLINE.get(str(row.get("workload")))
    ordered = sorted(HEADLINE_UNITS, key=lambda unit: unit[0] != preferred)
    for column, label in ordered:
        amount = _num(row.get(column))
        if amount is not None:
            return column, amount, label
    return None, None, ""


def summary_table(rows: Sequence[dict[str, Any]]) -> Table:
    table = Table(title="Measurements (per batch; p50 unless marked)", title_justify="left")
    left = {"workload", "preset", "status", "unit"}
    columns = ("workload", "preset", "batch", "status", "throughput", "unit", "p50 ms",
               "p99 ms", "TTFT ms", "TPOT ms", "J/unit", "mem GiB")  # fmt: skip
    for name in columns:
        table.add_column(name, justify="left" if name in left else "right")
    for row in rows:
        _, amount, label = headline(row)
        wall = _num(row.get("wall_s_p50"))
        energy = _num(row.get("energy_j"))
        mem = _num(row.get("peak_mem_allocated_bytes"))
        throughput = f"{amount / wall:.4g}" if amount and wall else "—"
        status = str(row.get("status"))
        if status != "ok":
            status = f"{status}: {str(row.get('error') or '')[:40]}"
        table.add_row(
            str(row.get("workload")),
            str(row.get("preset")),
            str(row.get("batch_size")),
            status,
            throughput,
            label,
            _fmt(wall, 1000),
            _fmt(_num(row.get("wall_s_p99")), 1000),
            _fmt(_num(row.get("ttft_s_p50")), 1000),
            _fmt(_num(row.get("tpot_s_p50")), 1000),
            _fmt(energy / amount if energy is not None and amount else None),
            _fmt(mem, 1 / 2**30),
        )
    return table


def print_summary(run_dir: Path, rows: Sequence[dict[str, Any]]) -> None:
    console = Console() if sys.stdout.isatty() else Console(width=120)
    console.print(summary_table(rows))
    console.print(f"Run folder: {run_dir}")
