"""`vllm bench serve --save-result` files, written by vLLM 0.33.0's own benchmark code against a
real `transformers serve` (see tests/data/imports), into rows; numbers copied by hand."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest

from harness.errors import BadInput
from harness.importers.vllm import VllmImporter
from tests.import_helpers import altered, import_files, row, truncated

read = VllmImporter().read

DETAILED = "vllm_concurrency2_detailed.json"
RATES = "vllm_rates_2_8.json"  # two runs appended with --append-result
FAILED = "vllm_all_failed.json"


@pytest.fixture
def run(tmp_path: Path):
    return import_files("vllm", tmp_path / "runs", DETAILED, RATES, FAILED, gpus_used=2)


def test_concurrency_level_with_every_percentile_asked_for(run) -> None:
    got = row(run, 2)
    assert got["status"] == "ok" and got["engine"] == "vllm bench serve"
    assert got["concurrency"] == 2 and math.isnan(got["request_rate"])  # max_concurrency, "inf"
    assert got["window_s"] == pytest.approx(2.7680324489992927)  # duration, s
    assert (got["requests"], got["input_tokens"], got["output_tokens"]) == (8, 260, 206)
    assert got["requests_per_s"] == pytest.approx(2.8901395295753067)
    assert got["output_tokens_per_s"] == pytest.approx(74.42109288656415)
    assert got["input_tokens_per_s"] == pytest.approx(260 / 2.7680324489992927)
    assert got["ttft_s_p50"] == pytest.approx(0.07436587300071551)  # median_ttft_ms
    assert got["ttft_s_p90"] == pytest.approx(0.1114494833009303)  # p90_ttft_ms
    assert got["tpot_s_p99"] == pytest.approx(0.037234066558618245)
    assert got["itl_s_p50"] == pytest.approx(0.031800496000869316)
    assert got["e2e_s_p50"] == got["wall_s_p50"] == pytest.approx(0.764408217500204)
    assert got["max_in_flight"] == 4  # max_concurrent_requests
    assert got["gpus_used"] == 2


def test_percentiles_not_asked_for_stay_empty(run) -> None:
    got = row(run, 3)  # --request-rate 2, default --metric-percentiles 99
    assert got["request_rate"] == 2.0 and math.isnan(got["concurrency"])
    assert got["ttft_s_p50"] == pytest.approx(0.09738555400053883)
    assert got["ttft_s_p99"] == pytest.approx(0.2670897786903515)
    assert math.isnan(got["ttft_s_p90"]) and math.isnan(got["tpot_s_p90"])


def test_end_to_end_latency_comes_from_the_per_request_latencies_when_not_asked_for(run) -> None:
    got = row(run, 3)  # default --percentile-metrics ttft,tpot,itl: no e2el keys
    latencies = [0.4074357900008181, 0.06663175900030183, 0.27160850099971867,
                 0.03425723800137348, 0.028362290000586654, 0.5785222220001742,
                 0.4695220440007688, 0.4572762089992466]  # fmt: skip
    assert got["e2e_s_p50"] == got["wall_s_p50"] == pytest.approx(statistics.median(latencies))
    assert got["wall_s_mean"] == pytest.approx(statistics.fmean(latencies))
    levels = run.meta["import"]["files"][1]["levels"]
    assert [(level["batch_size"], level["e2e_from"]) for level in levels] == [
        (3, "latencies"), (8, "latencies")
    ]  # fmt: skip


def test_a_run_where_every_request_failed_is_an_error_row_with_no_latencies(run) -> None:
    got = row(run, 4)  # vLLM wrote 0.0 for every latency: not a measurement
    assert got["status"] == "error"
    assert got["error"] == "no request succeeded (4 failed requests)"
    assert (got["error_count"], got["error_rate"]) == (4, 1.0)
    assert math.isnan(got["ttft_s_p50"]) and math.isnan(got["output_tokens"])


def test_a_file_that_is_not_a_result_names_what_is_missing(tmp_path: Path) -> None:
    path = altered(tmp_path, DETAILED, lambda d: [d.pop("duration"), d.pop("completed")])
    with pytest.raises(BadInput) as err:
        read(path)
    assert str(err.value) == (
        f"{path}: not a `vllm bench serve --save-result` file (missing duration, completed)"
    )


def test_truncated_appended_file_is_refused_in_one_line(tmp_path: Path) -> None:
    path = truncated(tmp_path, RATES)
    with pytest.raises(BadInput, match=r": truncated \(line 1"):
        read(path)


def test_milliseconds_that_are_not_numbers_are_refused(tmp_path: Path) -> None:
    path = altered(tmp_path, DETAILED, lambda d: d.update(median_ttft_ms=None, p90_ttft_ms=[1]))
    with pytest.raises(BadInput, match=r"p90_ttft_ms is \[1\], not a number"):
        read(path)
