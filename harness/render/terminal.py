"""Terminal tables that fit the terminal's width (80 columns when it is not known).

A table never wraps: where its columns do not fit, it shortens the columns that may be shortened
(`shorten`: names, cut with "…" down to `min_width`), and where that is not enough it leaves out
whole columns (`drop`) or prints the short form of their cells (`abbreviate`: a margin without
its interval) in the order the columns state, the highest rank first; it says under the table
which columns it left out. A column with no values is left out at any width. `wide`
(`-v` / `--wide` on every command) prints every column at full width. Titles and notes are
wrapped here, once, to the same width, so a terminal never wraps them again.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TextIO

from harness.render.notes import Note
from harness.render.text import EMPTY

DEFAULT_WIDTH = 80
GAP = "  "
ELLIPSIS = "…"


def terminal_width(stream: TextIO | None = None) -> int:
    """The terminal's width when writing to one (or $COLUMNS), else 80."""
    stream = stream or sys.stdout
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) >= 40:
        return int(columns)
    if hasattr(stream, "isatty") and stream.isatty():
        return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    return DEFAULT_WIDTH


@dataclass(frozen=True)
class Column:
    header: str
    align: Literal["left", "right"] = "left"
    drop: int = 0
    """0: always shown; otherwise left out when the table does not fit, highest first."""
    shorten: bool = False
    """May be cut to `min_width` with "…" (a name, not a number)."""
    min_width: int = 12
    abbreviate: int = 0
    """The rank (among the `drop` ranks) at which the short form of its cells is printed."""
    cut_middle: bool = False
    """Shortened in the middle (run ids differ at both ends: time first, random last)."""


@dataclass(frozen=True)
class Cell:
    """A cell with a short form, printed where the full one does not fit ("62.5%" for
    "62.5% (58.1–65.5%)")."""

    full: str
    short: str

    def __str__(self) -> str:
        return self.full


@dataclass
class TextTable:
    title: str
    columns: Sequence[Column]
    rows: list[list[str]] = field(default_factory=list)
    short_rows: list[list[str]] = field(default_factory=list)

    def add_row(self, *cells: str | Cell) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append([str(c) for c in cells])
        self.short_rows.append([c.short if isinstance(c, Cell) else str(c) for c in cells])

    def lines(self, width: int | None = DEFAULT_WIDTH) -> list[str]:
        """The title, header, rule and rows; `width` None prints every column in full."""
        shown = [i for i, _ in enumerate(self.columns) if self._has_values(i)]
        rows = [list(row) for row in self.rows]
        sizes = {i: self._natural(i, rows) for i in shown}
        dropped: list[str] = []
        if width is not None:
            steps = sorted(
                [(c.drop, i, "drop") for i, c in enumerate(self.columns) if c.drop and i in sizes]
                + [(c.abbreviate, i, "short") for i, c in enumerate(self.columns)
                   if c.abbreviate and i in sizes],
                reverse=True,
            )  # fmt: skip
            for _, i, step in steps:
                if i not in sizes:
                    continue
                if step == "drop":
                    # Cutting names loses less than a column: a drop waits until it is not enough.
                    if _total(sizes) - self._slack(sizes, rows) > width:
                        dropped.append(self.columns[i].header)
                        del sizes[i]
                    continue
                # A short form loses less than a cut name: it comes first in its rank.
                if _total(sizes) <= width:
                    continue
                for row, short in zip(rows, self.short_rows, strict=True):
                    row[i] = short[i]
                sizes[i] = self._natural(i, rows)
            # Columns that would be dropped sooner are cut first; then the widest.
            for i in sorted(sizes, key=lambda i: (-self.columns[i].drop, -sizes[i])):
                excess = _total(sizes) - width
                column = self.columns[i]
                if excess <= 0:
                    break
                if column.shorten:
                    sizes[i] = max(self._floor(i, rows), sizes[i] - excess)
        order = sorted(sizes)
        out = _wrap(self.title, width) if self.title else []
        out.append(self._line([self.columns[i].header for i in order], order, sizes))
        out.append(GAP.join("─" * sizes[i] for i in order))
        out += [self._line([row[i] for i in order], order, sizes) for row in rows]
        if dropped:
            out += _wrap(f"(left out to fit {width} columns: {', '.join(dropped)}; "
                         "--wide shows them)", width)  # fmt: skip
        return out

    def _floor(self, i: int, rows: list[list[str]]) -> int:
        column = self.columns[i]
        if column.shorten:
            return min(max(column.min_width, len(column.header)), self._natural(i, rows))
        return self._natural(i, rows)

    def _slack(self, sizes: dict[int, int], rows: list[list[str]]) -> int:
        """How much shortening the names could save: dropping waits until it is not enough."""
        return sum(max(0, size - self._floor(i, rows)) for i, size in sizes.items())

    def _has_values(self, i: int) -> bool:
        return not self.rows or any(row[i] not in ("", EMPTY) for row in self.rows)

    def _natural(self, i: int, rows: list[list[str]]) -> int:
        return max(len(self.columns[i].header), *(len(row[i]) for row in rows), 1)

    def _line(self, cells: list[str], order: list[int], sizes: dict[int, int]) -> str:
        parts = []
        for cell, i in zip(cells, order, strict=True):
            size = sizes[i]
            if len(cell) > size:
                if self.columns[i].cut_middle:
                    head = (size - 1) // 2
                    cell = cell[:head] + ELLIPSIS + cell[len(cell) - (size - 1 - head) :]
                else:
                    cell = cell[: size - 1] + ELLIPSIS
            parts.append(cell.rjust(size) if self.columns[i].align == "right" else cell.ljust(size))
        return GAP.join(parts).rstrip()


