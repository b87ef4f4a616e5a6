"""Reconcile against the benchmark floor: a bill below the floor has no negative idle cost, and
the margin of per-unit and bundle revenue, each with a hand-computed answer."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from harness.cli import main

# -- reconcile ------------------------------------------------------------------------------------


def _reconcile(
    tmp_path: Path, scenario: str | None = None, bill_usd: float | None = None
) -> pd.DataFrame:
    from tests.test_reconcile_cli import CUR, base_args, floor_args, write_inputs

    files = write_inputs(tmp_path)
    if bill_usd is not None:
        with open(files["bill"], "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(CUR)
            writer.writerow(
                ["2026-11-01T00:00:00Z", str(bill_usd), "1", "gx.test", "i-1", "USD", "Demo"]
            )
    args = [*base_args(files), *floor_args(files), "--format", "csv"]
    if scenario is not None:
        files["scenario"].write_text(scenario, encoding="utf-8")
        args += ["--scenario", str(files["scenario"])]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout))
    table.attrs["stderr"] = result.stderr
    return table[table["period_start"] == "2026-11-01T00:00:00+00:00"].set_index(["unit", "split"])


def test_a_bill_below_the_floor_has_no_negative_idle_cost(tmp_path: Path) -> None:
    day1 = _reconcile(tmp_path, bill_usd=0.25)
    request = day1.loc[("request", "whole")]
    # $0.25 / 1000 = $0.00025 per request against a $0.0005 floor: implied utilisation 2.
    assert request["implied_utilization"] == pytest.approx(2.0)
    assert request["idle_cost_usd"] == 0.0


def test_reconcile_margin_per_unit_revenue(tmp_path: Path) -> None:
    scenario = (
        "name: d\nworkload: text\ndirect_costs_per_call: {third_party_api_usd: 0.001}\n"
        "revenue: {model: per_unit, prices: {input_token: 10.00/1M, output_token: 300.00/1M}}\n"
    )
    request = _reconcile(tmp_path, scenario).loc[("request", "whole")]
    # 100,000 input × $10/1M + 50,000 output × $300/1M = $1 + $15 = $16; cost $12 + $1 direct.
    assert request["revenue_usd"] == pytest.approx(16.0)
    assert request["gross_margin"] == pytest.approx(3.0 / 16.0)


def test_reconcile_margin_bundle_revenue(tmp_path: Path) -> None:
    scenario = (
        "name: d\nworkload: text\ndirect_costs_per_call: {third_party_api_usd: 0.001}\n"
        "revenue: {model: bundle, package_price_usd: 20, included_units: 1000,"
        " expected_use_share: 0.5}\n"
    )
    request = _reconcile(tmp_path, scenario).loc[("request", "whole")]
    # $20 ÷ (1000 × 0.5) = $0.04 per call × 1000 calls = $40; (40 − 13) / 40 = 0.675.
    assert request["revenue_usd"] == pytest.approx(40.0)
    assert request["gross_margin"] == pytest.approx(0.675)
