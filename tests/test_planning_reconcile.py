"""`gpucost reconcile ... --plan PLAN.json`: the planned bill beside the bill's."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from tests.test_reconcile_cli import base_args, invoke, write_inputs


def _plan_file(root: Path, **fields: object) -> Path:
    # $0.25/h for 24 h: $6.00 a day planned; $0.006 per request, $0.12 per 1M output tokens.
    doc = {"total_cost_usd": 6.0, "horizon_hours": 24.0, "cost_per_request_usd": 0.006,
           "cost_per_1m_output_tokens_usd": 0.12, **fields}  # fmt: skip
    path = root / "plan.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_planned_bill_and_unit_cost_beside_the_bill(tmp_path: Path) -> None:
    files = write_inputs(tmp_path)
    plan = _plan_file(tmp_path)
    result = invoke([*base_args(files), "--plan", str(plan), "--format", "csv"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout))
    day1 = table[table["period_start"] == "2026-11-01T00:00:00+00:00"].set_index("unit")
    request = day1.loc["request"]
    assert request["planned_cost_usd"] == pytest.approx(6.0)
    assert request["planned_cost_per_unit_usd"] == pytest.approx(0.006)
    # The bill: $12 for 1000 requests, $0.012 each: twice the plan.
    assert request["plan_cost_ratio"] == pytest.approx(2.0)
    assert day1.loc["output_token"]["planned_cost_per_unit_usd"] == pytest.approx(0.12e-6)
    assert "Plan " in result.stderr and "$0.00600 per request" in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a plan JSON file"),
        ("[1, 2]", "expected a JSON object"),
        ('{"horizon_hours": 24}', "no total_cost_usd"),
        ('{"total_cost_usd": -1, "horizon_hours": 24}', "finite number ≥ 0"),
        ('{"total_cost_usd": 1, "horizon_hours": 0}', "horizon_hours must be > 0"),
        ('{"total_cost_usd": "12", "horizon_hours": 24}', "must be a number"),
    ],
)
def test_bad_plan_file_is_one_line(tmp_path: Path, content: str, message: str) -> None:
    files = write_inputs(tmp_path)
    plan = tmp_path / "plan.json"
    plan.write_text(content, encoding="utf-8")
    result = invoke([*base_args(files), "--plan", str(plan)])
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_plan_name_still_picks_the_floor_plan(tmp_path: Path) -> None:
    files = write_inputs(tmp_path)
    result = invoke([*base_args(files), "--plan", "on_demand", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "planned_cost_usd" not in result.stdout
