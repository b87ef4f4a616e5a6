"""Impossible result files: `gpucost import` refuses them in one line naming the file and the
level, before any run folder is made (harness/importers/base.py: check_level, and the results
reader's own checks on the rows about to be written)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.results.runs import load_run
from tests.import_helpers import DATA, altered, invoke

AIPERF = "aiperf_concurrency4.json"
GUIDELLM = "guidellm_concurrent_1_4.json"
VLLM = "vllm_rates_2_8.json"


def _set(*path_and_value: Any):
    *keys, value = path_and_value

    def change(document: Any) -> None:
        target = document
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


def _vllm_file(tmp_path: Path, **changes: Any) -> Path:
    import json

    lines = []
    for line in (DATA / VLLM).read_text(encoding="utf-8").splitlines():
        if line.strip():
            document = json.loads(line)
            document.update(changes)
            lines.append(json.dumps(document))
    path = tmp_path / VLLM
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _refused(tool: str, path: Path, out: Path, *needles: str, gpus_used: str = "1") -> str:
    result = invoke("import", tool, path, "--gpu", "L4", "--gpus-used", gpus_used, "--out", out)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    message = result.stderr.strip()
    assert message.startswith("Error: ") and "\n" not in message, result.output
    for needle in needles:
        assert needle in message, message
    assert not out.exists() or not any(out.iterdir()), "a refused import left a run folder"
    return message


AIPERF_CASES = [
    # the duration in ms while the file's own throughput says seconds: cost 1000x low
    ("duration-ms", _set("benchmark_duration", {"unit": "ms", "avg": 4.70663808}),
     "the duration or a rate in the wrong unit"),
    ("duration-1e300", _set("benchmark_duration", {"unit": "sec", "avg": 1e300}),
     "at most 30 days"),
    ("count-1e300", _set("request_count", {"unit": "requests", "avg": 1e300}),
     "more than any benchmark sends"),
    ("error-150", _set("request_error_rate", {"unit": "%", "avg": 150.0}), "150 %"),
    ("p50-above-p99", _set("time_to_first_token", "p50", 900.0), "ttft p50 0.9 s is above p90"),
    ("fractional-requests", _set("request_count", {"unit": "requests", "avg": 11.5}),
     "11.5, not a whole number of requests"),
    ("concurrency-1e300", _set("input_config", "phases", 0, "concurrency", 1e300),
     "concurrency 1e+300 is not between 1 and"),
    ("latency-ns", _set("request_latency", "unit", "ns"), "above the whole request's"),
    ("ttft-hours", _set("time_to_first_token", {"unit": "sec", "p50": 1e6, "p90": 1e6, "p99": 1e6}),
     "more than a day"),
    ("models-text", _set("input_config", "models", "abc"), "input_config.models is not a mapping"),
    ("items-5", _set("input_config", "models", "items", 5),
     "input_config.models.items is not a list"),
    ("input-config-list", _set("input_config", [1]), "input_config is not a mapping"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "change", "needle"), AIPERF_CASES, ids=[c[0] for c in AIPERF_CASES])
def test_impossible_aiperf_files_are_refused(tmp_path: Path, name: str, change, needle: str) -> None:
    path = altered(tmp_path, AIPERF, change)
    _refused("aiperf", path, tmp_path / "out", needle, str(path))


def test_aiperf_error_details_as_text_is_read_not_a_traceback(tmp_path: Path) -> None:
    summary = [{"count": 2, "error_details": "boom"}]
    path = altered(tmp_path, AIPERF, _set("error_summary", summary))
    result = invoke("import", "aiperf", path, "--gpu", "L4", "--gpus-used", "1", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    run = load_run(result.stdout.strip().splitlines()[-1])
    assert "2× error" in str(run.measurements.iloc[0]["error"])


GUIDELLM_CASES = [
    ("config-text", _set("config", "abc"), "config is not a mapping"),
    ("spec-list", _set("config", "spec", [1, 2]), "config.spec is not a mapping"),
    ("benchmark-config-text", _set("benchmarks", 0, "config", "abc"),
     "benchmarks[0].config is not a mapping"),
    ("duration-1e300", _set("benchmarks", 0, "duration", 1e300), "at most 30 days"),
    ("duration-ms", _set("benchmarks", 0, "duration", 1.5982048511505127e-3),
     "the duration or a rate in the wrong unit"),
    ("streams-1e300", _set("benchmarks", 1, "config", "strategy", "streams", 1e300),
     "concurrency 1e+300"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "change", "needle"), GUIDELLM_CASES,
                         ids=[c[0] for c in GUIDELLM_CASES])  # fmt: skip
def test_impossible_guidellm_files_are_refused(
    tmp_path: Path, name: str, change, needle: str
) -> None:
    path = altered(tmp_path, GUIDELLM, change)
    _refused("guidellm", path, tmp_path / "out", needle)


VLLM_CASES = [
    ({"duration": 4459.0}, "the duration or a rate in the wrong unit"),
    ({"completed": 8, "failed": 1e12}, "more than any benchmark sends"),
    ({"median_ttft_ms": 5000.0}, "ttft p50 5 s is above p99"),
    ({"max_concurrency": 10**12}, "concurrency 1e+12 is not between 1 and"),
    ({"median_ttft_ms": 1e9, "p99_ttft_ms": 1e9}, "more than a day"),
]


@pytest.mark.parametrize(("changes", "needle"), VLLM_CASES)
def test_impossible_vllm_files_are_refused(tmp_path: Path, changes: dict, needle: str) -> None:
    _refused("vllm", _vllm_file(tmp_path, **changes), tmp_path / "out", needle, "level 1")


@pytest.mark.parametrize("gpus_used", ["0", "-1", "1000000000"])
def test_gpus_used_is_bounded(tmp_path: Path, gpus_used: str) -> None:
    _refused("aiperf", DATA / AIPERF, tmp_path / "out", "--gpus-used must be between 1 and",
             gpus_used=gpus_used)  # fmt: skip


def test_a_sound_file_still_imports_and_prices(tmp_path: Path) -> None:
    result = invoke("import", "aiperf", DATA / AIPERF, "--gpu", "H100-SXM-80GB",
                    "--gpus-used", "1", "--out", tmp_path)  # fmt: skip
    assert result.exit_code == 0, result.output
    run = result.stdout.strip().splitlines()[-1]
    priced = invoke("price", run)
    assert priced.exit_code == 0, priced.output
