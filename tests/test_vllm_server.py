"""gpucost against a real vLLM (its CPU build, in a venv of its own named by GPUCOST_VLLM_PYTHON;
`.ci/run` builds it and sets GPUCOST_REQUIRE_VLLM so that CI never skips these): exact token
counts, the server's own /metrics counters equal to the client's, and cached prompt tokens seen
when prompts share a prefix. One server for the module (it takes ~25 s to start on a quiet box)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from harness.endpoint.config import EndpointConfig, LoadLevel
from harness.endpoint.runner import run_endpoint
from tests.vllm_server import build_printable_llama, start_vllm, vllm_python
from workloads.model_folder import SENTENCES

pytestmark = pytest.mark.vllm

REQUESTS = 12
INPUT_LEN = 32
OUTPUT_LEN = 16
BLOCK_TOKENS = 128
"""vLLM's CPU build caches prompts in blocks of 128 tokens: a shared prefix shows from there."""


@pytest.fixture(scope="module")
def vllm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    python = vllm_python()
    assert python is not None  # the marker skips these tests without it
    folder = tmp_path_factory.mktemp("vllm")
    model = build_printable_llama(folder / "model")
    server = start_vllm(python, model, folder / "server.log")
    try:
        yield server.base_url, model
    finally:
        server.stop()


def _run(url: str, out: Path, **settings: object) -> dict:
    config = EndpointConfig(
        base_url=url, workload="text", api="completions", model=None,
        levels=(LoadLevel(concurrency=4),), requests=REQUESTS, sample_interval_s=None,
        **settings,
    )  # fmt: skip
    store = run_endpoint(config, out)
    return pd.read_csv(store.path / "measurements.csv").iloc[-1].to_dict()


def test_token_counts_are_exact_and_match_the_servers_counters(
    vllm: tuple[str, Path], tmp_path: Path
) -> None:
    url, model = vllm
    row = _run(url, tmp_path, input_len=INPUT_LEN, output_len=OUTPUT_LEN, tokenizer=str(model),
               warmup_requests=2)  # fmt: skip
    assert row["status"] == "ok" and row["error_count"] == 0
    assert row["length_fields_accepted"] and row["output_len_honoured"]
    assert row["output_tokens"] == REQUESTS * OUTPUT_LEN
    assert row["input_tokens"] == REQUESTS * INPUT_LEN  # whole-token prompts: exact lengths
    # What vLLM itself counted in the level (warm-up left out) is what the client read.
    assert row["server_generation_tokens"] == row["output_tokens"]
    assert row["server_prompt_tokens"] == row["input_tokens"]
    assert row["server_requests_length"] == REQUESTS
    assert row["server_requests_abort"] == 0
    assert row["server_decode_s_sum"] > 0
    assert row["server_token_mismatch"] is None or math.isnan(row["server_token_mismatch"])


def test_a_shared_prefix_shows_as_cached_prompt_tokens(
    vllm: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = vllm
    prefix = " ".join(SENTENCES[:20])  # ~200 tokens: one whole cache block
    dataset = tmp_path / "shared.jsonl"
    dataset.write_text(
        "".join(
            json.dumps({"prompt": f"{prefix} {SENTENCES[i]} {i}", "output_tokens": 4}) + "\n"
            for i in range(REQUESTS)
        )
    )
    row = _run(url, tmp_path / "runs", dataset=str(dataset), warmup_requests=1)
    assert row["status"] == "ok"
    assert row["server_cached_prompt_tokens"] >= BLOCK_TOKENS * (REQUESTS - 1)
    assert row["server_prompt_tokens"] == row["input_tokens"]
