"""The cost engine against hand-computed figures for every unit and plan, and its properties."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.money import COST_COLUMNS, Instance, unit_costs
from harness.money.context import PricingContext
from harness.results.runs import load_run, measurements_frame
from tests.helpers_runs import (
    asr_row,
    card_instances,
    embedding_row,
    image_row,
    retrieval_row,
    row,
    text_row,
    tts_row,
    write_run,
)


@pytest.fixture
def instances(tmp_path: Path) -> list[Instance]:
    return card_instances(tmp_path / "cards")


def frame_of(tmp_path: Path, rows: list[dict], **kwargs) -> pd.DataFrame:
    return measurements_frame([load_run(write_run(tmp_path / "runs", rows, **kwargs))])


def cost(
    costs: pd.DataFrame,
    unit: str,
    instance: str = "one",
    plan: str = "on_demand",
    utilization: float = 1.0,
    batch_size: int | None = None,
) -> float:
    mask = (
        (costs["unit"] == unit)
        & (costs["instance"] == instance)
        & (costs["plan"] == plan)
        & (costs["utilization"] == utilization)
    )
    if batch_size is not None:
        mask &= costs["batch_size"] == batch_size
    picked = costs.loc[mask, "cost_per_unit_usd"]
    assert len(picked) == 1, costs[mask]
    return float(picked.iloc[0])


def test_text_units_split_by_prefill_and_decode(tmp_path: Path, instances) -> None:
    costs = unit_costs(
        frame_of(tmp_path, [text_row(8, 2.0, prefill_s=0.5, decode_s=1.5)]),
        PricingContext(instances),
    )
    # 2.0 s × $3.60/h ÷ 3600 = $0.002 per batch of 8 requests × (128 in + 64 out) tokens
    # input share 0.5 / (0.5 + 1.5) = 0.25: $0.0005 ÷ 1024 input tokens
    assert cost(costs, "input_token") == pytest.approx(0.0005 / 1024)
    # output share 0.75: $0.0015 ÷ 512 output tokens
    assert cost(costs, "output_token") == pytest.approx(0.0015 / 512)
    # whole batch ÷ 8 requests = $0.00025
    assert cost(costs, "request") == pytest.approx(0.00025)
    units = costs.set_index(["instance", "plan", "unit"])["units_per_batch"]
    assert units[("one", "on_demand", "input_token")] == 1024
    assert units[("one", "on_demand", "output_token")] == 512


def test_every_plan_scales_with_its_hourly_price(tmp_path: Path, instances) -> None:
    costs = unit_costs(frame_of(tmp_path, [image_row(8, 2.0)]), PricingContext(instances))
    # on-demand $3.60/h: 2.0 s → $0.002 per batch ÷ 8 images = $0.00025
    assert cost(costs, "image") == pytest.approx(0.00025)
    # spot $1.80/h → $0.000125; reserved 1y $2.88/h → $0.0002; reserved 3y $1.44/h → $0.0001
    assert cost(costs, "image", plan="spot") == pytest.approx(0.000125)
    assert cost(costs, "image", plan="reserved_1y") == pytest.approx(0.0002)
    assert cost(costs, "image", plan="reserved_3y") == pytest.approx(0.0001)
    # 8-GPU instance at $28.80/h is $3.60 per GPU-hour: one GPU used → same $0.00025
    assert cost(costs, "image", instance="eight") == pytest.approx(0.00025)
    # the run's GPU is an H100: the L4 and CPU instances are not offered
    assert set(costs["instance"]) == {"one", "eight", "rack"}


def test_utilization_divides_compute(tmp_path: Path, instances) -> None:
    costs = unit_costs(
        frame_of(tmp_path, [image_row(8, 2.0)]),
        PricingContext(instances, plans=["on_demand"], utilizations=(0.5, 1.0)),
    )
    # u = 0.5: half the paid time is useful → $0.002 ÷ 0.5 = $0.004 per batch ÷ 8 = $0.0005
    assert cost(costs, "image", utilization=0.5) == pytest.approx(0.0005)
    assert cost(costs, "image", utilization=1.0) == pytest.approx(0.00025)


def test_asr_tts_embedding_retrieval_units(tmp_path: Path, instances) -> None:
    rows = [
        asr_row(4, 1.5, audio_s_each=30.0),
        tts_row(2, 0.9, characters_each=500),
        embedding_row(32, 0.4, seq_len=256),
        retrieval_row(100, 0.05),
    ]
    costs = unit_costs(frame_of(tmp_path, rows), PricingContext(instances, plans=["on_demand"]))
    # asr: 1.5 s → $0.0015 per batch; 4 × 30 s = 120 s = 2 audio minutes → $0.00075 per minute
    assert cost(costs, "audio_minute") == pytest.approx(0.00075)
    # tts: 0.9 s → $0.0009; 2 × 500 = 1000 characters → $0.0000009 per character
    assert cost(costs, "character") == pytest.approx(0.0009 / 1000)
    # embedding: 0.4 s → $0.0004; 32 × 256 = 8192 tokens; 32 sequences
    assert cost(costs, "token") == pytest.approx(0.0004 / 8192)
    assert cost(costs, "sequence") == pytest.approx(0.0004 / 32)
    # retrieval: 0.05 s → $0.00005 per batch of 100 queries → $0.0000005 per query
    assert cost(costs, "query") == pytest.approx(5e-7)
    assert costs.loc[costs["unit"] == "audio_minute", "units_per_batch"].iloc[0] == 2.0
    assert sorted(set(costs["unit"])) == sorted(
        ["audio_minute", "character", "token", "sequence", "query"]
    )


def test_text_without_phase_split_has_empty_token_costs(tmp_path: Path, instances) -> None:
    costs = unit_costs(
        frame_of(tmp_path, [text_row(8, 2.0, prefill_s=None, decode_s=None)]),
        PricingContext(instances, plans=["on_demand"]),
    )
    assert math.isnan(cost(costs, "input_token"))
    assert math.isnan(cost(costs, "output_token"))
    assert cost(costs, "request") == pytest.approx(0.00025)  # the whole batch is still known


def test_self_hosted_adds_measured_energy(tmp_path: Path, instances) -> None:
    rows = frame_of(tmp_path, [image_row(8, 2.0, energy_j=1200.0)])
    costs = unit_costs(rows, PricingContext(instances))
    owned = costs[costs["instance"] == "rack"]
    assert list(owned["plan"]) == ["owned"]
    # compute: $1.80/h ÷ 3600 × 2.0 s = $0.001; energy: 1200 J × PUE 1.5 ÷ 3.6e6 J/kWh × $0.10
    # = $0.00005; batch $0.00105 ÷ 8 images = $0.00013125
    assert cost(costs, "image", instance="rack", plan="owned") == pytest.approx(0.00013125)
    assert not owned["energy_estimated"].iloc[0]
    assert owned["energy_cost_usd"].iloc[0] == pytest.approx(0.00005)
    # a cloud price already includes electricity
    assert (
        costs.loc[costs["instance"] == "one", "energy_cost_usd"].isna().all()
    )  # cloud prices include electricity


def test_self_hosted_estimates_unmeasured_energy_from_power_limit(
    tmp_path: Path, instances
) -> None:
    rows = frame_of(tmp_path, [image_row(8, 2.0)], power_limit_w=700.0)
    costs = unit_costs(rows, PricingContext(instances))
    owned = costs[costs["instance"] == "rack"].iloc[0]
    # 700 W × 2.0 s = 1400 J × 1.5 ÷ 3.6e6 × $0.10 = $0.000058333; + $0.001 compute, ÷ 8
    assert owned["energy_estimated"]
    assert owned["energy_j_used"] == pytest.approx(1400.0)
    assert owned["cost_per_unit_usd"] == pytest.approx((0.001 + 1400 * 1.5 / 3.6e6 * 0.10) / 8)


def test_cpu_run_matches_cpu_instances(tmp_path: Path, instances) -> None:
    frame = frame_of(tmp_path, [image_row(8, 2.0, gpu_name=None)], gpu_name=None)
    costs = unit_costs(frame, PricingContext(instances))
    assert set(costs["instance"]) == {"cpu"} and set(costs["gpu"]) == {"none"}
    # $0.36/h ÷ 3600 × 2.0 s = $0.0002 ÷ 8 images = $0.000025
    assert cost(costs, "image", instance="cpu") == pytest.approx(0.000025)


def test_gpu_override_prices_on_another_gpu(tmp_path: Path, instances) -> None:
    costs = unit_costs(frame_of(tmp_path, [image_row(8, 2.0)]), PricingContext(instances, gpu="L4"))
    # $0.72/h ÷ 3600 × 2.0 s = $0.0004 ÷ 8 = $0.00005
    assert set(costs["instance"]) == {"l4"}
    assert cost(costs, "image", instance="l4") == pytest.approx(0.00005)


def test_rows_using_several_gpus_pay_for_them(tmp_path: Path, instances) -> None:
    rows = frame_of(tmp_path, [image_row(8, 2.0, gpus_used=2)])
    costs = unit_costs(rows, PricingContext(instances))
    # two of the eight GPUs: 2 × $0.002 = $0.004 ÷ 8 = $0.0005; a 1-GPU instance cannot run it
    assert set(costs["instance"]) == {"eight"}
    assert cost(costs, "image", instance="eight") == pytest.approx(0.0005)


def test_failed_rows_are_not_priced_and_columns_follow_the_contract(
    tmp_path: Path, instances
) -> None:
    rows = [image_row(8, 2.0), row("image", 64, None, status="oom")]
    costs = unit_costs(frame_of(tmp_path, rows), PricingContext(instances))
    assert list(costs.columns[: len(COST_COLUMNS)]) == list(COST_COLUMNS)
    assert "energy_estimated" in costs.columns
    assert set(costs["batch_size"]) == {8}


def test_bad_utilization_is_refused(tmp_path: Path, instances) -> None:
    from harness.errors import BadInput

    for bad in (0.0, 1.5, -0.1):
        with pytest.raises(BadInput, match="--utilization"):
            PricingContext(instances, utilizations=(bad,))


def _instance(price_per_hour: float, gpu_count: int = 1) -> Instance:
    return Instance(
        provider="p",
        name="i",
        gpu="H100-SXM-80GB",
        gpu_count=gpu_count,
        vcpus=1,
        memory_gib=1,
        region="r",
        prices_per_hour_usd={"on_demand": price_per_hour},
        currency="USD",
        as_of="2026-11-01",
        source="s",
        caveat=None,
        self_hosted=None,
    )


def _measurements(wall_s: float, images: int) -> pd.DataFrame:
    values = row("image", images, wall_s, images=images, requests=images)
    return pd.DataFrame([values])


money = st.floats(min_value=0.01, max_value=500.0, allow_nan=False)


@settings(max_examples=25, deadline=None)
@given(
    price=money,
    factor=st.floats(min_value=0.1, max_value=10.0),
    wall_s=st.floats(min_value=0.001, max_value=100.0),
    images=st.integers(1, 512),
)
def test_cost_is_linear_in_price(price: float, factor: float, wall_s: float, images: int) -> None:
    rows = _measurements(wall_s, images)
    base = unit_costs(rows, PricingContext([_instance(price)]))["cost_per_unit_usd"].iloc[0]
    scaled_costs = unit_costs(rows, PricingContext([_instance(price * factor)]))
    scaled = scaled_costs["cost_per_unit_usd"].iloc[0]
    assert scaled == pytest.approx(base * factor, rel=1e-9)
    assert base == pytest.approx(wall_s * price / 3600 / images, rel=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    price=money, u=st.floats(min_value=0.01, max_value=1.0), gpu_count=st.sampled_from([1, 2, 4, 8])
)
def test_cost_is_inverse_in_utilization(price: float, u: float, gpu_count: int) -> None:
    rows = _measurements(1.0, 4)
    costs = unit_costs(rows, PricingContext([_instance(price, gpu_count)], utilizations=(u, 1.0)))
    at_u = costs.loc[costs["utilization"] == u, "cost_per_unit_usd"].iloc[0]
    full = costs.loc[costs["utilization"] == 1.0, "cost_per_unit_usd"].iloc[0]
    assert at_u * u == pytest.approx(full, rel=1e-9)


def test_no_matching_instance_gives_an_empty_frame(tmp_path: Path) -> None:
    rows = frame_of(tmp_path, [text_row(8, 2.0, prefill_s=0.5, decode_s=1.5)])
    costs = unit_costs(rows, PricingContext([]))
    assert costs.empty
    assert list(costs.columns[: len(COST_COLUMNS)]) == list(COST_COLUMNS)
