"""Bill formats are classes behind one interface: a new one states its own columns and line-item
rules (it cannot be half-made, nor fall back to another cloud's), and is read like the built-ins."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import pytest

from harness.reconcile import bill_formats
from harness.reconcile.bill_formats import BillFormat, CostBasis, CostPlan, detect_format
from harness.reconcile.bill_formats.base import tag_from_json_map
from harness.reconcile.bills import read_bills
from harness.reconcile.sources import TagFilter
from harness.reconcile.sql import cell, number


class ExportBill(BillFormat):
    """A made-up cloud export: its own columns, provider and charge rules."""

    name = "Example export"
    columns: ClassVar[Mapping[str, str]] = {
        "start": "usage_start_time",
        "end": "usage_end_time",
        "cost": "cost",
        "currency": "currency",
        "instance": "machine_type",
        "kind": "cost_type",
    }

    def cost_plan(self, header: set[str], basis: CostBasis) -> CostPlan:
        group = f"CASE WHEN {cell(self.col('kind'))} = 'tax' THEN '(tax)' END"
        return CostPlan(number(self.col("cost")), group, (self.col("cost"),), "cost")

    def structured_instance(self, header: set[str]) -> list[str]:
        return [cell(self.col("instance"))]

    def provider_sql(self, header: set[str]) -> str:
        return "'Example'"

    def tag_sql(self, header: Sequence[str], tag: TagFilter) -> str | None:
        return tag_from_json_map("labels", header, tag)


def test_a_format_without_its_line_item_rules_is_refused() -> None:
    class NoCostRules(BillFormat):
        name = "half made"
        columns: ClassVar[Mapping[str, str]] = {"start": "s", "cost": "c"}

        def structured_instance(self, header: set[str]) -> list[str]:
            return []

        def provider_sql(self, header: set[str]) -> str:
            return "''"

        def tag_sql(self, header: Sequence[str], tag: TagFilter) -> str | None:
            return None

    with pytest.raises(TypeError, match="cost_plan"):
        NoCostRules()


def test_a_format_that_maps_no_cost_column_is_refused() -> None:
    class NoCost(ExportBill):
        columns: ClassVar[Mapping[str, str]] = {"start": "usage_start_time"}

    with pytest.raises(TypeError, match="maps no cost column"):
        NoCost()


def test_a_format_without_a_name_is_refused() -> None:
    class Nameless(ExportBill):
        name = ""

    with pytest.raises(TypeError, match="has no name"):
        Nameless()


def test_an_unknown_bill_lists_every_format_it_could_have_been() -> None:
    with pytest.raises(Exception, match=r"AWS CUR \(lineItem/UsageStartDate.*FOCUS"):
        detect_format(["usage_start_time", "cost"], "b.csv")


def test_a_new_format_is_read_with_its_own_rules_and_provider(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bill_formats, "BILL_FORMATS", (*bill_formats.BILL_FORMATS, ExportBill()))
    bill = tmp_path / "export.csv"
    with bill.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["usage_start_time", "usage_end_time", "cost", "currency", "machine_type", "cost_type"]
        )
        writer.writerow(
            [
                "2026-11-01T10:00:00Z",
                "2026-11-01T11:00:00Z",
                "3.5",
                "USD",
                "a3-highgpu-1g",
                "regular",
            ]
        )
        writer.writerow(["2026-11-01T12:00:00Z", "", "0.5", "USD", "", "tax"])
    result = read_bills([bill], "day")
    assert result.formats == ((str(bill), "Example export"),)
    assert result.sources == ("Example export: cost",)
    costs = dict(zip(result.costs["instance"], result.costs["cost_usd"], strict=True))
    # Its own charge rule puts the tax apart; no AWS line-item type is looked for.
    assert costs == {"a3-highgpu-1g": pytest.approx(3.5), "(tax)": pytest.approx(0.5)}
