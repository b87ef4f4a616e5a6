"""Everything a person reads, formatted in one place: numbers, margins, notes and caveats, and
terminal tables that fit the width. The commands' own layouts (cli/*_output.py, report/) build
on these; nothing here imports pandas, torch or another gpucost layer.
"""

from harness.render.notes import CAVEAT_KINDS, Note, NoteKind, caveats
from harness.render.terminal import Column, Screen, TextTable, render_text, screen_width
from harness.render.text import (
    EMPTY,
    ESTIMATE_MARK,
    UNSTABLE_MARK,
    cost_text,
    is_unstable,
    margin_range_text,
    margin_text,
    money_text,
    percent_text,
)

__all__ = [
    "CAVEAT_KINDS",
    "EMPTY",
    "ESTIMATE_MARK",
    "UNSTABLE_MARK",
    "Column",
    "Note",
    "NoteKind",
    "Screen",
    "TextTable",
    "caveats",
    "cost_text",
    "is_unstable",
    "margin_range_text",
    "margin_text",
    "money_text",
    "percent_text",
    "render_text",
    "screen_width",
]
