"""How a period's requests are attributed to bill resource groups, and the `all` row."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from harness.reconcile.bills import BillTotals
from harness.reconcile.engine import reconcile
from harness.reconcile.periods import NS_PER_DAY
from harness.reconcile.requests import read_requests

NOV1 = 20_758 * NS_PER_DAY  # 2026-11-01T00:00:00Z
NOV2 = NOV1 + NS_PER_DAY


def bills(rows: list[tuple[int, str, float]]) -> BillTotals:
    frame = pd.DataFrame(rows, columns=["period_start_ns", "instance", "cost_usd"])
    frame["line_items"] = 1
    return BillTotals(frame, "USD", (), len(rows), len(rows))


def requests(tmp_path: Path, records: list[dict]) -> object:
    path = tmp_path / "requests.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return read_requests(path, "day")


def test_several_groups_put_unnamed_requests_on_an_all_row(tmp_path: Path) -> None:
    # Nov 1: instance $20 + volume $4; 8 requests of one image each, naming no instance.
    served = requests(
        tmp_path, [{"timestamp": "2026-11-01T08:00:00Z", "workload": "image", "images": 1}] * 8
    )
    result = reconcile(bills([(NOV1, "g5.xlarge", 20.0), (NOV1, "vol-1", 4.0)]), served, "day")
    table = result.table
    groups = table[table["instance"] != "all"]
    assert list(groups["instance"]) == ["g5.xlarge", "vol-1"]
    assert groups["inferences"].isna().all()  # their share of the requests is not known
    total = table[table["instance"] == "all"].set_index("unit")
    assert total.loc["request", "cost_usd"] == pytest.approx(24.0)
    assert total.loc["request", "cost_per_unit_usd"] == pytest.approx(3.0)  # $24 / 8
    assert total.loc["image", "cost_per_unit_usd"] == pytest.approx(3.0)


def test_requests_naming_an_instance_go_to_that_group(tmp_path: Path) -> None:
    records = [
        {
            "timestamp": "2026-11-01T08:00:00Z",
            "workload": "text",
            "instance": "g5.xlarge",
            "output_tokens": 10,
        },
        {
            "timestamp": "2026-11-01T09:00:00Z",
            "workload": "text",
            "instance": "g6.xlarge",
            "output_tokens": 30,
        },
        {
            "timestamp": "2026-11-01T09:00:00Z",
            "workload": "text",
            "instance": "g6.xlarge",
            "output_tokens": 10,
        },
    ]
    result = reconcile(
        bills([(NOV1, "g5.xlarge", 5.0), (NOV1, "g6.xlarge", 8.0)]),
        requests(tmp_path, records),
        "day",
    )
    rows = result.table.set_index(["instance", "unit"])
    assert rows.loc[("g5.xlarge", "output_token"), "cost_per_unit_usd"] == pytest.approx(
        0.5
    )  # 5/10
    assert rows.loc[("g6.xlarge", "request"), "cost_per_unit_usd"] == pytest.approx(4.0)  # 8/2
    assert rows.loc[("all", "output_token"), "cost_per_unit_usd"] == pytest.approx(13 / 50)


def test_requests_without_a_bill_show_no_cost(tmp_path: Path) -> None:
    served = requests(
        tmp_path, [{"timestamp": "2026-11-02T08:00:00Z", "workload": "text", "output_tokens": 5}]
    )
    result = reconcile(bills([(NOV1, "g5.xlarge", 5.0)]), served, "day")
    table = result.table
    nov1 = table[table["period_start"].str.startswith("2026-11-01")]
    nov2 = table[table["period_start"].str.startswith("2026-11-02")]
    assert list(nov1["inferences"]) == [0] and nov1["cost_per_unit_usd"].isna().all()
    assert nov2["cost_usd"].isna().all() and nov2["cost_per_unit_usd"].isna().all()
    assert set(nov2["instance"]) == {"all"} and nov2["units"].max() == 5


def test_unnamed_requests_leave_every_group_without_unit_costs(tmp_path: Path) -> None:
    # Nov 1: g5 $5, g6 $8; one request names g5, one g6, one names no instance (either served it).
    records = [
        {"timestamp": "2026-11-01T08:00:00Z", "workload": "text", "output_tokens": 10, **named}
        for named in ({"instance": "g5.xlarge"}, {"instance": "g6.xlarge"}, {})
    ]
    result = reconcile(
        bills([(NOV1, "g5.xlarge", 5.0), (NOV1, "g6.xlarge", 8.0)]),
        requests(tmp_path, records),
        "day",
    )
    table = result.table
    groups = table[table["instance"] != "all"]
    assert list(groups["instance"]) == ["g5.xlarge", "g6.xlarge"]
    assert list(groups["cost_usd"]) == [5.0, 8.0]
    assert groups["inferences"].isna().all() and groups["units"].isna().all()
    assert groups["cost_per_unit_usd"].isna().all()
    total = table[table["instance"] == "all"].set_index("unit")
    assert total.loc["request", "inferences"] == 3
    assert total.loc["request", "cost_per_unit_usd"] == pytest.approx(13 / 3)
    assert total.loc["output_token", "cost_per_unit_usd"] == pytest.approx(13 / 30)
