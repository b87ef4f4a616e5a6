"""What a report holds, independent of the format it is written in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    """A table of already formatted cells (text), with its column names."""

    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Figure:
    """A rendered plot. `name` is a file stem (letters, digits, '-', '_')."""

    name: str
    caption: str
    png: bytes


@dataclass(frozen=True)
class Note:
    text: str


Block = Table | Figure | Note


@dataclass(frozen=True)
class Section:
    title: str
    blocks: tuple[Block, ...]
    level: int = 2
    collapsed: bool = False
    """Details a reader opens when wanted (HTML: a closed <details>); the answer is not."""


@dataclass(frozen=True)
class Document:
    title: str
    sections: tuple[Section, ...]
    caveats: tuple[str, ...] = ()
    """What the numbers do not mean (random weights, a CPU, prices to verify), from the one
    caveat list (harness/money/caveats.py): at the top of every format."""

    def figures(self) -> list[Figure]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Figure)]

    def tables(self) -> list[Table]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Table)]
