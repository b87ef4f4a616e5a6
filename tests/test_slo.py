"""SLO parsing, row judgement and the per-request goodput test (harness/slo.py)."""

from __future__ import annotations

import math

import pytest

from harness.errors import BadInput
from harness.slo import (
    Slo,
    SloTarget,
    parse_slo,
    request_meets,
    row_meets,
    row_value,
)


def test_parse_keeps_order_and_canonical_text():
    slo = parse_slo(" ttft_p99=0.5, tpot_p99=5e-2 ,e2e_p90=20")
    assert slo.targets == (
        SloTarget("ttft", 99, 0.5),
        SloTarget("tpot", 99, 0.05),
        SloTarget("e2e", 90, 20.0),
    )
    assert slo.text == "ttft_p99=0.5,tpot_p99=0.05,e2e_p90=20"
    assert parse_slo(slo.text) == slo
    assert slo.targets[0].column == "ttft_s_p99"
    assert slo.targets[2].name == "e2e_p90"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty SLO"),
        (" , ", "empty"),
        ("ttft_p99=0.5,", "empty target"),
        ("latency_p99=1", "unknown metric 'latency'"),
        ("ttft=1", "unknown metric"),
        ("ttft_p95=1", "unknown quantile 'p95'"),
        ("ttft_p99", "not NAME=SECONDS"),
        ("ttft_p99=fast", "not a number"),
        ("ttft_p99=0", "positive"),
        ("ttft_p99=-1", "positive"),
        ("ttft_p99=nan", "finite"),
        ("ttft_p99=inf", "finite"),
        ("ttft_p99=1,TTFT_p99=2", "given twice"),
    ],
)
def test_parse_rejects_with_one_line(text, fragment):
    with pytest.raises(BadInput) as err:
        parse_slo(text, where="--slo")
    message = str(err.value)
    assert fragment in message
    assert message.startswith("--slo:")
    assert "\n" not in message


def test_row_value_endpoint_and_in_process_columns():
    e2e = SloTarget("e2e", 99, 1.0)
    ttft = SloTarget("ttft", 90, 1.0)
    assert row_value({"e2e_s_p99": 0.7, "wall_s_p99": 9.0}, e2e) == 0.7
    assert row_value({"e2e_s_p99": "", "wall_s_p99": 0.9}, e2e) == 0.9
    assert row_value({"e2e_s_p99": math.nan, "wall_s_p99": "0.8"}, e2e) == 0.8
    assert row_value({"ttft_s_p90": "0.25"}, ttft) == 0.25
    assert row_value({"ttft_s_p90": math.nan, "wall_s_p90": 0.1}, ttft) is None
    assert row_value({}, SloTarget("itl", 50, 1.0)) is None


def test_row_meets_true_false_and_unjudgeable():
    slo = parse_slo("ttft_p99=0.5,e2e_p99=2")
    assert row_meets(slo, {"ttft_s_p99": 0.5, "e2e_s_p99": 1.9}) is True
    assert row_meets(slo, {"ttft_s_p99": 0.51, "e2e_s_p99": 1.9}) is False
    # one target fails, the other cannot be judged: the level still fails
    assert row_meets(slo, {"ttft_s_p99": None, "e2e_s_p99": 3.0}) is False
    assert row_meets(slo, {"ttft_s_p99": None, "e2e_s_p99": 1.0}) is None
    assert row_meets(slo, {"wall_s_p99": 1.0, "ttft_s_p99": 0.1}) is True


def test_request_meets_each_own_value_against_the_limit():
    slo = parse_slo("ttft_p99=0.5,tpot_p50=0.05,e2e_p90=3")
    good = {"ttft_s": 0.4, "tpot_s": 0.05, "e2e_s": 2.9, "itl_s": []}
    assert request_meets(slo, **good) is True
    assert request_meets(slo, **{**good, "ttft_s": 0.6}) is False
    assert request_meets(slo, **{**good, "tpot_s": 0.051}) is False
    assert request_meets(slo, **{**good, "e2e_s": 3.1}) is False
    # a request without a needed value is not good (one output token: no TPOT)
    assert request_meets(slo, **{**good, "tpot_s": None}) is False
    assert request_meets(parse_slo("e2e_p99=3"), **{**good, "tpot_s": None}) is True


def test_request_meets_itl_uses_the_requests_own_quantile():
    gaps = [0.01] * 9 + [0.5]  # one long stall among ten gaps
    kwargs = {"ttft_s": 0.1, "tpot_s": 0.05, "e2e_s": 1.0}
    assert request_meets(parse_slo("itl_p50=0.02"), itl_s=gaps, **kwargs) is True
    assert request_meets(parse_slo("itl_p99=0.02"), itl_s=gaps, **kwargs) is False
    # p90 of ten gaps interpolates between the 9th (0.01) and 10th (0.5): 0.01 + 0.1·0.49 = 0.059
    assert request_meets(parse_slo("itl_p90=0.06"), itl_s=gaps, **kwargs) is True
    assert request_meets(parse_slo("itl_p90=0.058"), itl_s=gaps, **kwargs) is False
    assert request_meets(parse_slo("itl_p50=1"), itl_s=[], **kwargs) is False


def test_slo_is_hashable_value():
    assert Slo((SloTarget("e2e", 99, 1.0),)) == parse_slo("e2e_p99=1")


def test_failed_requests_count_as_unbounded_latencies() -> None:
    slo = parse_slo("ttft_p99=1,e2e_p50=10")
    fast = {"ttft_s_p99": 0.2, "e2e_s_p50": 1.0}
    assert row_meets(slo, {**fast, "error_rate": 0.0}) is True
    assert row_meets(slo, {**fast, "error_rate": 0.01}) is True  # p99: 1 % may fail
    assert row_meets(slo, {**fast, "error_rate": 0.02}) is False
    assert row_meets(parse_slo("e2e_p50=10"), {**fast, "error_rate": 0.4}) is True
    assert row_meets(parse_slo("e2e_p50=10"), {**fast, "error_rate": 0.6}) is False
    assert row_meets(slo, {"error_rate": 0.5}) is False  # fails before anything is unjudged
