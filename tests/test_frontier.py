"""The cost–interactivity frontier and `gpucost compare --slo`, on hand-made numbers."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from harness.analysis.frontier import axis_values, frontier_points, level_costs, pareto_mask
from harness.analysis.slo_choice import verdict
from harness.money.context import PricingContext
from harness.money.units import workload_spec
from harness.results.schema import COLUMNS
from harness.slo import parse_slo
from tests.cli_helpers import invoke
from tests.report_helpers import TEST_CARD, TEST_CARD_INSTANCES, text_row, write_run
from workloads.spec import FrontierAxis

WINDOW_S = 10.0


# --- the Pareto set ---------------------------------------------------------------------------


def _brute_force(cost: list[float], value: list[float], better: str) -> list[bool]:
    """O(n²) definition: no other point at least as good on both and better on one."""
    sign = -1.0 if better == "higher" else 1.0
    out = []
    for i, (c, v) in enumerate(zip(cost, value, strict=True)):
        if not (math.isfinite(c) and math.isfinite(v)):
            out.append(False)
            continue
        dominated = any(
            math.isfinite(c2) and math.isfinite(v2)
            and c2 <= c and sign * v2 <= sign * v and (c2 < c or sign * v2 < sign * v)
            for j, (c2, v2) in enumerate(zip(cost, value, strict=True)) if j != i
        )  # fmt: skip
        out.append(not dominated)
    return out


def test_pareto_set_of_a_small_table() -> None:
    #            A     B     C     D     E     F
    cost = [1.0, 2.0, 2.0, 3.0, 4.0, 1.0]
    tokens_per_s = [10.0, 30.0, 20.0, 25.0, 50.0, 5.0]
    # C and D lose to B (as dear or dearer, slower), F to A (as cheap, slower).
    assert pareto_mask(cost, tokens_per_s, "higher").tolist() == [
        True, True, False, False, True, False,
    ]  # fmt: skip


def test_direction_comes_from_the_axis() -> None:
    cost = [1.0, 2.0, 3.0]
    latency_s = [0.9, 0.5, 0.7]
    # Lower latency is better: the dearest point is slower than the middle one.
    assert pareto_mask(cost, latency_s, "lower").tolist() == [True, True, False]
    # Read as "higher is better", the cheapest point is also the best: it alone is optimal.
    assert pareto_mask(cost, latency_s, "higher").tolist() == [True, False, False]
    with pytest.raises(ValueError, match="better"):
        pareto_mask(cost, latency_s, "faster")


def test_ties_identical_points_stay_together_and_equal_cost_keeps_the_better() -> None:
    cost = [1.0, 1.0, 1.0, 2.0, 2.0]
    value = [5.0, 5.0, 4.0, 9.0, 9.0]
    # Two identical optimal points are both on it; at equal cost the worse value is not;
    # a dearer point with the same value as a cheaper one is not.
    assert pareto_mask(cost, value, "higher").tolist() == [True, True, False, True, True]
    assert pareto_mask([1.0, 2.0], [5.0, 5.0], "higher").tolist() == [True, False]


def test_nans_are_left_out_and_do_not_hide_other_points() -> None:
    cost = [0.1, 1.0, math.nan, 2.0, 3.0, math.inf]
    value = [math.nan, 10.0, 100.0, 20.0, 15.0, 50.0]
    assert pareto_mask(cost, value, "higher").tolist() == [
        False, True, False, True, False, False,
    ]  # fmt: skip
    assert pareto_mask([], [], "lower").tolist() == []
    assert not pareto_mask([math.nan], [1.0], "lower").any()


def test_matches_the_definition_on_random_points_with_ties() -> None:
    rng = random.Random(7)
    for better in ("higher", "lower"):
        cost = [rng.choice([math.nan, *range(1, 40)]) / 4 for _ in range(600)]
        value = [rng.choice([math.nan, *range(1, 40)]) / 2 for _ in range(600)]
        assert pareto_mask(cost, value, better).tolist() == _brute_force(cost, value, better)


def test_a_large_set_is_one_vectorised_pass() -> None:
    rng = np.random.default_rng(3)
    cost = rng.uniform(1, 2, 200_000)
    value = -cost + rng.normal(0, 0.01, 200_000)  # dearer is worse: the cheapest wins
    mask = pareto_mask(cost, value, "higher")
    assert mask[np.argmin(cost)] and mask.sum() < 50


# --- axes declared by the workload specs -----------------------------------------------------


def test_built_in_specs_declare_axes_over_contract_columns() -> None:
    declared = {c.name for c in COLUMNS}
    for workload in ("text", "image", "asr"):
        spec = workload_spec(workload)
        assert spec is not None and spec.frontier, workload
        for axis in spec.frontier:
            assert set(axis.columns) <= declared, (workload, axis.name)
    assert [a.name for a in workload_spec("text").frontier] == ["tokens_per_s_per_user", "ttft_p99"]


def test_an_axis_says_which_way_is_better_and_what_it_reads() -> None:
    with pytest.raises(ValueError, match="better"):
        FrontierAxis("x", "x", "faster", column="ttft_s_p99")
    with pytest.raises(ValueError, match="no column"):
        FrontierAxis("x", "x", "lower")
    with pytest.raises(ValueError, match="numerator and denominator"):
        FrontierAxis("x", "x", "lower", numerator=("wall_s_p50",))


def test_axis_values_column_first_then_the_ratio() -> None:
    per_user = workload_spec("text").frontier[0]
    rows = pd.DataFrame(
        {
            "output_tokens_per_s_per_user": [42.0, np.nan, np.nan, np.nan],
            "output_tokens": [800.0, 800.0, 800.0, np.nan],
            "requests": [8.0, 8.0, 8.0, 8.0],
            "decode_s_p50": [np.nan, 2.0, 0.0, 2.0],
        }
    )
    values = axis_values(rows, per_user)
    # An endpoint row's own column; an in-process batch's 100 tokens per request ÷ 2 s decode;
    # a zero decode time or a missing count is no value, not infinity or 0.
    assert values.iloc[0] == 42.0 and values.iloc[1] == 50.0
    assert values.iloc[2:].isna().all()
    rtf = workload_spec("asr").frontier[0]
    asr = pd.DataFrame({"wall_s_p50": [1.5], "requests": [4.0], "audio_s": [120.0]})
    assert axis_values(asr, rtf).iloc[0] == pytest.approx(1.5 / 30.0)
    assert axis_values(pd.DataFrame({"x": [1.0]}), rtf).isna().all()


# --- endpoint-like run folders ----------------------------------------------------------------


def endpoint_row(
    concurrency: int | None,
    output_tokens: int,
    ttft_p99_s: float,
    per_user: float,
    *,
    request_rate: float | None = None,
    batch_size: int | None = None,
    gpu: str = "H100-SXM-80GB",
    **values: Any,
) -> dict[str, Any]:
    """One load level over WINDOW_S seconds, as harness/endpoint writes it."""
    settings = {"api": "completions", "concurrency": concurrency, "request_rate": request_rate}
    row = {
        "workload": "text", "preset": "", "model": "served-model", "device": "endpoint",
        "gpu_name": gpu, "dtype": "", "engine": "endpoint", "status": "ok",
        "batch_size": batch_size or concurrency, "concurrency": concurrency,
        "request_rate": request_rate, "window_s": WINDOW_S, "gpus_used": 1, "iterations": 20,
        "requests": 20, "input_tokens": 20 * 64, "output_tokens": output_tokens,
        "wall_s_p50": 2.0, "ttft_s_p50": ttft_p99_s / 2, "ttft_s_p99": ttft_p99_s,
        "tpot_s_p99": 0.02, "output_tokens_per_s_per_user": per_user,
        "settings": json.dumps(settings, separators=(",", ":")),
    }  # fmt: skip
    row.update(values)
    return row


@pytest.fixture()
def card(tmp_path: Path) -> Path:
    path = tmp_path / "testcloud.yaml"
    path.write_text(TEST_CARD, encoding="utf-8")
    return path


@pytest.fixture()
def sweeps(tmp_path: Path) -> tuple[Path, Path]:
    h100 = write_run(
        tmp_path,
        "run-h100",
        [
            endpoint_row(1, 1_000, 0.1, 100.0),
            endpoint_row(8, 6_000, 0.4, 60.0),
            endpoint_row(32, 16_000, 1.2, 30.0),
        ],
        gpu_name="H100-SXM-80GB",
    )
    l4 = write_run(
        tmp_path,
        "run-l4",
        [endpoint_row(1, 200, 0.3, 150.0, gpu="L4"), endpoint_row(4, 600, 0.9, 15.0, gpu="L4")],
        gpu_name="L4",
    )
    return h100, l4


def _per_token(price_per_hour: float, tokens: int) -> float:
    """A windowed row without phase times puts its whole window on output tokens."""
    return WINDOW_S * price_per_hour / 3600 / tokens


def _compare(*args: object) -> Any:
    return invoke("compare", *args)


def test_compare_slo_picks_the_cheapest_level_that_meets_it(sweeps, card) -> None:
    result = _compare(
        *sweeps, "--ratecard", card, *TEST_CARD_INSTANCES, "--slo", "ttft_p99=0.5",
        "--price", "text.output_token=2/1M", "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["slo"] == "ttft_p99=0.5"
    assert all(set(c) == {"kind", "text", "subject"} for c in document["caveats"])
    (answer,) = document["answers"]
    choice = answer["choice"]
    # Meeting it: H100 at 1 and 8, L4 at 1; the cheapest is the H100 at 8 on spot.
    assert (choice["instance"], choice["plan"], choice["level"]) == (
        "big-h100",
        "spot",
        "concurrency 8",
    )
    cost = _per_token(2.0, 6_000)
    assert choice["cost_per_unit_usd"] == pytest.approx(cost)
    assert choice["values"] == {"ttft_p99": 0.4}
    assert (answer["levels"], answer["levels_met"], answer["levels_unjudged"]) == (5, 3, 0)
    (margin,) = [m for m in answer["margins"] if m["price_per_unit_usd"] == pytest.approx(2e-6)]
    assert margin["gross_margin"] == pytest.approx(1 - cost / 2e-6)


def test_compare_slo_says_plainly_when_no_level_meets_it(sweeps, card) -> None:
    result = _compare(*sweeps, "--ratecard", card, *TEST_CARD_INSTANCES, "--slo", "ttft_p99=0.05")
    assert result.exit_code == 0, result.output
    assert (
        "text · utilization 100%: no measured level meets ttft_p99 ≤ 0.05 s "
        "(best: ttft_p99 0.1 s at run run-h100, concurrency 1)"
    ) in result.stdout
    assert "0 of 5 measured levels meet it" in result.stdout


def test_levels_that_cannot_be_judged_are_never_counted_as_meeting(sweeps, card, tmp_path) -> None:
    # In-process rows have TTFT p50 only: a TTFT p99 target cannot be judged on them.
    batch = write_run(tmp_path, "run-batch", [text_row(8, wall_s=0.1), text_row(1, wall_s=0.05)])
    result = _compare(
        batch, *sweeps, "--ratecard", card, *TEST_CARD_INSTANCES, "--slo", "ttft_p99=0.5",
        "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    answers = {a["work"].split(",")[1].strip(): a for a in json.loads(result.stdout)["answers"]}
    batch_answer = answers["model tiny"]
    assert batch_answer["choice"] is None and batch_answer["levels_unjudged"] == 2
    assert batch_answer["unjudged_targets"] == ["ttft_p99"]
    assert answers["model served-model"]["choice"]["level"] == "concurrency 8"
    text = _compare(batch, *sweeps, "--ratecard", card, *TEST_CARD_INSTANCES, "--slo", "ttft_p99=0.5")
    assert "no measured level can be judged against ttft_p99 ≤ 0.5 s" in text.stdout
    assert "2 cannot be judged (no value for ttft_p99) and are not counted as meeting it" in (
        text.stdout
    )


def test_a_rows_own_verdict_for_the_same_slo_wins() -> None:
    slo = parse_slo("ttft_p99=0.5")
    fast = {"ttft_s_p99": 0.2}
    assert verdict(slo, fast) is True
    assert verdict(slo, {**fast, "slo": "ttft_p99=0.5", "slo_met": "False"}) is False
    # Judged against another SLO, the row's flag says nothing about this one.
    assert verdict(slo, {**fast, "slo": "ttft_p99=0.1", "slo_met": False}) is True
    assert verdict(slo, {"ttft_s_p50": 0.2}) is None


def test_a_bad_slo_is_one_line(sweeps, card) -> None:
    result = _compare(*sweeps, "--ratecard", card, *TEST_CARD_INSTANCES, "--slo", "ttft_p95=0.5")
    assert result.exit_code != 0
    assert "--slo" in result.output and "Traceback" not in result.output


def test_open_loop_levels_sharing_a_batch_size_keep_their_own_numbers(card, tmp_path) -> None:
    # Two request rates whose most requests in flight were both 4: one batch size, two levels.
    run = write_run(
        tmp_path,
        "run-open",
        [
            endpoint_row(None, 1_000, 0.9, 40.0, request_rate=1.0, batch_size=4),
            endpoint_row(None, 4_000, 0.3, 50.0, request_rate=2.0, batch_size=4),
        ],
        gpu_name="H100-SXM-80GB",
    )
    result = _compare(
        run, "--ratecard", card, "--instance", "testcloud:big-h100", "--plan", "on_demand",
        "--slo", "ttft_p99=0.5", "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (answer,) = json.loads(result.stdout)["answers"]
    assert answer["choice"]["level"] == "request rate 2/s"
    assert answer["choice"]["cost_per_unit_usd"] == pytest.approx(_per_token(4.0, 4_000))
    assert answer["levels"] == 2


def test_frontier_pareto_points_in_json_and_text(sweeps, card) -> None:
    result = _compare(*sweeps, "--ratecard", card, *TEST_CARD_INSTANCES, "--slo", "ttft_p99=0.5",
                      "--format", "json")  # fmt: skip
    points = json.loads(result.stdout)["frontier"]
    on = {(p["axis"], p["instance"], p["plan"], p["concurrency"]) for p in points}
    # Per-user rate: the H100 on spot at every level, and the L4 at 1 (the fastest per user).
    assert {(i, p, c) for a, i, p, c in on if a == "tokens_per_s_per_user"} == {
        ("big-h100", "spot", 1), ("big-h100", "spot", 8), ("big-h100", "spot", 32),
        ("small-l4", "on_demand", 1),
    }  # fmt: skip
    # TTFT p99: the L4 at 1 is dearer and slower to first token than the H100 on spot at 1.
    assert {(i, p, c) for a, i, p, c in on if a == "ttft_p99"} == {
        ("big-h100", "spot", 1), ("big-h100", "spot", 8), ("big-h100", "spot", 32),
    }  # fmt: skip
    assert all(p["pareto"] for p in points)
    text = _compare(*sweeps, "--ratecard", card, *TEST_CARD_INSTANCES, "-v")
    assert text.exit_code == 0, text.output
    assert "Cost–interactivity frontier" in text.stdout
    assert "vs output tokens/s per user (p50), higher is better: 4 Pareto points of 8" in (
        text.stdout
    )
    assert "vs TTFT p99 (s), lower is better: 3 Pareto points of 8" in text.stdout


def test_plain_compare_json_stays_a_list_of_rows(sweeps, card) -> None:
    result = _compare(*sweeps, "--ratecard", card, *TEST_CARD_INSTANCES, "--format", "json")
    assert result.exit_code == 0, result.output
    assert isinstance(json.loads(result.stdout), list)


def test_curves_name_the_run_only_where_the_work_has_several(sweeps, card) -> None:
    from harness.money import load_card_file
    from harness.results.runs import load_runs

    instances = load_card_file(card)[1]
    records = load_runs(list(sweeps))
    rows = pd.concat([r.ok_rows() for r in records], ignore_index=True)
    both = frontier_points(level_costs(rows, PricingContext(instances, None, (1.0,))))
    assert set(both["curve"]) >= {"testcloud:big-h100 spot · run-h100"}
    one = frontier_points(level_costs(records[0].ok_rows(), PricingContext(instances)))
    assert set(one["curve"]) == {"testcloud:big-h100 spot", "testcloud:big-h100 on_demand"}
    assert (one.groupby("curve").size() == 6).all()  # 3 levels × 2 axes


def test_compare_page_draws_the_frontier(sweeps, card, tmp_path) -> None:
    out = tmp_path / "compare.md"
    result = _compare(*sweeps, "--ratecard", card, *TEST_CARD_INSTANCES, "-o", out)
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "Cost–interactivity frontier · text" in page
    assert "Pareto-optimal choices" in page
    assert (tmp_path / "compare_files" / "frontier-text-frontier.png").stat().st_size > 1000


def test_report_frontier_blocks_only_where_there_are_points(sweeps, card) -> None:
    from harness.money import load_card_file
    from harness.report.document import Figure, Table
    from harness.report.figures import frontier_blocks
    from harness.results.runs import load_run

    instances = load_card_file(card)[1]
    points = frontier_points(level_costs(load_run(sweeps[0]).ok_rows(), PricingContext(instances)))
    blocks = frontier_blocks("text", points, "run-text")
    assert [type(b) for b in blocks] == [Figure, Table]
    assert blocks[0].png.startswith(b"\x89PNG")
    # 3 Pareto points per axis (the spot curve), each a table row.
    assert len(blocks[1].rows) == 6
    assert frontier_blocks("image", points, "run-image") == []


def test_goodput_cost_is_shown_only_for_the_slo_the_row_was_measured_with(card, tmp_path) -> None:
    # Half of the level's output tokens came from requests that met its SLO on their own.
    run = write_run(
        tmp_path,
        "run-slo",
        [
            endpoint_row(
                8, 6_000, 0.4, 60.0, slo="ttft_p99=0.5", slo_met=True,
                goodput_output_tokens_per_s=300.0, goodput_requests_per_s=1.0,
            )
        ],
        gpu_name="H100-SXM-80GB",
    )  # fmt: skip
    args = [run, "--ratecard", card, "--instance", "testcloud:big-h100", "--plan", "spot"]
    same = _compare(*args, "--slo", "ttft_p99=0.5", "--format", "json")
    assert same.exit_code == 0, same.output
    choice = json.loads(same.stdout)["answers"][0]["choice"]
    assert choice["goodput_cost_per_unit_usd"] == pytest.approx(2 * _per_token(2.0, 6_000))
    other = _compare(*args, "--slo", "ttft_p99=0.6", "--format", "json")
    assert json.loads(other.stdout)["answers"][0]["choice"]["goodput_cost_per_unit_usd"] is None
    text = _compare(*args, "--slo", "ttft_p99=0.5")
    assert "on goodput $1.85 per 1M output tokens" in text.stdout


def test_a_price_without_an_slo_is_refused(sweeps, card) -> None:
    result = _compare(*sweeps, "--ratecard", card, "--price", "text.output_token=2/1M")
    assert result.exit_code != 0
    assert "--price: compare uses candidate prices only with --slo" in result.output


def test_image_and_asr_batches_get_their_declared_axes(card, tmp_path) -> None:
    from harness.money import load_card_file
    from harness.results.runs import load_run

    def batch(workload: str, size: int, wall_s: float, **counts: float) -> dict[str, Any]:
        return {
            "workload": workload, "preset": "tiny", "model": "tiny", "device": "cuda:0",
            "gpu_name": "NVIDIA H100 80GB HBM3", "dtype": "bf16", "batch_size": size,
            "status": "ok", "iterations": 5, "wall_s_mean": wall_s, "wall_s_p50": wall_s,
            "wall_s_p90": wall_s * 1.1, "wall_s_p99": wall_s * 1.2, "requests": size, **counts,
        }  # fmt: skip

    run = write_run(
        tmp_path,
        "run-media",
        [
            batch("image", 1, 2.0, images=1),
            batch("image", 4, 4.0, images=4),
            batch("asr", 1, 1.5, audio_s=30.0),
            batch("asr", 8, 3.0, audio_s=240.0),
        ],
    )
    instances = load_card_file(card)[1]
    spot = PricingContext(instances, ["spot"])
    points = frontier_points(level_costs(load_run(run).ok_rows(), spot))
    by = {(p["workload"], p["batch_size"]): p for p in points.to_dict("records")}
    assert set(points["axis"]) == {"latency_p99", "real_time_factor"}
    assert by[("image", 4)]["value"] == pytest.approx(4.8)  # wall p99, the nearest to p95
    assert by[("image", 4)]["unit"] == "image"
    # A request's latency ÷ the audio it carried: 3 s for 30 s of audio at batch 8.
    assert by[("asr", 8)]["value"] == pytest.approx(0.1)
    assert by[("asr", 1)]["value"] == pytest.approx(0.05)
    assert by[("asr", 8)]["unit"] == "audio_minute"
    # Batch 8 is cheaper per audio minute but slower per request: both are optimal.
    assert by[("asr", 8)]["pareto"] and by[("asr", 1)]["pareto"]
