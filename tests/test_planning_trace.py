"""`gpucost plan --traffic TRACE`: demand from a trace's arrivals and lengths, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.planning.demand import demand_from_requests
from tests.test_planning_cli import _files


def _azure(path: Path, requests: list[tuple[float, int, int]]) -> Path:
    """An Azure-format trace: (seconds after 2023-11-16 18:00:00, context, generated tokens)."""
    lines = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
    for at, context, generated in requests:
        minutes, seconds = divmod(at, 60)
        lines.append(f"2023-11-16 18:{int(minutes):02d}:{seconds:09.6f},{context},{generated}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_demand_steps_and_buckets_from_requests() -> None:
    class Req:
        def __init__(self, arrival_s: float, input_len: int, output_len: int) -> None:
            self.arrival_s, self.input_len, self.output_len = arrival_s, input_len, output_len

    # Minute 0: 60 short requests; minute 1: 120 long ones (the last at 119.5 s).
    reqs = [Req(i, 100, 50) for i in range(60)] + [Req(60 + i / 2, 1000, 500) for i in range(120)]
    demand = demand_from_requests(reqs, [(512, 128), (4096, 1024)], step_s=60.0)
    assert demand.rates.shape == (2, 2)
    assert demand.rates[0] == pytest.approx([1.0, 0.0])
    # The last step is covered for 59.5 s (first to last arrival): its rate is taken over that.
    assert demand.rates[1] == pytest.approx([0.0, 120 / 59.5])
    assert demand.input_tokens_per_request == pytest.approx((60 * 100 + 120 * 1000) / 180)


def test_plan_from_an_azure_trace(tmp_path: Path) -> None:
    card, table = _files(tmp_path)
    # 20 short requests/s for a minute, then 10 long ones/s for a minute.
    reqs = [(i / 20, 100, 50) for i in range(1200)] + [(60 + i / 10, 1000, 500) for i in range(600)]
    trace = _azure(tmp_path / "trace.csv", reqs)
    result = CliRunner().invoke(main, [
        "plan", "--traffic", str(trace), "--capacity", str(table), "--ratecard", str(card),
        "--plan", "on_demand", "--step", "1m", "--target-utilization", "1", "--format", "json",
    ])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    # Minute 1: 20 short/s → 2 small ($1) beats 1 big ($3). Minute 2: ~10 long/s (over the
    # 59.9 s covered) → big does 10/s for $3, small 2/s for $1: 2 big ($6) for 10.02/s, or 1 big
    # and 1 small (12/s for $4).
    assert doc["requests"] == pytest.approx(1800, rel=1e-3)
    minutes = 1 / 60
    assert doc["total_cost_usd"] == pytest.approx((2 * 1.0 + 3.0 + 1.0) * minutes)


def test_trace_requests_beyond_every_bucket_are_counted_not_dropped(tmp_path: Path) -> None:
    card, table = _files(tmp_path)
    reqs = [(i, 100, 50) for i in range(10)] + [(20, 9000, 10), (21, 100, 5000)]
    trace = _azure(tmp_path / "trace.csv", reqs)
    result = CliRunner().invoke(main, [
        "plan", "--traffic", str(trace), "--capacity", str(table), "--ratecard", str(card),
    ])  # fmt: skip
    assert result.exit_code == 2
    assert "2 of 12 requests fit no bucket" in result.stderr
    assert "largest: in 9000, out 5000" in result.stderr
    assert "Traceback" not in result.stderr


def test_profile_with_a_trace_for_the_length_mix(tmp_path: Path) -> None:
    card, table = _files(tmp_path)
    # Half short, half long: at 20 requests/s, 10 short (1 small) and 10 long (1 big): $4/h.
    reqs = [(i, 100, 50) for i in range(5)] + [(5 + i, 1000, 500) for i in range(5)]
    mix = _azure(tmp_path / "mix.csv", reqs)
    profile = tmp_path / "profile.csv"
    profile.write_text("start,requests_per_s\n0,20\n3600,20\n", encoding="utf-8")
    result = CliRunner().invoke(main, [
        "plan", "--traffic", str(profile), "--length-mix", str(mix), "--capacity", str(table),
        "--ratecard", str(card), "--plan", "on_demand", "--target-utilization", "1",
        "--format", "json",
    ])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["total_cost_usd"] == pytest.approx(2 * 4.0)
