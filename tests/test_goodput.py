"""Goodput of a load level from hand-made request timings, the max-load search on synthetic
latency curves with a known knee, and `--find-max-load` against a real serial server."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from harness.endpoint.goodput import slo_columns
from harness.endpoint.maxload import (
    ALL_MET,
    FOUND,
    NONE_MET,
    UNJUDGED,
    find_max_load,
    next_level,
    round_rate,
)
from harness.endpoint.records import RequestRecord
from harness.endpoint.summary import summarise_level
from harness.errors import BadInput
from harness.slo import parse_slo
from tests.cli_helpers import invoke as _invoke
from tests.endpoint_fakeapp import SERIAL_S, serve_in_thread


def _record(index: int, start: float, first: float, end: float, tokens: int) -> RequestRecord:
    step = (end - first) / (tokens - 1)
    times = [first + i * step for i in range(tokens)]
    return RequestRecord(index, start, end, first, times, 10, tokens, tokens)


def test_goodput_counts_requests_that_met_every_target() -> None:
    slo = parse_slo("ttft_p99=0.5,tpot_p99=0.15,e2e_p99=2")
    records = [
        _record(0, 0.0, 0.25, 1.25, 5),  # TPOT 0.25: misses
        _record(1, 0.0, 0.25, 0.75, 5),  # TTFT 0.25, TPOT 0.125, e2e 0.75: good
        _record(2, 0.5, 1.25, 1.75, 5),  # TTFT 0.75: misses
        _record(3, 1.0, 1.125, 1.625, 3),  # TTFT 0.125, TPOT 0.25: misses
        _record(4, 1.0, 1.125, 1.5, 4),  # TTFT 0.125, TPOT 0.125, e2e 0.5: good
        _record(5, 1.0, 1.25, 3.25, 5),  # e2e 2.25: misses
        RequestRecord(6, 1.0, None, error="timeout after 2 s"),  # failed: never good
    ]
    row = summarise_level(records, "text")
    assert row["window_s"] == 3.25
    columns = slo_columns(slo, records, row)
    assert columns["slo"] == "ttft_p99=0.5,tpot_p99=0.15,e2e_p99=2"
    assert columns["good_requests"] == 2
    assert columns["goodput_requests_per_s"] == pytest.approx(2 / 3.25)
    assert columns["goodput_output_tokens_per_s"] == pytest.approx((5 + 4) / 3.25)
    assert columns["goodput_input_tokens_per_s"] == pytest.approx(20 / 3.25)
    assert "goodput_sequences_per_s" not in columns  # a text row has no sequences column
    # the level's own p99 TTFT (0.75 among the six) is over 0.5: the level misses the SLO
    assert row["ttft_s_p99"] > 0.5
    assert columns["slo_met"] is False
    # the share of good output tokens is what cost on goodput divides by
    share = columns["goodput_output_tokens_per_s"] / row["output_tokens_per_s"]
    assert share == pytest.approx(9 / sum(r.output_tokens for r in records if r.ok))


def test_goodput_with_itl_and_a_level_that_meets() -> None:
    steady = _record(0, 0.0, 0.1, 0.5, 5)  # four gaps of 0.1
    stalled = RequestRecord(1, 0.0, 0.9, 0.1, [0.1, 0.15, 0.2, 0.25, 0.9], 10, 5, 5)
    row = summarise_level([steady, stalled], "text")
    loose = slo_columns(parse_slo("itl_p50=0.11"), [steady, stalled], row)
    assert loose["good_requests"] == 2  # p50 gaps 0.1 and 0.05
    tight = slo_columns(parse_slo("itl_p99=0.2"), [steady, stalled], row)
    assert tight["good_requests"] == 1  # the stall's own p99 gap is near 0.65
    assert tight["goodput_requests_per_s"] == pytest.approx(1 / 0.9)
    met = slo_columns(parse_slo("e2e_p99=1"), [steady, stalled], row)
    assert met["slo_met"] is True and met["good_requests"] == 2


def test_embedding_goodput_in_sequences_and_failed_level() -> None:
    records = [RequestRecord(i, 0.0, 0.2 * (i + 1), None, [], 8) for i in range(3)]
    row = summarise_level(records, "embedding")
    columns = slo_columns(parse_slo("e2e_p50=0.5,ttft_p99=1"), records, row)
    # no first token on an embedding: the TTFT target cannot be judged, so no request is good
    assert columns["slo_met"] is None and columns["good_requests"] == 0
    columns = slo_columns(parse_slo("e2e_p99=0.5"), records, row)
    assert columns["good_requests"] == 2
    assert columns["goodput_sequences_per_s"] == pytest.approx(2 / 0.6)
    assert "goodput_output_tokens_per_s" not in columns
    failed = [RequestRecord(0, 0.0, None, error="HTTP 500")]
    columns = slo_columns(parse_slo("e2e_p99=1"), failed, summarise_level(failed, "text"))
    assert columns["slo_met"] is False and columns["good_requests"] == 0
    assert "goodput_requests_per_s" not in columns  # nothing was served: not measured


def _curve(knee_latency, limit: float):
    calls: list[float] = []

    def measure(level: float) -> bool:
        calls.append(level)
        return knee_latency(level) <= limit

    return measure, calls


def test_search_converges_to_the_knee_of_a_concurrency_curve() -> None:
    def p99(c: float) -> float:
        return 0.1 + 0.01 * c  # meets 0.5 up to c = 40

    measure, calls = _curve(p99, 0.5)
    start = {c: p99(c) <= 0.5 for c in (1, 8, 64)}
    result = find_max_load(start, measure, integer=True, max_extra=10)
    assert result.verdict == FOUND and result.best == 40
    assert calls == result.extra == [36, 50, 43, 39, 41, 40]
    # a budget of four stops early on the best level found so far
    measure, calls = _curve(p99, 0.5)
    result = find_max_load(start, measure, integer=True, max_extra=4)
    assert len(calls) == 4 and result.best == 39 and result.verdict == FOUND


def test_search_on_a_queueing_curve_of_request_rates() -> None:
    def p99(rate: float) -> float:
        return 1 / (10 - rate) if rate < 10 else float("inf")  # meets 0.5 up to rate 8

    measure, calls = _curve(p99, 0.5)
    result = find_max_load({1.0: True, 4.0: True, 16.0: False}, measure, integer=False, max_extra=8)
    assert result.verdict == FOUND
    assert 7.5 <= result.best <= 8.0
    assert all(rate == round_rate(rate) for rate in calls)
    assert len(calls) <= 8


def test_search_verdicts_without_a_bracket() -> None:
    def never(_level: float) -> bool:
        raise AssertionError("no level should be measured")

    assert find_max_load({1: True, 8: True}, never, integer=True).verdict == ALL_MET
    assert find_max_load({1: True, 8: True}, never, integer=True).best == 8
    assert find_max_load({1: False, 8: False}, never, integer=True).verdict == NONE_MET
    assert find_max_load({1: None, 8: None}, never, integer=True).verdict == UNJUDGED
    # adjacent levels leave nothing between them
    assert find_max_load({3: True, 4: False}, never, integer=True).best == 3
    # a meeting level above the first miss is noise: the first miss bounds the answer
    result = find_max_load({1: True, 2: False, 8: True}, never, integer=True)
    assert result.best == 1 and result.verdict == FOUND


def test_search_counts_an_unjudged_extra_level_as_a_miss() -> None:
    result = find_max_load({1: True, 4: False}, lambda _level: None, integer=True)
    assert result.best == 1 and result.extra == [2] and result.outcomes[2] is False


def test_next_level_rounding() -> None:
    assert next_level(4, 8, integer=True) == 6
    assert next_level(4, 5, integer=True) is None
    assert next_level(4.0, float("inf"), integer=False) == 8.0
    assert next_level(7.0, 8.5, integer=False) == 7.8
    assert next_level(7.9, 8.0, integer=False) is None  # 7.95 rounds onto an end
    assert round_rate(13.3) == 13 and round_rate(0.0123) == 0.012



@pytest.fixture
def serial_server():
    server, url = serve_in_thread("serial")
    yield url
    server.shutdown()
    server.server_close()


def test_find_max_load_against_a_serial_server(serial_server: str, tmp_path: Path) -> None:
    # e2e p99 at concurrency c is c × SERIAL_S plus the HTTP overhead (about 15 ms here), and
    # never less than c × SERIAL_S: a limit of 4.65 × SERIAL_S puts the knee at 4
    limit = 4.65 * SERIAL_S
    result = _invoke(
        "run", "--endpoint", serial_server, "--concurrency", "1,8", "--requests", 8,
        "--warmup-requests", 1, "--output-len", 4, "--slo", f"e2e_p99={limit}",
        "--find-max-load", "--max-search-levels", 4, "--out", tmp_path,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (run,) = tmp_path.iterdir()
    with open(run / "measurements.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    by_level = {int(r["concurrency"]): r for r in rows}
    assert list(by_level) == [1, 8, 4, 6, 5]  # measured first, then the bisection
    assert {c for c, r in by_level.items() if r["slo_met"] == "True"} == {1, 4}
    assert [c for c, r in by_level.items() if r["slo_max_load"] == "True"] == [4]
    for row in rows:
        assert row["slo"] == f"e2e_p99={limit:.12g}"
        assert float(row["goodput_requests_per_s"]) <= float(row["requests_per_s"])
        assert int(row["good_requests"]) <= int(row["requests"])
    assert by_level[1]["good_requests"] == "8"
    assert "Max load: concurrency 4 is the highest level that meets the SLO" in result.output
    assert "SLO met, goodput" in result.output and "SLO missed" in result.output
    meta = json.loads((run / "run.json").read_text())
    assert meta["max_load_search"]["max_load"] == 4
    assert meta["max_load_search"]["levels_added"] == [4, 6, 5]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--find-max-load",), "--find-max-load needs --slo"),
        (("--slo", "e2e_p99=1", "--find-max-load", "--request-rate", "1"), "not both"),
        (("--slo", "ttft_p95=1"), "unknown quantile 'p95'"),
        (("--slo", "e2e_p99=1", "--max-search-levels", 0), "--max-search-levels must be from 1"),
    ],
)
def test_bad_slo_options_are_one_line(args, message, tmp_path: Path) -> None:
    base = ("run", "--endpoint", "http://127.0.0.1:1/v1", "--concurrency", "1,2")
    result = _invoke(*base, *args, "--out", tmp_path)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert list(tmp_path.iterdir()) == []


def test_find_max_load_is_for_endpoint_runs(tmp_path: Path) -> None:
    result = _invoke("run", "-w", "text", "--slo", "e2e_p99=1", "--find-max-load",
                     "--out", tmp_path)  # fmt: skip
    assert result.exit_code == 2
    assert "--find-max-load searches an endpoint's load levels" in result.output


def test_a_library_caller_with_a_bad_slo_gets_one_line_and_no_run_folder(tmp_path: Path) -> None:
    from harness.endpoint.config import EndpointConfig, LoadLevel
    from harness.endpoint.runner import run_endpoint

    config = EndpointConfig(
        base_url="http://127.0.0.1:9/v1", workload="text", api="completions", model=None,
        levels=(LoadLevel(concurrency=1),), slo="ttft_p95=0.5",
    )  # fmt: skip
    with pytest.raises(BadInput, match="unknown quantile 'p95'"):
        run_endpoint(config, tmp_path / "results")
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())
