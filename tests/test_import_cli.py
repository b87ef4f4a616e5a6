"""`gpucost import` end to end: an imported run is priced by the hand formula, read by compare
and report, and every bad input is one line and a non-zero exit, never a traceback or a
half-written run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers_runs import TEST_CARD
from tests.import_helpers import DATA, altered, import_files, invoke, truncated

C1, C4 = "aiperf_concurrency1.json", "aiperf_concurrency4.json"


@pytest.fixture
def card(tmp_path: Path) -> Path:
    path = tmp_path / "card.yaml"
    path.write_text(TEST_CARD, encoding="utf-8")  # test:eight, 8 × H100 at $28.80/h
    return path


def _refused(result, *phrases: str) -> str:
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert message.startswith("Error: ") and "\n" not in message, message
    assert "Traceback" not in result.output
    for phrase in phrases:
        assert phrase in message
    return message


def test_imported_run_is_priced_window_times_gpus_over_output_tokens(
    tmp_path: Path, card: Path
) -> None:
    out = tmp_path / "runs"
    result = invoke("import", "aiperf", DATA / C1, DATA / C4, "--gpu", "H100-SXM-80GB",
                    "--gpus-used", "8", "--instance", "test:eight", "--ratecard", card,
                    "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    run = Path(result.stdout.strip())
    assert "concurrency 4: 4.71 s, 12 requests, 40.7 output tok/s" in result.stderr
    assert json.loads((run / "run.json").read_text())["config"]["instance"] == "test:eight"
    priced = invoke("price", run, "--instance", "test:eight", "--ratecard", card,
                    "--plan", "on_demand", "--format", "json")  # fmt: skip
    assert priced.exit_code == 0, priced.output
    rows = json.loads(priced.stdout)
    cost = {(r["batch_size"], r["unit"]): r["cost_per_unit_usd"] for r in rows}
    price_per_gpu_s = 28.80 / 8 / 3600
    # AIPerf: benchmark_duration 4.70663808 s, total_osl 192 at concurrency 4
    expected = 4.70663808 * 8 * price_per_gpu_s / 192 * 1e6
    assert cost[(4, "output_token")] * 1e6 == pytest.approx(expected)
    assert cost[(1, "output_token")] * 1e6 == pytest.approx(
        5.7028672 * 8 * price_per_gpu_s / 96 * 1e6
    )
    assert cost[(4, "input_token")] is None  # no prefill/decode split: output carries it all


def test_compare_and_report_read_imported_runs(tmp_path: Path, card: Path) -> None:
    # The same AIPerf levels, as if measured on an H100 and on an L4 server
    h100 = import_files("aiperf", tmp_path / "runs", C1, C4)
    l4 = import_files("aiperf", tmp_path / "runs", C1, C4, gpu="L4")
    compared = invoke("compare", h100.path, l4.path, "--ratecard", card, "--instance", "test:one",
                      "--instance", "test:l4", "--plan", "on_demand", "--format", "csv")  # fmt: skip
    assert compared.exit_code == 0, compared.output
    lines = [line for line in compared.stdout.splitlines() if ",output_token," in line]
    assert {(h100.run_id in line) or (l4.run_id in line) for line in lines} == {True}
    assert len(lines) == 4  # 2 levels × 2 runs, each on the instance with its GPU
    report = tmp_path / "report.md"
    made = invoke("report", h100.path, l4.path, "--ratecard", card, "-o", report)
    assert made.exit_code == 0, made.output
    assert h100.run_id in report.read_text(encoding="utf-8")


def test_an_import_never_overwrites_an_earlier_run(tmp_path: Path) -> None:
    first = import_files("aiperf", tmp_path / "runs", C1)
    before = (first.path / "measurements.csv").read_bytes()
    second = import_files("aiperf", tmp_path / "runs", C1)
    assert second.path != first.path
    assert (first.path / "measurements.csv").read_bytes() == before


def test_unknown_schema_version_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    path = altered(tmp_path, C1, lambda d: d.update(schema_version="2.0"))
    out = tmp_path / "runs"
    result = invoke("import", "aiperf", DATA / C4, path, "--gpu", "L4", "--gpus-used", "1",
                    "--out", out)  # fmt: skip
    _refused(result, str(path), "AIPerf schema_version 2.0 is not one this reads (expected 1.x)")
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(
    ("tool", "name"),
    [("aiperf", C1), ("guidellm", "guidellm_sweep.json"), ("vllm", "vllm_rates_2_8.json")],
)
def test_truncated_file_is_one_line_and_exit_2(tmp_path: Path, tool: str, name: str) -> None:
    path = truncated(tmp_path, name)
    result = invoke("import", tool, path, "--gpu", "L4", "--gpus-used", "1",
                    "--out", tmp_path / "runs")  # fmt: skip
    _refused(result, f"{path}: truncated")


def test_a_file_of_another_tool_is_refused(tmp_path: Path) -> None:
    result = invoke("import", "guidellm", DATA / C1, "--gpu", "L4", "--gpus-used", "1",
                    "--out", tmp_path)  # fmt: skip
    _refused(result, "no metadata.version (not a GuideLLM JSON report")


def test_not_json_at_all_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "profile_export_aiperf.csv"
    path.write_text("Metric,avg\nRequest Latency (ms),12.5\n", encoding="utf-8")
    result = invoke("import", "aiperf", path, "--gpu", "L4", "--gpus-used", "1", "--out", tmp_path)
    _refused(result, f"{path}: not valid JSON")


def test_missing_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.json"
    result = invoke("import", "vllm", path, "--gpu", "L4", "--gpus-used", "1", "--out", tmp_path)
    _refused(result, f"{path}: no such file")


def test_unknown_gpu_is_refused(tmp_path: Path) -> None:
    result = invoke("import", "aiperf", DATA / C1, "--gpu", "H900", "--gpus-used", "1",
                    "--out", tmp_path)  # fmt: skip
    _refused(result, "--gpu 'H900': unknown GPU")


def test_instance_with_another_gpu_is_refused(tmp_path: Path, card: Path) -> None:
    result = invoke("import", "aiperf", DATA / C1, "--gpu", "A10G", "--gpus-used", "1",
                    "--instance", "test:eight", "--ratecard", card, "--out", tmp_path)  # fmt: skip
    _refused(result, "--instance test:eight: its GPU is H100-SXM-80GB, not --gpu A10G")


def test_more_gpus_than_the_instance_has_is_refused(tmp_path: Path, card: Path) -> None:
    result = invoke("import", "aiperf", DATA / C1, "--gpu", "H100-SXM-80GB", "--gpus-used", "2",
                    "--instance", "test:one", "--ratecard", card, "--out", tmp_path)  # fmt: skip
    _refused(result, "it has 1 GPUs, fewer than --gpus-used 2")


def test_the_same_level_twice_is_refused(tmp_path: Path) -> None:
    result = invoke("import", "aiperf", DATA / C1, DATA / C1, "--gpu", "L4", "--gpus-used", "1",
                    "--out", tmp_path)  # fmt: skip
    _refused(result, "concurrency 1 is already a level")


def test_gpus_used_below_one_is_refused(tmp_path: Path) -> None:
    result = invoke("import", "aiperf", DATA / C1, "--gpu", "L4", "--gpus-used", "0",
                    "--out", tmp_path)  # fmt: skip
    _refused(result, "--gpus-used must be between 1 and")


def test_import_does_not_load_torch() -> None:
    code = (
        "import sys, harness.cli.importing, harness.importers.run, harness.importers.aiperf, "
        "harness.importers.guidellm, harness.importers.vllm; print('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
