"""Bill readers: AWS CUR (legacy, 2.0) and FOCUS, tag filters, periods, and bad bills."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from harness.errors import BadInput
from harness.reconcile.bills import read_bills
from harness.reconcile.periods import iso_utc
from harness.reconcile.sources import TagFilter

LEGACY = [
    "identity/LineItemId",
    "lineItem/UsageStartDate",
    "lineItem/UsageEndDate",
    "lineItem/UnblendedCost",
    "lineItem/UsageAmount",
    "product/instanceType",
    "lineItem/ResourceId",
    "lineItem/CurrencyCode",
    "resourceTags/user:Project",
]


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def legacy_rows() -> list[list[object]]:
    return [
        [
            "a",
            "2026-11-01T22:00:00Z",
            "2026-11-01T23:00:00Z",
            "1.006",
            "1",
            "g5.xlarge",
            "i-1",
            "USD",
            "Demo",
        ],
        # Straddles midnight: its start (23:00 on the 1st) decides the day.
        [
            "b",
            "2026-11-01T23:00:00Z",
            "2026-11-02T00:00:00Z",
            "1.006",
            "1",
            "g5.xlarge",
            "i-1",
            "USD",
            "Demo",
        ],
        [
            "c",
            "2026-11-02T00:00:00Z",
            "2026-11-02T01:00:00Z",
            "1.006",
            "1",
            "g5.xlarge",
            "i-1",
            "USD",
            "Demo",
        ],
        [
            "d",
            "2026-11-01T23:00:00Z",
            "2026-11-02T00:00:00Z",
            "0.05",
            "1",
            "",
            "vol-1",
            "USD",
            "Demo",
        ],
        [
            "e",
            "2026-11-01T23:00:00Z",
            "2026-11-02T00:00:00Z",
            "98.32",
            "1",
            "p5.48xlarge",
            "i-2",
            "USD",
            "Other",
        ],
        [
            "f",
            "2026-11-01T23:00:00Z",
            "2026-11-02T00:00:00Z",
            "7.0",
            "1",
            "g6.xlarge",
            "i-3",
            "USD",
            "",
        ],
    ]


def totals(result) -> dict[tuple[str, str], float]:
    return {
        (iso_utc(int(row.period_start_ns))[:10], row.instance): round(row.cost_usd, 10)
        for row in result.costs.itertuples()
    }


def test_legacy_cur_sums_per_day_and_group_after_the_tag_filter(tmp_path: Path) -> None:
    bill = write_csv(tmp_path / "cur.csv", LEGACY, legacy_rows())
    result = read_bills([bill], "day", [TagFilter.parse("Project=Demo")])
    # Nov 1: g5 rows a + b = 2.012, the volume 0.05; Nov 2: row c = 1.006. e (Other), f (untagged) out.
    assert totals(result) == {
        ("2026-11-01", "g5.xlarge"): 2.012,
        ("2026-11-01", "vol-1"): 0.05,
        ("2026-11-02", "g5.xlarge"): 1.006,
    }
    assert result.formats == ((str(bill), "AWS CUR"),)
    assert (result.rows_read, result.rows_kept) == (6, 4)


def test_no_tag_keeps_every_row_and_gzip_reads_the_same(tmp_path: Path) -> None:
    bill = write_csv(tmp_path / "cur.csv.gz", LEGACY, legacy_rows())
    result = read_bills([bill], "month")
    # One month: g5 3 × 1.006 = 3.018, vol 0.05, p5 98.32, g6 7.0.
    assert totals(result) == {
        ("2026-11-01", "g5.xlarge"): 3.018,
        ("2026-11-01", "vol-1"): 0.05,
        ("2026-11-01", "p5.48xlarge"): 98.32,
        ("2026-11-01", "g6.xlarge"): 7.0,
    }


def test_cur2_reads_both_tag_key_spellings_and_naive_dates_as_utc(tmp_path: Path) -> None:
    header = [
        "line_item_usage_start_date",
        "line_item_unblended_cost",
        "product_instance_type",
        "line_item_resource_id",
        "line_item_currency_code",
        "resource_tags",
    ]
    rows = [
        [
            "2026-11-01 23:00:00.000",
            "1.5",
            "g6.xlarge",
            "i-1",
            "USD",
            json.dumps({"user_project": "Demo"}),
        ],
        [
            "2026-11-02 00:00:00.000",
            "2.5",
            "g6.xlarge",
            "i-1",
            "USD",
            json.dumps({"user:Project": "Demo"}),
        ],
        [
            "2026-11-02 00:00:00.000",
            "9.0",
            "g6.xlarge",
            "i-9",
            "USD",
            json.dumps({"user_project": "Other"}),
        ],
        ["2026-11-02 01:00:00.000", "4.0", "g6.xlarge", "i-8", "USD", ""],
    ]
    bill = write_csv(tmp_path / "cur2.csv", header, rows)
    result = read_bills([bill], "day", [TagFilter("Project", "Demo")])
    assert totals(result) == {("2026-11-01", "g6.xlarge"): 1.5, ("2026-11-02", "g6.xlarge"): 2.5}
    assert result.formats[0][1] == "AWS CUR 2.0"


def test_focus_prefers_effective_cost_and_converts_offsets_to_utc(tmp_path: Path) -> None:
    header = [
        "BilledCost",
        "EffectiveCost",
        "ChargePeriodStart",
        "ChargePeriodEnd",
        "BillingCurrency",
        "ResourceId",
        "x_UsageType",
        "Tags",
    ]
    tags = json.dumps({"Project": "Demo"})
    rows = [
        # 01:30 at +02:00 is 23:30 UTC on Nov 1: half of the hour falls on each day.
        [
            "10.0",
            "4.0",
            "2026-11-02T01:30:00+02:00",
            "2026-11-02T02:30:00+02:00",
            "USD",
            "i-1",
            "USE1-BoxUsage:g5.xlarge",
            tags,
        ],
        [
            "10.0",
            "6.0",
            "2026-11-02T00:30:00Z",
            "2026-11-02T01:30:00Z",
            "USD",
            "i-1",
            "USE1-BoxUsage:g5.xlarge",
            tags,
        ],
        [
            "3.0",
            "3.0",
            "2026-11-02T00:30:00Z",
            "2026-11-02T01:30:00Z",
            "USD",
            "vol-7",
            "USE1-EBS:VolumeUsage.gp3",
            tags,
        ],
    ]
    bill = write_csv(tmp_path / "focus.csv", header, rows)
    result = read_bills([bill], "day", [TagFilter("Project", "Demo")])
    # A charge spanning two report periods is prorated over them by time.
    assert totals(result) == {
        ("2026-11-01", "g5.xlarge"): 2.0,
        ("2026-11-02", "g5.xlarge"): 8.0,
        ("2026-11-02", "vol-7"): 3.0,
    }
    assert result.formats[0][1] == "FOCUS"


def test_weeks_start_on_monday(tmp_path: Path) -> None:
    rows = [
        ["a", "2026-11-01T23:00:00Z", "", "1", "1", "g5.xlarge", "i-1", "USD", "Demo"],  # Sunday
        ["b", "2026-11-02T00:00:00Z", "", "2", "1", "g5.xlarge", "i-1", "USD", "Demo"],  # Monday
        ["c", "2026-11-08T23:59:59Z", "", "4", "1", "g5.xlarge", "i-1", "USD", "Demo"],  # Sunday
    ]
    result = read_bills([write_csv(tmp_path / "cur.csv", LEGACY, rows)], "week")
    assert totals(result) == {("2026-10-26", "g5.xlarge"): 1.0, ("2026-11-02", "g5.xlarge"): 6.0}


def test_unknown_columns_name_every_expected_set(tmp_path: Path) -> None:
    bill = write_csv(tmp_path / "other.csv", ["date", "amount"], [["2026-11-01", "1"]])
    with pytest.raises(BadInput) as err:
        read_bills([bill], "day")
    message = str(err.value)
    assert str(bill) in message
    for expected in ("lineItem/UsageStartDate", "line_item_usage_start_date", "ChargePeriodStart"):
        assert expected in message


def test_a_tag_that_matches_nothing_says_what_values_exist(tmp_path: Path) -> None:
    bill = write_csv(tmp_path / "cur.csv", LEGACY, legacy_rows())
    with pytest.raises(BadInput, match=r"--tag Project=Nope matches no row.*Demo, Other"):
        read_bills([bill], "day", [TagFilter("Project", "Nope")])
    with pytest.raises(BadInput, match="no row carries a tag Team"):
        read_bills([bill], "day", [TagFilter("Team", "x")])


def test_mixed_and_foreign_currencies_are_refused(tmp_path: Path) -> None:
    usd = write_csv(tmp_path / "usd.csv", LEGACY, legacy_rows()[:1])
    eur_row = [*legacy_rows()[0][:7], "EUR", "Demo"]
    eur = write_csv(tmp_path / "eur.csv", LEGACY, [eur_row])
    with pytest.raises(BadInput, match="mix currencies"):
        read_bills([usd, eur], "day")
    with pytest.raises(BadInput, match="bills are in EUR"):
        read_bills([eur], "day")


def test_bad_costs_and_dates_name_their_lines(tmp_path: Path) -> None:
    rows = legacy_rows()[:3]
    rows[1][3] = "n/a"
    bill = write_csv(tmp_path / "cur.csv", LEGACY, rows)
    with pytest.raises(BadInput, match=r"UnblendedCost is not a number on line\(s\) 3"):
        read_bills([bill], "day")
    rows = legacy_rows()[:3]
    rows[2][1] = "yesterday"
    bill = write_csv(tmp_path / "cur.csv", LEGACY, rows)
    with pytest.raises(BadInput, match=r"UsageStartDate is not a date on line\(s\) 4"):
        read_bills([bill], "day")


def test_missing_bill_and_bad_tag_syntax(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="does not exist"):
        read_bills([tmp_path / "nope.csv"], "day")
    with pytest.raises(BadInput, match="KEY=VALUE"):
        TagFilter.parse("Project")
