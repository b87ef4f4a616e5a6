"""Endpoint runs against a real `transformers serve --continuous-batching` on 127.0.0.1."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.cli_helpers import invoke

pytest.importorskip("fastapi", reason="needs transformers[serving]")

OUTPUT_LEN = 16
INPUT_LEN = 16
L4_ON_DEMAND_PER_HOUR = 0.8048  # ratecards/aws.yaml, g6.xlarge (1 × L4)


def _rows(path: Path, name: str) -> list[dict[str, str]]:
    with open(path / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))



@pytest.fixture(scope="module")
def sweep(tiny_llama_server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    model, url = tiny_llama_server
    out = tmp_path_factory.mktemp("runs")
    result = invoke(
        "run", "-w", "text", "--endpoint", url, "--model", model, "--concurrency", "1,4",
        "--requests", 8, "--warmup-requests", 1, "--input-len", INPUT_LEN,
        "--output-len", OUTPUT_LEN, "--gpu", "L4", "--gpus-used", 1, "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (run,) = out.iterdir()
    return run


def test_rows_per_level_with_token_counts_and_latencies(sweep: Path) -> None:
    rows = _rows(sweep, "measurements.csv")
    assert [r["concurrency"] for r in rows] == ["1", "4"]
    for row in rows:
        assert row["engine"] == "endpoint"
        assert row["status"] == "ok", row["error"]
        assert int(row["requests"]) == 8 and row["error_count"] == "0"
        # The server does not take min_tokens/ignore_eos: the row says so and counts what it
        # really generated, never more than asked.
        assert row["length_fields_accepted"] == "False"
        assert 0 < int(row["output_tokens"]) <= 8 * OUTPUT_LEN
        assert (row["output_len_honoured"] == "True") == (
            int(row["output_tokens"]) == 8 * OUTPUT_LEN
        )
        assert int(row["input_tokens"]) >= 8 * INPUT_LEN
        window = float(row["window_s"])
        assert float(row["output_tokens_per_s"]) == pytest.approx(
            int(row["output_tokens"]) / window
        )
        for name in ("ttft_s", "tpot_s", "itl_s", "e2e_s"):
            p50, p90, p99 = (float(row[f"{name}_p{q}"]) for q in (50, 90, 99))
            assert 0 < p50 <= p90 <= p99
    requests = _rows(sweep, "iterations.csv")
    assert len(requests) == 16
    for r in requests:
        assert 0 < float(r["ttft_s"]) <= float(r["wall_s"])
        assert float(r["start_s"]) < float(r["first_token_s"]) <= float(r["end_s"])
        assert int(r["output_tokens"]) <= OUTPUT_LEN
    meta = json.loads((sweep / "run.json").read_text())
    assert meta["status"] == "complete"
    assert meta["endpoint"]["model"] in meta["endpoint"]["served_models"]


def test_throughput_rises_with_concurrency(sweep: Path) -> None:
    one, four = _rows(sweep, "measurements.csv")
    assert float(four["output_tokens_per_s"]) > float(one["output_tokens_per_s"])


def test_price_charges_the_window_to_output_tokens(sweep: Path) -> None:
    result = invoke("price", sweep, "--instance", "aws:g6.xlarge", "--plan", "on_demand",
                    "--format", "csv")  # fmt: skip
    assert result.exit_code == 0, result.output
    priced = list(csv.DictReader(result.output.splitlines()))
    for row in _rows(sweep, "measurements.csv"):
        window_cost = L4_ON_DEMAND_PER_HOUR / 3600 * 1 * float(row["window_s"])
        mine = {p["unit"]: p for p in priced if p["batch_size"] == row["batch_size"]}
        assert float(mine["output_token"]["cost_per_unit_usd"]) == pytest.approx(
            window_cost / int(row["output_tokens"]), rel=1e-6
        )
        assert float(mine["request"]["cost_per_unit_usd"]) == pytest.approx(
            window_cost / int(row["requests"]), rel=1e-6
        )
        assert mine["input_token"]["cost_per_unit_usd"] == ""
    for command in (("compare", sweep), ("report", sweep, "-o", sweep / "report.md")):
        result = invoke(*command)
        assert result.exit_code == 0, result.output


def test_chat_api_and_open_loop(tiny_llama_server, tmp_path: Path) -> None:
    model, url = tiny_llama_server
    result = invoke(
        "run", "-w", "text", "--endpoint", url, "--model", model, "--api", "chat",
        "--request-rate", "inf", "--requests", 4, "--warmup-requests", 0,
        "--input-len", 8, "--output-len", 8, "--out", tmp_path,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (row,) = _rows(next(tmp_path.iterdir()), "measurements.csv")
    assert row["request_rate"] == "inf" and row["concurrency"] == ""
    assert row["status"] == "ok" and int(row["requests"]) == 4
    assert 1 <= int(row["batch_size"]) <= 4


def test_a_route_the_server_lacks_is_one_line(tiny_llama_server, tmp_path: Path) -> None:
    model, url = tiny_llama_server
    result = invoke("run", "-w", "embedding", "--endpoint", url, "--model", model,
                    "--requests", 2, "--out", tmp_path)  # fmt: skip
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert "has no POST /embeddings" in line


def test_slo_goodput_matches_the_requests_own_timings(tiny_llama_server, tmp_path: Path) -> None:
    model, url = tiny_llama_server
    result = invoke(
        "run", "-w", "text", "--endpoint", url, "--model", model, "--concurrency", 2,
        "--requests", 6, "--warmup-requests", 1, "--input-len", 8, "--output-len", 8,
        "--slo", "ttft_p99=60,tpot_p50=60,itl_p99=60,e2e_p90=60", "--out", tmp_path,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "SLO met, goodput" in result.output
    run = next(tmp_path.iterdir())
    (row,) = _rows(run, "measurements.csv")
    requests = _rows(run, "iterations.csv")
    # a request is good when it has every latency a target needs (several tokens: TPOT, ITL)
    good = [r for r in requests if r["tpot_s"] and len(json.loads(r["token_times_s"])) > 1]
    assert row["slo_met"] == "True" and int(row["good_requests"]) == len(good)
    window = float(row["window_s"])
    assert float(row["goodput_requests_per_s"]) == pytest.approx(len(good) / window)
    assert float(row["goodput_output_tokens_per_s"]) == pytest.approx(
        sum(int(r["output_tokens"]) for r in good) / window
    )
