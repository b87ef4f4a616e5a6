"""Rows measured over a window (endpoint, import, sweep) are charged window_s × gpus_used, with
the units served in that window; in-process batches keep wall_s_p50."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from harness.money import unit_costs
from harness.money.context import PricingContext
from harness.results.runs import load_run, measurements_frame
from tests.helpers_runs import card_instances, row, text_row, write_run


def _costs(tmp_path: Path, rows: list[dict]):
    frame = measurements_frame([load_run(write_run(tmp_path / "runs", rows))])
    context = PricingContext(card_instances(tmp_path / "cards"), plans=["on_demand"])
    return unit_costs(frame, context)


def _cost(costs, unit: str, instance: str = "eight") -> float:
    picked = costs.loc[(costs["unit"] == unit) & (costs["instance"] == instance), "cost_per_unit_usd"]
    assert len(picked) == 1, costs
    return float(picked.iloc[0])


def endpoint_row(**values) -> dict:
    # 100 requests served in a 10 s window on 8 GPUs; wall_s_* are per-request latencies.
    base = dict(engine="endpoint", concurrency=8, window_s=10.0, gpus_used=8, requests=100,
                input_tokens=100 * 128, output_tokens=100 * 64)  # fmt: skip
    return row("text", 8, 0.5, **{**base, **values})


def test_window_row_pays_window_times_gpus_and_output_tokens_carry_it_all(tmp_path: Path) -> None:
    costs = _costs(tmp_path, [endpoint_row()])
    # "eight": $28.80/h ÷ 8 GPUs = $0.001 per GPU-second; 10 s × 8 GPUs = $0.08 for the window
    assert _cost(costs, "request") == pytest.approx(0.08 / 100)
    assert _cost(costs, "output_token") == pytest.approx(0.08 / 6400)
    assert math.isnan(_cost(costs, "input_token"))  # no phase split: input tokens stay empty
    assert "one" not in set(costs["instance"])  # 8 GPUs do not fit a 1-GPU instance


def test_window_row_with_phases_splits_like_a_batch(tmp_path: Path) -> None:
    costs = _costs(tmp_path, [endpoint_row(prefill_s_p50=0.1, decode_s_p50=0.3)])
    assert _cost(costs, "input_token") == pytest.approx(0.08 * 0.25 / 12800)
    assert _cost(costs, "output_token") == pytest.approx(0.08 * 0.75 / 6400)


def test_window_row_splits_by_the_servers_own_phase_times(tmp_path: Path) -> None:
    # vLLM's /metrics: 2 s of prefill and 6 s of decode summed over the level's requests.
    costs = _costs(tmp_path, [endpoint_row(server_prefill_s_sum=2.0, server_decode_s_sum=6.0,
                                           cache_hit_rate=0.5)])  # fmt: skip
    assert _cost(costs, "input_token") == pytest.approx(0.08 * 0.25 / 12800)
    assert _cost(costs, "output_token") == pytest.approx(0.08 * 0.75 / 6400)
    # half the input served from the prefix cache: the uncached half carries the input share
    uncached = costs.loc[(costs["unit"] == "input_token") & (costs["instance"] == "eight"),
                         "cost_per_uncached_input_token_usd"]  # fmt: skip
    assert float(uncached.iloc[0]) == pytest.approx(0.08 * 0.25 / 12800 / 0.5)


def test_measured_phases_win_over_the_servers_sums(tmp_path: Path) -> None:
    costs = _costs(tmp_path, [endpoint_row(prefill_s_p50=0.1, decode_s_p50=0.3,
                                           server_prefill_s_sum=5.0, server_decode_s_sum=5.0)])
    assert _cost(costs, "input_token") == pytest.approx(0.08 * 0.25 / 12800)


def test_in_process_batch_still_pays_its_wall_time(tmp_path: Path) -> None:
    costs = _costs(tmp_path, [text_row(8, 2.0)])
    # "one": $3.60/h = $0.001 per second × 2.0 s = $0.002 per batch of 8 requests
    assert _cost(costs, "request", instance="one") == pytest.approx(0.002 / 8)