def _total(sizes: dict[int, int]) -> int:
    return sum(sizes.values()) + len(GAP) * max(0, len(sizes) - 1)


def _wrap(text: str, width: int | None, indent: str = "") -> list[str]:
    if width is None:
        return [text]
    return textwrap.wrap(text, width, subsequent_indent=indent, break_on_hyphens=False) or [""]


class Screen:
    """Where a command's text goes: its width (None when `--wide`) and the lines so far."""

    def __init__(self, width: int | None = DEFAULT_WIDTH, stream: TextIO | None = None):
        self.width = width
        self._stream = stream if stream is not None else io.StringIO()

    def line(self, text: str = "") -> None:
        """A paragraph, wrapped to the width (continuation lines indented two spaces)."""
        for part in _wrap(text, self.width, "  ") if text else [""]:
            self._stream.write(part.rstrip() + "\n")

    def table(self, table: TextTable) -> None:
        for part in table.lines(self.width):
            self._stream.write(part.rstrip() + "\n")
        self._stream.write("\n")

    def fields(self, title: str, rows: Sequence[tuple[str, str]]) -> None:
        """A record as "name  value" lines, long values wrapped under themselves."""
        self.line(title)
        size = max((len(name) for name, _ in rows), default=0)
        for name, value in rows:
            lead = f"{name.ljust(size)}  "
            width = None if self.width is None else max(20, self.width - len(lead))
            parts = _wrap(value, width) if value else [""]
            self._stream.write((lead + parts[0]).rstrip() + "\n")
            for part in parts[1:]:
                self._stream.write((" " * len(lead) + part).rstrip() + "\n")
        self._stream.write("\n")

    def notes(self, notes: Iterable[Note | str], heading: str = "") -> None:
        """Each note once, as its own paragraph."""
        items = list(dict.fromkeys(notes))
        if not items:
            return
        if heading:
            self.line(heading)
        for note in items:
            self.line(f"- {note}" if heading else str(note))

    def text(self) -> str:
        return self._stream.getvalue() if isinstance(self._stream, io.StringIO) else ""


def render_text(draw: Callable[[Screen], None], width: int | None = DEFAULT_WIDTH) -> str:
    """What `draw` prints at `width` columns, as text."""
    screen = Screen(width)
    draw(screen)
    return screen.text()


def screen_width(wide: bool) -> int | None:
    """The width a command's text is fitted to: none with `--wide`, else the terminal's."""
    return None if wide else terminal_width()
