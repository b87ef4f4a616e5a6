"""AIPerf 0.13.0 profile_export_aiperf.json files, made by running AIPerf against a real
`transformers serve`, into rows: each expected number is copied from the file by hand and put
in gpucost's units (seconds, shares)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harness.errors import BadInput
from harness.importers.aiperf import AiperfImporter
from tests.import_helpers import DATA, altered, import_files, row, truncated

read = AiperfImporter().read

FILES = ("aiperf_concurrency1.json", "aiperf_concurrency4.json", "aiperf_rate4.json",
         "aiperf_concurrency8_timeouts.json")  # fmt: skip


@pytest.fixture
def run(tmp_path: Path):
    return import_files("aiperf", tmp_path / "runs", *FILES)


def test_closed_loop_level_holds_the_files_own_numbers_in_seconds(run) -> None:
    got = row(run, 1)
    assert got["status"] == "ok"
    assert got["engine"] == "aiperf 0.13.0"
    assert got["concurrency"] == 1 and math.isnan(got["request_rate"])
    assert got["window_s"] == pytest.approx(5.7028672)  # benchmark_duration, "sec"
    assert (got["requests"], got["iterations"]) == (6, 6)  # request_count
    assert (got["input_tokens"], got["output_tokens"]) == (192, 96)  # total_isl, total_osl
    assert got["requests_per_s"] == pytest.approx(1.0390637205873408)
    assert got["input_tokens_per_s"] == pytest.approx(33.250039058794904)
    assert got["output_tokens_per_s"] == pytest.approx(16.625019529397452)
    # time_to_first_token p50/p90/p99 in ms
    assert got["ttft_s_p50"] == pytest.approx(0.5259886345)
    assert got["ttft_s_p90"] == pytest.approx(0.5299419025)
    assert got["ttft_s_p99"] == pytest.approx(0.53135859835)
    assert got["tpot_s_p50"] == pytest.approx(0.03271849663333333)  # inter_token_latency
    assert got["itl_s_p50"] == pytest.approx(0.04012851)  # inter_chunk_latency
    assert got["e2e_s_p50"] == got["wall_s_p50"] == pytest.approx(1.016766084)  # request_latency
    assert got["wall_s_mean"] == pytest.approx(0.8778762541666666)
    assert got["output_tokens_per_s_per_user"] == pytest.approx(30.633777781029398)
    assert (got["error_count"], got["error_rate"]) == (0, 0.0)
    assert (got["gpus_used"], got["gpu_name"], got["device"]) == (1, "H100-SXM-80GB", "import")


def test_open_loop_level_is_keyed_by_its_most_requests_in_flight(run) -> None:
    got = row(run, 3)  # effective_concurrency max 3.0
    assert got["request_rate"] == 4.0 and math.isnan(got["concurrency"])
    assert got["max_in_flight"] == 3
    assert got["window_s"] == pytest.approx(2.361208064)
    assert got["output_tokens"] == 128


def test_timed_out_requests_are_errors_of_an_ok_level(run) -> None:
    got = row(run, 8)
    assert got["status"] == "ok"
    assert (got["requests"], got["error_count"]) == (8, 8)  # request_count, error_request_count
    assert got["error_rate"] == pytest.approx(0.5)  # request_error_rate 50.0 %
    assert "8× TimeoutError" in got["error"]


def test_run_json_records_every_source_file(run) -> None:
    files = run.meta["import"]["files"]
    assert [Path(f["path"]).name for f in files] == list(FILES)
    assert {(f["version"], f["schema_version"]) for f in files} == {("0.13.0", "1.4")}
    assert [level["batch_size"] for f in files for level in f["levels"]] == [1, 4, 3, 8]
    assert len(files[0]["sha256"]) == 64
    assert run.meta["config"]["gpus_used"] == 1


def test_unknown_schema_version_is_refused_naming_what_is_expected(tmp_path: Path) -> None:
    path = altered(tmp_path, FILES[0], lambda d: d.update(schema_version="9.9"))
    with pytest.raises(BadInput) as err:
        read(path)
    assert str(err.value) == (
        f"{path}: AIPerf schema_version 9.9 is not one this reads (expected 1.x)"
    )


def test_a_file_without_schema_version_is_not_taken_for_aiperf(tmp_path: Path) -> None:
    path = altered(tmp_path, FILES[0], lambda d: d.pop("schema_version"))
    with pytest.raises(BadInput, match="no schema_version"):
        read(path)


def test_a_unit_it_does_not_know_is_refused(tmp_path: Path) -> None:
    path = altered(tmp_path, FILES[0], lambda d: d["time_to_first_token"].update(unit="min"))
    with pytest.raises(BadInput, match=r"time_to_first_token.p50 is in 'min'"):
        read(path)


def test_seconds_in_the_file_are_read_as_seconds(tmp_path: Path) -> None:
    def to_seconds(document: dict) -> None:
        metric = document["time_to_first_token"]
        metric.update(unit="sec", p50=metric["p50"] / 1000)

    level = read(altered(tmp_path, FILES[0], to_seconds)).levels[0]
    assert level.values["ttft_s_p50"] == pytest.approx(0.5259886345)


def test_truncated_file_is_refused_in_one_line(tmp_path: Path) -> None:
    path = truncated(tmp_path, FILES[0])
    with pytest.raises(BadInput) as err:
        read(path)
    assert str(err.value).startswith(f"{path}: truncated (line ")
    assert "\n" not in str(err.value)


def test_a_number_that_is_not_one_is_refused(tmp_path: Path) -> None:
    path = altered(tmp_path, FILES[0], lambda d: d["benchmark_duration"].update(avg="5.7"))
    with pytest.raises(BadInput, match=r"benchmark_duration.avg is '5.7', not a number"):
        read(path)


def test_the_load_aiperf_offered_is_the_rows_settings_and_one_sweep_is_one_work() -> None:
    from harness.analysis.work import work_signature

    level = read(DATA / FILES[1]).levels[0]
    assert level.settings["phase"]["type"] == "concurrency" and level.concurrency == 4
    assert "concurrency" not in level.settings["phase"]  # in its own column
    other = read(DATA / FILES[0]).levels[0]
    assert other.concurrency == 1
    signatures = {
        work_signature({"workload": "text", "settings": json.dumps(lv.settings)})
        for lv in (level, other)
    }
    assert len(signatures) == 1


def test_error_rate_is_aiperfs_percent_as_a_share(tmp_path: Path) -> None:
    path = altered(tmp_path, FILES[3], lambda d: d["request_error_rate"].update(avg=25.0))
    assert read(path).levels[0].values["error_rate"] == pytest.approx(0.25)
