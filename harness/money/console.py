"""Plain rich tables 100 columns wide, shared by the money commands (no pandas here)."""

from __future__ import annotations

import io
import math
from collections.abc import Callable

from rich import box
from rich.console import Console
from rich.table import Table

from harness.money.prices import money_text

TABLE_WIDTH = 100


def make_console(console: Console | None = None) -> Console:
    """A console 100 columns wide when output is not a terminal (files, pipes, tests)."""
    if console is not None:
        return console
    probe = Console()
    return probe if probe.is_terminal else Console(width=TABLE_WIDTH)


def render_text(draw: Callable[[Console], None], width: int = TABLE_WIDTH) -> str:
    """What `draw` prints, as plain text without trailing spaces."""
    buffer = io.StringIO()
    draw(Console(file=buffer, width=width, force_terminal=False, color_system=None))
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


def cost_text(value: float | None, scale: int = 1) -> str:
    return "—" if value is None or not math.isfinite(value) else money_text(value * scale)


def margin_text(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value * 100:.0f}%"


def margin_range_text(value: float | None, low: float | None, high: float | None) -> str:
    """"62% (58–65%)": the margin with its 95 % interval, when the interval was measured and
    is wider than a percentage point."""
    text = margin_text(value)
    ends = [margin_text(v) for v in (low, high)]
    if text == "—" or "—" in ends or ends == [text, text]:
        return text  # not measured, or narrower than the figure's last digit
    # "-12 to -3%" reads as a range where "-12–-3%" would not.
    dash = " to " if ends[0].startswith("-") or ends[1].startswith("-") else "–"
    return f"{text} ({ends[0].rstrip('%')}{dash}{ends[1]})"


def table_for(title: str, console: Console) -> Table:
    """A plain table; its title goes on its own line so it never wraps to the table's width."""
    console.print(title, style="bold", highlight=False)
    return Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, show_edge=False)


def emit(table: Table, console: Console) -> None:
    console.print(table)
    console.print()
