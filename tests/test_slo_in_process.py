"""`--slo` on in-process rows: hand-made iterations, then a real tiny run on the CPU."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import stats
from harness.cli import main
from harness.measure.goodput import batch_slo_columns, latency_percentiles, unjudged_metrics
from harness.slo import parse_slo

FAST = ["--iterations", "4", "--warmup", "1", "--min-duration", "0", "--idle-seconds", "0"]


def test_goodput_share_of_good_iterations() -> None:
    iterations = [
        {"e2e": 1.0, "ttft": 0.1, "tpot": 0.01},
        {"e2e": 1.2, "ttft": 0.1, "tpot": 0.01},
        {"e2e": 3.0, "ttft": 0.1, "tpot": 0.01},  # too slow end to end
        {"e2e": 1.1, "ttft": 0.6, "tpot": 0.01},  # first token too late
    ]
    walls = [it["e2e"] for it in iterations]
    row = {
        "requests": 4, "input_tokens": 64, "output_tokens": 32,
        "wall_s_p50": stats.percentile(walls, 50), "wall_s_p99": stats.percentile(walls, 99),
        **latency_percentiles(("ttft", "tpot"), iterations),
    }  # fmt: skip
    assert row["wall_s_p50"] == pytest.approx(1.15)
    assert row["ttft_s_p50"] == pytest.approx(0.1) and row["ttft_s_p99"] > 0.5
    columns = batch_slo_columns(
        parse_slo("e2e_p99=2,ttft_p50=0.5"), row, ("ttft", "tpot"), iterations, 4
    )
    assert columns["slo_met"] is False  # p99 end to end ≈ 2.95 s
    assert columns["good_requests"] == 2 * 4  # two good iterations of four requests
    assert columns["goodput_output_tokens_per_s"] == pytest.approx(32 * 0.5 / 1.15)
    assert columns["goodput_input_tokens_per_s"] == pytest.approx(64 * 0.5 / 1.15)
    assert columns["goodput_requests_per_s"] == pytest.approx(4 * 0.5 / 1.15)
    assert "goodput_images_per_s" not in columns
    met = batch_slo_columns(parse_slo("e2e_p50=2,tpot_p99=0.02"), row, ("ttft", "tpot"),
                            iterations, 4)  # fmt: skip
    assert met["slo_met"] is True and met["good_requests"] == 12  # only the 3 s one misses


def test_a_target_the_workload_lacks_is_not_judged() -> None:
    slo = parse_slo("ttft_p99=1,e2e_p99=2")
    assert unjudged_metrics(slo, ()) == ["ttft_p99"]
    iterations = [{"e2e": 1.0}, {"e2e": 1.5}]
    row = {"images": 2, "wall_s_p50": 1.25, "wall_s_p99": 1.495}
    columns = batch_slo_columns(slo, row, (), iterations, 2)
    assert columns == {"slo": "ttft_p99=1,e2e_p99=2", "slo_met": None}
    failing = batch_slo_columns(parse_slo("ttft_p99=1,e2e_p99=1"), row, (), iterations, 2)
    assert failing["slo_met"] is False and "good_requests" not in failing


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_tiny_text_and_embedding_run_with_an_slo(tmp_path: Path) -> None:
    args = ["run", "-w", "text,embedding", "--preset", "tiny", "--batch-sizes", "1,2",
            "--input-len", 16, "--output-len", 8, "--seq-len", 16, "--no-price",
            "--slo", "ttft_p99=100,tpot_p90=100,e2e_p99=100", "--out", tmp_path, *FAST]  # fmt: skip
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    assert "warning: --slo ttft_p99, tpot_p90 cannot be judged for embedding" in result.output
    (run,) = tmp_path.iterdir()
    rows = _rows(run / "measurements.csv")
    iterations = _rows(run / "iterations.csv")
    assert json.loads((run / "run.json").read_text())["config"]["slo"] == (
        "ttft_p99=100,tpot_p90=100,e2e_p99=100"
    )
    for row in rows:
        bs = int(row["batch_size"])
        assert row["slo"] == "ttft_p99=100,tpot_p90=100,e2e_p99=100"
        assert row.get("slo_max_load", "") == ""  # only --find-max-load marks a level
        if row["workload"] == "text":
            assert row["slo_met"] == "True"
            assert int(row["good_requests"]) == 4 * bs
            # every iteration was good: goodput is the raw throughput of the batch
            assert float(row["goodput_output_tokens_per_s"]) == pytest.approx(
                8 * bs / float(row["wall_s_p50"])
            )
            prefill = [float(it["prefill_s"]) for it in iterations
                       if it["workload"] == "text" and int(it["batch_size"]) == bs]  # fmt: skip
            assert float(row["ttft_s_p99"]) == pytest.approx(stats.percentile(prefill, 99))
            assert float(row["ttft_s_p50"]) <= float(row["ttft_s_p90"]) <= float(row["ttft_s_p99"])
            assert float(row["tpot_s_p99"]) >= float(row["tpot_s_p50"]) > 0
        else:
            assert row["slo_met"] == "" and row["good_requests"] == ""
            assert row.get("goodput_sequences_per_s", "") == "" and row["ttft_s_p99"] == ""


def test_a_bad_slo_stops_an_in_process_run_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["run", "-w", "text", "--slo", "wait_p99=1", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.endswith("--slo: unknown metric 'wait' in 'wait_p99=1'; use ttft, tpot, itl or e2e")
    assert list(tmp_path.iterdir()) == []
