"""Pricing a row whose server's prefix cache served input: cost per input token cached and
uncached beside the blended cost (hand-computed), the market input price blended at the
measured hit rate, and tampered hit rates or cached counts refused on the way in."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest

from harness.money import PRICED_COLUMNS
from harness.money.cached_input import blended_prices, split_input_cost
from tests.cli_helpers import invoke, one_line_error
from tests.helpers_runs import TEST_CARD, text_row, write_run

# 1 s on test:one ($3.60/h on demand, u = 1) = $0.001 a batch; prefill 0.25 s of 1 s puts
# a quarter on 1,000 input tokens: $2.5e-7 each, blended. 60 % cached: the 400 uncached carry
# it, $6.25e-7 each; a cached token costs nothing.
CACHED_ROW = text_row(8, 1.0, prefill_s=0.25, decode_s=0.75, input_len=125, output_len=50,
                      cached_input_tokens=600, cache_hit_rate=0.6)  # fmt: skip


def _priced(tmp_path: Path, *rows: dict, fmt: str = "csv") -> list[dict]:
    card = tmp_path / "test.yaml"
    card.write_text(TEST_CARD, encoding="utf-8")
    run = write_run(tmp_path / "results", list(rows))
    result = invoke("price", run, "--ratecard", card, "--instance", "test:one",
                    "--plan", "on_demand", "--format", fmt)  # fmt: skip
    assert result.exit_code == 0, result.output
    if fmt == "json":
        return json.loads(result.stdout)
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_split_by_hand() -> None:
    uncached, cached = split_input_cost(pd.Series([2.5e-7, 2.5e-7, 2.5e-7, None, 2.5e-7]),
                                        pd.Series([0.6, 0.0, 1.0, 0.5, 1.5]))  # fmt: skip
    assert uncached[0] == pytest.approx(6.25e-7) and cached[0] == 0.0
    assert uncached[1] == pytest.approx(2.5e-7)  # nothing cached: uncached is the blend
    assert pd.isna(uncached[2]) and cached[2] == 0.0  # no uncached token to carry the cost
    assert pd.isna(uncached[3]) and pd.isna(cached[3])  # no input cost measured
    assert pd.isna(uncached[4]) and pd.isna(cached[4])  # not a share
    assert float(blended_prices(0.15e-6, 0.075e-6, 0.6)) == pytest.approx(0.105e-6)
    assert pd.isna(float(blended_prices(0.15e-6, float("nan"), 0.6)))


def test_csv_has_cached_and_uncached_costs_and_blended_market_price(tmp_path: Path) -> None:
    rows = _priced(tmp_path, CACHED_ROW)
    assert list(rows[0])[: len(PRICED_COLUMNS)] == list(PRICED_COLUMNS)
    inputs = [r for r in rows if r["unit"] == "input_token"]
    assert inputs
    for r in inputs:
        assert float(r["cost_per_unit_usd"]) == pytest.approx(2.5e-7)
        assert float(r["cost_per_uncached_input_token_usd"]) == pytest.approx(6.25e-7)
        assert float(r["cost_per_cached_input_token_usd"]) == 0.0
        assert float(r["cache_hit_rate"]) == pytest.approx(0.6)
    # GPT-4o-mini: $0.15 per 1M input, $0.075 cached → 0.6 × 0.075 + 0.4 × 0.15 = $0.105 per 1M
    mini = next(r for r in inputs if r["uncached_price_per_unit_usd"]
                and float(r["uncached_price_per_unit_usd"]) == pytest.approx(0.15e-6))  # fmt: skip
    assert float(mini["cached_price_per_unit_usd"]) == pytest.approx(0.075e-6)
    assert float(mini["price_per_unit_usd"]) == pytest.approx(0.105e-6)
    assert float(mini["gross_margin"]) == pytest.approx((0.105e-6 - 2.5e-7) / 0.105e-6)
    # the other units of the row carry no split
    output = next(r for r in rows if r["unit"] == "output_token")
    assert output["cost_per_uncached_input_token_usd"] == ""
    assert float(output["uncached_price_per_unit_usd"]) == float(output["price_per_unit_usd"])


def test_a_row_without_a_hit_rate_keeps_the_list_price(tmp_path: Path) -> None:
    rows = _priced(tmp_path, text_row(8, 1.0, prefill_s=0.25, decode_s=0.75, input_len=125),
                   fmt="json")  # fmt: skip
    inputs = [r for r in rows if r["unit"] == "input_token"]
    assert all(r["cost_per_uncached_input_token_usd"] is None for r in inputs)
    mini = next(r for r in inputs if r["price_per_unit_usd"] == pytest.approx(0.15e-6))
    assert mini["cached_price_per_unit_usd"] == pytest.approx(0.075e-6)  # quoted, not applied


def test_default_table_shows_the_split_only_for_cached_rows(tmp_path: Path) -> None:
    card = tmp_path / "test.yaml"
    card.write_text(TEST_CARD, encoding="utf-8")
    cached = write_run(tmp_path / "a", [CACHED_ROW])
    out = invoke("price", cached, "--ratecard", card, "--instance", "test:one",
                 "--plan", "on_demand").output
    line = next(x for x in out.splitlines() if "prefix cache" in x)
    assert "60% served from the prefix cache" in line
    assert "$0.250 blended" in out and "$0.625" in out and "$0 cached" in out
    assert "cached and uncached prices blended" in out
    assert max(len(x) for x in out.splitlines()) <= 80
    plain = write_run(tmp_path / "b", [text_row(8, 1.0, prefill_s=0.25, decode_s=0.75)])
    out = invoke("price", plain, "--ratecard", card, "--instance", "test:one").output
    assert "prefix cache" not in out and "blended at" not in out


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"cache_hit_rate": 1.5}, "cache_hit_rate 1.5 is not a number in [0, 1]"),
        ({"cache_hit_rate": -0.1}, "cache_hit_rate -0.1 is not a number in [0, 1]"),
        ({"cached_input_tokens": 1001}, "cached_input_tokens 1001 is above input_tokens 1000"),
        ({"cached_input_tokens": -5}, "cached_input_tokens -5 is not a whole number >= 0"),
        ({"cached_input_tokens": 2.5}, "cached_input_tokens 2.5 is not a whole number >= 0"),
    ],
)
def test_a_tampered_cache_count_is_refused(tmp_path: Path, values: dict, expected: str) -> None:
    run = write_run(tmp_path / "results", [CACHED_ROW | values])
    for command in ("price", "compare"):
        error = one_line_error(invoke(command, run))
        assert expected in error and "measurements.csv: line 2" in error
