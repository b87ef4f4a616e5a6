"""Cost with confidence and cost on goodput in the money layer: `unit_costs`, `apply_prices`,
`gpucost price` (table, csv, json, scenario) and the report."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from harness.money import PRICED_COLUMNS, CandidatePrice, apply_prices, gross_margin, unit_costs
from harness.money.context import PricingContext
from harness.money.cost import COST_COLUMNS, COST_RANGE_COLUMNS
from harness.render.text import margin_range_text
from tests.cli_helpers import invoke
from tests.helpers_runs import TEST_CARD, asr_row, card_instances, row, text_row, write_run

INTERVAL = {"cost_factor_low": 0.9, "cost_factor_high": 1.25, "cost_cv": 0.08}
SLO = {"slo": "e2e_p99=2"}



def _card(tmp_path: Path) -> Path:
    path = tmp_path / "test.yaml"
    path.write_text(TEST_CARD, encoding="utf-8")
    return path


def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["run_id"] = "r1"
    return frame


def _one(costs: pd.DataFrame, batch: int, unit: str) -> pd.Series:
    picked = costs[(costs["batch_size"] == batch) & (costs["unit"] == unit)]
    picked = picked[(picked["instance"] == "one") & (picked["plan"] == "on_demand")]
    assert len(picked) == 1, picked
    return picked.iloc[0]


def test_unit_costs_carry_the_interval_goodput_cost_and_flag(tmp_path: Path) -> None:
    measured = _frame([
        # $0.001 per GPU-second on test:one; 2 s a batch of 4 × 64 output tokens = 128 tokens/s,
        # of which the requests that met the SLO served 32 tokens/s: a quarter.
        text_row(4, 2.0, **INTERVAL, **SLO, unstable=False, goodput_output_tokens_per_s=32.0,
                 goodput_requests_per_s=0.5, goodput_input_tokens_per_s=64.0),
        text_row(8, 2.0, unstable=True),  # no interval, no SLO
        text_row(16, 2.0, **SLO, goodput_output_tokens_per_s=0.0, goodput_requests_per_s=0.0,
                 goodput_input_tokens_per_s=0.0),  # no request met the SLO
    ])  # fmt: skip
    costs = unit_costs(measured, PricingContext(card_instances(tmp_path)))
    assert list(costs.columns[: len(COST_COLUMNS) + len(COST_RANGE_COLUMNS)]) == [
        *COST_COLUMNS, *COST_RANGE_COLUMNS,
    ]  # fmt: skip
    out = _one(costs, 4, "output_token")
    assert out["cost_per_unit_usd"] == pytest.approx(0.002 * 0.75 / 256)
    assert out["cost_per_unit_usd_low"] == pytest.approx(out["cost_per_unit_usd"] * 0.9)
    assert out["cost_per_unit_usd_high"] == pytest.approx(out["cost_per_unit_usd"] * 1.25)
    assert out["goodput_cost_per_unit_usd"] == pytest.approx(out["cost_per_unit_usd"] * 4)
    request = _one(costs, 4, "request")
    assert request["goodput_cost_per_unit_usd"] == pytest.approx(request["cost_per_unit_usd"] * 4)
    assert out["unstable"] == False  # noqa: E712
    plain = _one(costs, 8, "output_token")
    assert plain[["cost_per_unit_usd_low", "cost_per_unit_usd_high"]].isna().all()
    assert math.isnan(plain["goodput_cost_per_unit_usd"])  # no SLO: empty, not the raw cost
    assert plain["unstable"] == True  # noqa: E712
    assert _one(costs, 16, "output_token")["goodput_cost_per_unit_usd"] == math.inf


def test_goodput_cost_of_a_windowed_row_and_of_a_divided_unit(tmp_path: Path) -> None:
    windowed = row("text", 8, 0.5, window_s=10.0, output_tokens=1000.0, requests=20.0,
                   output_tokens_per_s=100.0, goodput_output_tokens_per_s=80.0,
                   goodput_requests_per_s=1.0, engine="endpoint", **SLO)  # fmt: skip
    # 4 × 30 s of audio in 1.5 s is 80 audio-s/s; 60 of them met the SLO.
    speech = asr_row(4, 1.5, goodput_audio_s_per_s=60.0, **SLO)
    costs = unit_costs(_frame([windowed, speech]), PricingContext(card_instances(tmp_path)))
    out = _one(costs, 8, "output_token")
    assert out["goodput_cost_per_unit_usd"] == pytest.approx(out["cost_per_unit_usd"] * 100 / 80)
    request = _one(costs, 8, "request")
    assert request["goodput_cost_per_unit_usd"] == pytest.approx(request["cost_per_unit_usd"] * 2)
    minute = _one(costs, 4, "audio_minute")
    assert minute["goodput_cost_per_unit_usd"] == pytest.approx(
        minute["cost_per_unit_usd"] * 80 / 60
    )


def test_margins_at_the_ends_of_the_cost_interval(tmp_path: Path) -> None:
    measured = _frame([text_row(4, 2.0, **INTERVAL), text_row(8, 2.0)])
    price = CandidatePrice("text", "output_token", 20e-6, 1_000_000, "test price")
    priced = apply_prices(unit_costs(measured, PricingContext(card_instances(tmp_path))), [price])
    assert list(priced.columns[: len(PRICED_COLUMNS)]) == list(PRICED_COLUMNS)
    out = priced[(priced["unit"] == "output_token") & (priced["batch_size"] == 4)]
    expected_low = gross_margin(out["price_per_unit_usd"], out["cost_per_unit_usd_high"])
    expected_high = gross_margin(out["price_per_unit_usd"], out["cost_per_unit_usd_low"])
    assert out["gross_margin_low"].tolist() == pytest.approx(expected_low.tolist())
    assert out["gross_margin_high"].tolist() == pytest.approx(expected_high.tolist())
    assert (out["gross_margin_low"] < out["gross_margin"]).all()
    assert (out["gross_margin"] < out["gross_margin_high"]).all()
    unmeasured = priced[(priced["unit"] == "output_token") & (priced["batch_size"] == 8)]
    assert unmeasured["gross_margin"].notna().all()
    assert unmeasured[["gross_margin_low", "gross_margin_high"]].isna().all(axis=None)


def test_a_margin_prints_with_its_interval_only_where_one_was_measured() -> None:
    assert margin_range_text(0.62, 0.58, 0.65) == "62.0% (58.0–65.0%)"
    assert margin_range_text(-0.05, -0.12, 0.02) == "-5.0% (-12.0 to 2.0%)"
    assert margin_range_text(0.62, math.nan, 0.65) == "62.0%"
    assert margin_range_text(0.62, 0.6201, 0.6204) == "62.0%"  # narrower than the last digit
    assert margin_range_text(math.nan, 0.5, 0.7) == "—"


def _priced_run(tmp_path: Path) -> Path:
    return write_run(tmp_path, [
        text_row(4, 2.0, **INTERVAL, **SLO, unstable=False, goodput_output_tokens_per_s=32.0,
                 goodput_requests_per_s=0.5, goodput_input_tokens_per_s=64.0),
        text_row(8, 2.0, wall_s_cv=0.02, cost_cv=0.15, cost_factor_low=0.7,
                 cost_factor_high=1.4, unstable=True, **SLO, goodput_output_tokens_per_s=0.0,
                 goodput_requests_per_s=0.0, goodput_input_tokens_per_s=0.0),
    ])  # fmt: skip


PRICE = ("--price", "text.output_token=20/1M", "--price", "text.input_token=5/1M")


def test_price_table_shows_the_margin_interval_goodput_cost_and_why_rows_are_unstable(
    tmp_path: Path,
) -> None:
    run = _priced_run(tmp_path)
    result = invoke("price", run, "--ratecard", _card(tmp_path), "--instance", "test:one",
                    "--plan", "on_demand", *PRICE, "-v")  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    # batch 4, output tokens: cost $5.859/1M ($4.395–$7.324), price $20/1M
    cost = 0.002 * 0.75 / 256
    low, high = ((1 - cost * f / 20e-6) * 100 for f in (1.25, 0.9))
    assert f"{(1 - cost / 20e-6) * 100:.1f}% ({low:.1f}–{high:.1f}%)" in text
    assert "on goodput" in text and "$23.44" in text  # four times the raw $5.859 per 1M
    assert "none met SLO" in text
    assert "text batch 8 (cost interval wide: cost CV 15%)" in text
    assert "text batch 4 (" not in text.split("unstable: run")[1].split("uncertain")[0]
    assert "no request met the SLO: run" in text and "text batch 8: no cost on goodput" in text


def test_price_csv_and_json_carry_the_new_contract_columns(tmp_path: Path) -> None:
    run = _priced_run(tmp_path)
    args = ["price", run, "--ratecard", _card(tmp_path), "--instance", "test:one", *PRICE]
    table = invoke(*args, "--format", "csv")
    assert table.exit_code == 0, table.output
    rows = list(csv.DictReader(io.StringIO(table.output)))
    assert list(rows[0])[: len(PRICED_COLUMNS)] == list(PRICED_COLUMNS)
    out = next(r for r in rows if r["batch_size"] == "8" and r["unit"] == "output_token")
    assert out["unstable"] == "True" and out["goodput_cost_per_unit_usd"] == "inf"
    assert float(out["gross_margin_low"]) < float(out["gross_margin"])
    data = json.loads(invoke(*args, "--format", "json").output)
    out = next(r for r in data if r["batch_size"] == 8 and r["unit"] == "output_token")
    assert out["goodput_cost_per_unit_usd"] is None  # JSON has no infinity
    assert out["cost_per_unit_usd_high"] == pytest.approx(out["cost_per_unit_usd"] * 1.4)


def test_a_scenario_interval_covers_the_compute_cost_only(tmp_path: Path) -> None:
    run = write_run(tmp_path, [text_row(4, 2.0, **INTERVAL)])
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "name: chat\nworkload: text\nbatch_size: 4\n"
        "direct_costs_per_call: {third_party_api_usd: 0.01}\n"
        "revenue: {model: per_call, price_usd: 0.05}\n",
        encoding="utf-8",
    )
    result = invoke("price", run, "--ratecard", _card(tmp_path), "--instance", "test:one",
                    "--plan", "on_demand", "--scenario", scenario, "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.output
    (rec,) = json.loads(result.output)
    compute = rec["compute_cost_per_call_usd"]
    assert compute == pytest.approx(0.002 / 4)
    assert rec["cost_per_unit_usd_low"] == pytest.approx(compute * 0.9 + 0.01)
    assert rec["cost_per_unit_usd_high"] == pytest.approx(compute * 1.25 + 0.01)
    assert rec["gross_margin_low"] == pytest.approx((0.05 - rec["cost_per_unit_usd_high"]) / 0.05)


def test_report_shows_the_cost_interval_and_the_unstable_mark(tmp_path: Path) -> None:
    run = _priced_run(tmp_path)
    page = tmp_path / "report.md"
    result = invoke("report", run, "--ratecard", _card(tmp_path), "--instance", "test:one",
                    *PRICE, "-o", page)  # fmt: skip
    assert result.exit_code == 0, result.output
    text = page.read_text(encoding="utf-8")
    answer = text.split("Cheapest instance and plan per workload")[1].split("\n\n")[1]
    assert "cost, 95 % interval" in answer and "margin (95 % interval)" in answer
    # batch 8 on reserved_3y ($1.44/h): $1.172 per 1M output tokens, × 0.7 and × 1.4
    assert "| 8! | $1.17 |" in answer and "| $1.17 | $0.820–$1.64 |" in answer
    assert "94.1% (91.8–95.9%)" in answer and "unstable:" in text
