"""The one rendering package: money, margins, marks, typed notes and tables that fit a width."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from harness.render.notes import Note, NoteKind, about, caveats, stale_price_note
from harness.render.terminal import Column, TextTable, render_text
from harness.render.text import (
    EMPTY,
    is_unstable,
    margin_range_text,
    margin_text,
    money_text,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0000878712, "$0.0000879"),
        (0.06098, "$0.0610"),
        (0.0999996, "$0.100"),
        (1.2, "$1.20"),
        (1.006, "$1.01"),
        (12.34, "$12.34"),
        (123.4, "$123"),
        (99.996, "$100"),
        (1234.5, "$1,234"),
        (0, "$0"),
        (-0.5, "-$0.500"),
        (math.nan, EMPTY),
        (math.inf, EMPTY),
        (None, EMPTY),
    ],
)
def test_money_has_three_significant_digits_below_a_dollar_then_cents_then_dollars(value, text):
    assert money_text(value) == text


def test_one_margin_format_with_its_interval():
    assert margin_range_text(0.625, 0.581, 0.655) == "62.5% (58.1–65.5%)"
    assert margin_range_text(-0.05, -0.12, 0.02) == "-5.0% (-12.0 to 2.0%)"
    # An interval that rounds to the margin itself is shown once.
    assert margin_range_text(0.9996, 0.9995, 0.9997) == "100.0%"
    assert margin_range_text(0.996, 0.9958, 0.9964) == "99.6%"
    assert margin_range_text(0.62, math.nan, 0.65) == "62.0%"
    assert margin_range_text(math.nan, 0.5, 0.7) == EMPTY


def test_a_margin_beyond_minus_100_percent_is_said_as_a_multiple_of_the_price():
    assert margin_text(-57.76) == "cost is 59× the price"
    assert margin_text(-1.5) == "cost is 2.5× the price"
    assert margin_range_text(-57.76, -80, -40) == "cost is 59× the price (41–81×)"
    assert margin_range_text(-57.76, -57.8, -57.7) == "cost is 59× the price"
    assert "%" not in margin_text(-233.03)
    assert margin_text(-1.5, short=True) == "cost 2.5× price"


@pytest.mark.parametrize(
    ("value", "flagged"),
    [(True, True), (np.bool_(True), True), (1.0, True), (False, False), (None, False),
     (math.nan, False), (pd.NA, False), ("True", False), ({"unstable": True}, True), ({}, False)],
)  # fmt: skip
def test_is_unstable_reads_every_form_a_row_carries(value, flagged):
    assert is_unstable(value) is flagged


def test_notes_are_picked_by_kind_and_subject_not_by_their_words():
    notes = [
        Note(NoteKind.CPU, "measured on a CPU"),
        Note(NoteKind.LIST_PRICE, "aws:a: list price, verify", "aws:a"),
        Note(NoteKind.LIST_PRICE, "aws:b: list price, verify", "aws:b"),
        Note(NoteKind.UNSTABLE, "anything at all"),
        Note(NoteKind.CPU, "measured on a CPU"),
    ]
    assert [n.text for n in caveats(notes)] == [
        "measured on a CPU", "aws:a: list price, verify", "aws:b: list price, verify"]  # fmt: skip
    assert [n.subject for n in about(notes, {"aws:a"})] == ["", "aws:a", ""]
    assert Note(NoteKind.CPU, "x").as_dict() == {"kind": "CPU", "text": "x", "subject": ""}


def test_a_rate_card_older_than_90_days_is_a_caveat():
    fresh = stale_price_note("aws", "2026-11-01", "catalog", today="2026-12-01")
    stale = stale_price_note("aws", "2026-01-01", "catalog", today="2026-12-01")
    unreadable = stale_price_note("aws", "someday", "", today="2026-12-01")
    assert not fresh.kind.is_caveat
    assert stale.kind is NoteKind.STALE_PRICES and "334 days old" in stale.text
    assert unreadable.kind is NoteKind.STALE_PRICES


def _table() -> TextTable:
    table = TextTable(
        "A title long enough to be wrapped once at forty columns, never twice",
        [Column("name", shorten=True, min_width=8), Column("cost", align="right"),
         Column("detail", drop=2), Column("extra", drop=1), Column("empty", drop=0)],
    )  # fmt: skip
    table.add_row("a-very-long-instance-name", "$0.0610", "some detail text", "xx", EMPTY)
    table.add_row("short", "$1.20", "more", "yy", "")
    return table


def test_a_table_fits_its_width_by_dropping_columns_in_order_then_shortening():
    text = render_text(lambda screen: screen.table(_table()), 40)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 40
    header = next(line for line in lines if line.startswith("name"))
    assert "detail" not in header and "extra" in header  # the higher drop rank leaves first
    assert "empty" not in header  # a column with no values is left out at any width
    assert any("…" in line for line in lines)
    assert "left out to fit 40 columns: detail" in text


def test_wide_shows_every_column_in_full():
    text = render_text(lambda screen: screen.table(_table()), None)
    assert "a-very-long-instance-name" in text and "some detail text" in text
    assert "left out" not in text


def test_a_row_with_the_wrong_number_of_cells_is_refused():
    with pytest.raises(ValueError, match="2 cells for 5 columns"):
        _table().add_row("a", "b")
