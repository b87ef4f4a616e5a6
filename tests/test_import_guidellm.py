"""GuideLLM 0.8.1 JSON reports (made against `guidellm mock-server`, see tests/data/imports)
into rows, one per benchmark; expected numbers copied from the reports by hand."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from harness.errors import BadInput
from harness.importers.guidellm import GuidellmImporter
from tests.import_helpers import altered, import_files, row, truncated

read = GuidellmImporter().read

CONCURRENT = "guidellm_concurrent_1_4.json"
SWEEP = "guidellm_sweep.json"


def test_concurrent_levels_hold_the_reports_numbers_in_seconds(tmp_path: Path) -> None:
    run = import_files("guidellm", tmp_path / "runs", CONCURRENT)
    got = row(run, 1)
    assert got["status"] == "ok" and got["engine"] == "guidellm 0.8.1"
    assert got["concurrency"] == 1  # strategy concurrent, streams 1
    assert got["window_s"] == pytest.approx(1.5982048511505127)  # duration, s
    assert (got["requests"], got["input_tokens"], got["output_tokens"]) == (8, 134, 128)
    assert got["requests_per_s"] == pytest.approx(5.0056161412856275)
    assert got["output_tokens_per_s"] == pytest.approx(80.08985826057003)
    assert got["input_tokens_per_s"] == pytest.approx(83.84407036653427)
    assert got["ttft_s_p50"] == pytest.approx(0.04339146614074707)  # time_to_first_token_ms
    assert got["ttft_s_p90"] == pytest.approx(0.23182415962219238)
    assert got["tpot_s_p50"] == pytest.approx(0.008352088928222656)  # inter_token_latency_ms
    # request_latency is in seconds already
    assert got["e2e_s_p50"] == got["wall_s_p50"] == pytest.approx(0.16982007026672363)
    assert got["wall_s_mean"] == pytest.approx(0.1945737600326538)
    assert math.isnan(got["itl_s_p50"])  # the report has no per-gap distribution
    assert math.isnan(got["output_tokens_per_s_per_user"])


def test_errored_requests_count_against_the_level(tmp_path: Path) -> None:
    run = import_files("guidellm", tmp_path / "runs", CONCURRENT)
    got = row(run, 4)
    assert (got["requests"], got["error_count"]) == (5, 3)  # request_totals
    assert got["error_rate"] == pytest.approx(3 / 8)
    assert (got["input_tokens"], got["output_tokens"]) == (86, 80)  # successful requests only
    assert got["status"] == "ok" and got["error"] == "3 errored requests"


def test_sweep_strategies_become_closed_open_and_unbounded_levels(tmp_path: Path) -> None:
    run = import_files("guidellm", tmp_path / "runs", SWEEP)
    frame = run.measurements.sort_values("batch_size")
    # synchronous → concurrency 1; throughput → no set load, keyed by its 8 requests in
    # flight; constant → its rate, keyed by its 6 in flight
    assert list(frame["batch_size"]) == [1, 6, 8]
    assert row(run, 1)["concurrency"] == 1
    constant = row(run, 6)
    assert constant["request_rate"] == pytest.approx(30.23201944066889)
    throughput = row(run, 8)
    assert math.isnan(throughput["concurrency"]) and math.isnan(throughput["request_rate"])
    assert throughput["window_s"] == pytest.approx(0.23154258728027344)


def test_unknown_report_version_is_refused(tmp_path: Path) -> None:
    path = altered(tmp_path, SWEEP, lambda d: d["metadata"].update(version=3))
    with pytest.raises(BadInput) as err:
        read(path)
    assert str(err.value) == f"{path}: GuideLLM report version 3 is not one this reads (expected 2)"


def test_report_without_metadata_is_refused(tmp_path: Path) -> None:
    path = altered(tmp_path, SWEEP, lambda d: d.pop("metadata"))
    with pytest.raises(BadInput, match=r"no metadata\.version"):
        read(path)


def test_truncated_report_is_refused_in_one_line(tmp_path: Path) -> None:
    path = truncated(tmp_path, CONCURRENT)
    with pytest.raises(BadInput, match=r": truncated \(line 1, column \d+"):
        read(path)


def test_a_level_without_a_strategy_names_where(tmp_path: Path) -> None:
    path = altered(tmp_path, SWEEP, lambda d: d["benchmarks"][1]["config"].pop("strategy"))
    with pytest.raises(BadInput, match=r"benchmarks\[1\].config.strategy is not a mapping"):
        read(path)
