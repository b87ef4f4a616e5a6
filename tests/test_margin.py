"""Candidate prices, gross margin, target-margin prices and product scenarios."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import BadInput
from harness.money import (
    PRICED_COLUMNS,
    CandidatePrice,
    apply_prices,
    batch_costs,
    gross_margin,
    load_scenario,
    parse_price,
    parse_target_margin,
    price_for_margin,
    scenario_costs,
    unit_costs,
)
from harness.money.context import PricingContext
from harness.results.runs import load_run, measurements_frame
from tests.helpers_runs import card_instances, embedding_row, text_row, write_run


@pytest.fixture
def instances(tmp_path: Path) -> list:
    return card_instances(tmp_path / "cards")


def test_parse_price_scales_to_a_single_unit() -> None:
    price = parse_price("text.output_token=0.60/1M")
    assert (price.workload, price.unit, price.scale) == ("text", "output_token", 1_000_000)
    assert price.price_per_unit_usd == pytest.approx(0.6e-6)
    assert parse_price("image.image=0.04").price_per_unit_usd == 0.04
    assert parse_price("retrieval.query=0.5/1K").price_per_unit_usd == pytest.approx(0.0005)
    assert parse_price("embedding.token=0.02/1m").price_per_unit_usd == pytest.approx(2e-8)
    assert parse_price("asr.audio_minute=0.006").quoted == "$0.006"
    assert parse_price("text.output_token=0.60/1M").quoted == "$0.60/1M"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("text.output_token", "expected WORKLOAD.UNIT=VALUE"),
        ("text.output_token=abc", "expected WORKLOAD.UNIT=VALUE"),
        ("video.frame=1", "unknown workload 'video'"),
        ("text.frames=1", "text has no unit 'frames'"),
        ("image.token=1", "image has no unit 'token'"),
        ("text.output_token=-1", "must not be negative"),
        ("text.output_token=1/1G", "unknown scale '1G'"),
    ],
)
def test_bad_prices_name_the_option_and_reason(text: str, reason: str) -> None:
    with pytest.raises(BadInput) as err:
        parse_price(text)
    assert f"--price {text!r}" in str(err.value) and reason in str(err.value)


def test_target_margins_accept_percent_and_share() -> None:
    assert parse_target_margin("70") == pytest.approx(0.7)
    assert parse_target_margin("70%") == pytest.approx(0.7)
    assert parse_target_margin("0.7") == pytest.approx(0.7)
    for bad in ("0", "100", "150", "-5", "lots"):
        with pytest.raises(BadInput, match="--target-margin"):
            parse_target_margin(bad)


def _costs(tmp_path: Path, instances, rows) -> pd.DataFrame:
    frame = measurements_frame([load_run(write_run(tmp_path / "runs", rows))])
    return unit_costs(frame, PricingContext(instances, plans=["on_demand"]))


def test_apply_prices_golden(tmp_path: Path, instances) -> None:
    costs = _costs(tmp_path, instances, [text_row(8, 2.0, prefill_s=0.5, decode_s=1.5)])
    priced = apply_prices(costs, [parse_price("text.output_token=6.00/1M")], (0.5, 0.8))
    assert list(priced.columns[: len(PRICED_COLUMNS)]) == list(PRICED_COLUMNS)
    out = priced[(priced["instance"] == "one") & (priced["unit"] == "output_token")].iloc[0]
    # cost $0.0015 ÷ 512 = $0.0000029297 per output token; price $0.000006
    cost = 0.0015 / 512
    assert out["price_per_unit_usd"] == pytest.approx(6e-6)
    assert out["gross_margin"] == pytest.approx((6e-6 - cost) / 6e-6)  # ≈ 51.2 %
    assert out["break_even_price_usd"] == pytest.approx(cost)
    assert out["price_for_margin_50_usd"] == pytest.approx(cost / 0.5)
    assert out["price_for_margin_80_usd"] == pytest.approx(cost / 0.2)
    # units without a candidate keep their rows, with empty price and margin
    req = priced[(priced["instance"] == "one") & (priced["unit"] == "request")].iloc[0]
    assert math.isnan(req["price_per_unit_usd"]) and math.isnan(req["gross_margin"])
    assert req["break_even_price_usd"] == pytest.approx(0.00025)


def test_several_candidates_give_one_row_each(tmp_path: Path, instances) -> None:
    costs = _costs(tmp_path, instances, [embedding_row()])
    prices = [
        CandidatePrice("embedding", "token", 2e-8, 1_000_000, "small"),
        CandidatePrice("embedding", "token", 1.3e-7, 1_000_000, "large"),
    ]
    priced = apply_prices(costs, prices)
    tokens = priced[(priced["unit"] == "token") & (priced["instance"] == "one")]
    assert sorted(tokens["price_label"]) == ["large", "small"]
    assert (
        tokens.set_index("price_label").loc["large", "gross_margin"]
        > tokens.set_index("price_label").loc["small", "gross_margin"]
    )


def test_free_price_has_no_margin() -> None:
    assert math.isnan(gross_margin(0.0, 0.001))


cost_values = st.floats(min_value=1e-9, max_value=100.0, allow_nan=False)


@settings(max_examples=100, deadline=None)
@given(cost=cost_values, low=st.floats(1e-9, 1e3), high=st.floats(1e-9, 1e3))
def test_margin_rises_with_price(cost: float, low: float, high: float) -> None:
    low, high = sorted((low, high))
    if high > low:
        assert gross_margin(high, cost) > gross_margin(low, cost)


@settings(max_examples=100, deadline=None)
@given(cost=cost_values)
def test_margin_at_break_even_is_zero(cost: float) -> None:
    assert gross_margin(cost, cost) == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(cost=cost_values, margin=st.floats(min_value=0.0, max_value=0.99))
def test_price_for_margin_gives_that_margin(cost: float, margin: float) -> None:
    assert gross_margin(price_for_margin(cost, margin), cost) == pytest.approx(margin, abs=1e-9)


@settings(max_examples=20, deadline=None)
@given(prices=st.lists(st.floats(1e-8, 1e-3), min_size=2, max_size=6, unique=True))
def test_margin_rises_with_price_through_apply_prices(prices: list[float]) -> None:
    costs = pd.DataFrame({c: [None] for c in PRICED_COLUMNS[:12]})
    costs = costs.assign(workload="image", unit="image", cost_per_unit_usd=1e-5)
    candidates = [CandidatePrice("image", "image", p, 1, f"p{i}") for i, p in enumerate(prices)]
    priced = apply_prices(costs, candidates).sort_values("price_per_unit_usd")
    assert priced["gross_margin"].is_monotonic_increasing


SCENARIO = """\
name: helpdesk
workload: text
batch_size: 8
expected_monthly_calls: 100000
direct_costs_per_call:
  third_party_api_usd: 0.001
  licence_usd: 0.0005
  egress_usd_per_gb: 0.09
  egress_bytes: 1000000
  storage_usd_per_gb_month: 0.02
  storage_gb: 0.001
  storage_months: 12
  review_share: 0.01
  review_minutes: 3
  review_wage_usd_per_hour: 40
