"""Trace replays against a real `transformers serve --continuous-batching` on 127.0.0.1 with a
tiny random Llama (context 512): slices of the real Azure and Mooncake traces, lengths cut to the
context with the recorded clamps; the server's own token counts match the trace's."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.endpoint.prompts import load_tokenizer
from harness.traffic.replay import load_replay

pytest.importorskip("fastapi", reason="needs transformers[serving]")

TRACES = Path(__file__).parent / "data" / "traces"
MAX_IN, MAX_OUT, REQUESTS = 48, 16, 10


@pytest.mark.parametrize("trace", ["azure_conv_head200.csv", "mooncake_conv_head200.jsonl"])
def test_replay_of_a_real_trace_slice(tiny_llama_server, tmp_path: Path, trace: str) -> None:
    model, url = tiny_llama_server
    path = TRACES / trace
    result = CliRunner().invoke(
        main,
        ["run", "--endpoint", url, "--model", str(model), "--trace", str(path),
         "--trace-requests", str(REQUESTS), "--trace-speedup", "10", "--max-input-len",
         str(MAX_IN), "--max-output-len", str(MAX_OUT), "--warmup-requests", "1",
         "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (run,) = tmp_path.iterdir()
    with (run / "measurements.csv").open() as f:
        (row,) = list(csv.DictReader(f))
    replay = load_replay(
        str(path), None, load_tokenizer(str(model)), seed=0, max_requests=REQUESTS,
        max_input_len=MAX_IN, max_output_len=MAX_OUT,
    )  # fmt: skip
    with (run / "iterations.csv").open() as f:
        failed = [(r["error"], r["usage_rejected"]) for r in csv.DictReader(f) if r["error"]]
    assert row["status"] == "ok" and int(float(row["requests"])) == REQUESTS, failed
    assert row["output_len_honoured"] == "True"
    assert int(float(row["output_tokens"])) == sum(p.output_tokens for p in replay.prompts)
    # the server's prompt count is the prompt's own, exact by the tokenizer (no special tokens
    # are added to a completion prompt by this model's tokenizer)
    assert int(float(row["input_tokens"])) == sum(min(r.input_len, MAX_IN) for r in replay.requests)
    assert float(row["trace_speedup"]) == 10.0
    assert int(float(row["trace_clamped_requests"])) == replay.clamped_requests > 0
    settings = json.loads(row["settings"])
    assert settings["trace"] == trace and settings["max_input_len"] == MAX_IN