revenue:
{revenue}
"""

# Direct per call: API $0.001 + licence $0.0005 + egress $0.09 × 1e6 B ÷ 1e9 = $0.00009
# + storage $0.02 × 0.001 GB × 12 months = $0.00024 + review 0.01 × 3 min × $40/h ÷ 60 = $0.02
DIRECT = 0.001 + 0.0005 + 0.00009 + 0.00024 + 0.02
# Compute per call on "one" on-demand: $0.002 per batch ÷ 8 requests = $0.00025
COMPUTE = 0.00025


def scenario_rows(tmp_path: Path, instances, revenue: str) -> pd.DataFrame:
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO.format(revenue=revenue), encoding="utf-8")
    scenario = load_scenario(path)
    frame = measurements_frame(
        [load_run(write_run(tmp_path / "runs", [text_row(1, 0.5), text_row(8, 2.0)]))]
    )
    batch = batch_costs(frame, PricingContext(instances, ["on_demand"]))
    rows = scenario_costs(batch, scenario, (0.5,))
    assert set(rows["batch_size"]) == {8} and set(rows["unit"]) == {"request"}
    return rows.set_index("instance")


def test_scenario_per_call(tmp_path: Path, instances) -> None:
    rows = scenario_rows(tmp_path, instances, "  model: per_call\n  price_usd: 0.05")
    one = rows.loc["one"]
    assert one["direct_cost_per_call_usd"] == pytest.approx(DIRECT)
    assert one["compute_cost_per_call_usd"] == pytest.approx(COMPUTE)
    assert one["cost_per_unit_usd"] == pytest.approx(DIRECT + COMPUTE)  # $0.02208
    assert one["gross_margin"] == pytest.approx((0.05 - 0.02208) / 0.05)  # 55.84 %
    assert one["price_for_margin_50_usd"] == pytest.approx(0.02208 / 0.5)
    assert one["monthly_cost_usd"] == pytest.approx(0.02208 * 100000)


def test_scenario_per_unit(tmp_path: Path, instances) -> None:
    rows = scenario_rows(
        tmp_path,
        instances,
        "  model: per_unit\n  prices: {input_token: 1.00/1M, output_token: 4.00/1M}",
    )
    # a call is 128 input + 64 output tokens: 128 × $1e-6 + 64 × $4e-6 = $0.000384
    assert rows.loc["one", "price_per_unit_usd"] == pytest.approx(0.000384)


def test_scenario_bundle(tmp_path: Path, instances) -> None:
    rows = scenario_rows(
        tmp_path,
        instances,
        "  model: bundle\n  package_price_usd: 20\n"
        "  included_units: 1000\n  expected_use_share: 0.5",
    )
    # $20 ÷ (1000 calls × 0.5 used) = $0.04 per call actually made
    assert rows.loc["one", "price_per_unit_usd"] == pytest.approx(0.04)
    assert rows.loc["one", "gross_margin"] == pytest.approx((0.04 - 0.02208) / 0.04)


def test_scenario_free_has_cost_and_no_margin(tmp_path: Path, instances) -> None:
    rows = scenario_rows(tmp_path, instances, "  model: free")
    one = rows.loc["one"]
    assert math.isnan(one["gross_margin"]) and math.isnan(one["price_per_unit_usd"])
    assert one["monthly_cost_usd"] == pytest.approx(0.02208 * 100000)  # $2,208 a month
    assert one["monthly_revenue_usd"] == 0


BAD_SCENARIOS = {
    "review_share: 0.01": ("review_share: 1.5", "review_share must be a share between 0 and 1"),
    "egress_usd_per_gb: 0.09": (
        "egress_usd_per_gb: -0.09",
        "egress_usd_per_gb must not be negative",
    ),
    "  model: per_call\n  price_usd: 0.05": ("  model: subscription", "unknown revenue model"),
    "workload: text": ("workload: video", "workload 'video' is unknown"),
    "storage_months: 12": ("storage_months: 12\n  tip_usd: 1", "unknown field 'tip_usd'"),
    "expected_monthly_calls: 100000\n": ("", "needs expected_monthly_calls"),
}


@pytest.mark.parametrize("key", sorted(BAD_SCENARIOS))
def test_bad_scenarios_name_file_and_field(key: str, tmp_path: Path) -> None:
    replacement, reason = BAD_SCENARIOS[key]
    revenue = "  model: free" if "monthly" in key else "  model: per_call\n  price_usd: 0.05"
    text = SCENARIO.format(revenue=revenue).replace(key, replacement)
    assert text != SCENARIO.format(revenue=revenue)
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BadInput) as err:
        load_scenario(path)
    assert str(path) in str(err.value) and reason in str(err.value)
    assert "\n" not in str(err.value)


def test_example_scenario_loads() -> None:
    scenario = load_scenario(Path(__file__).parent.parent / "docs" / "examples" / "scenario.yaml")
    assert scenario.workload == "text" and scenario.direct_costs.per_call_usd() > 0
