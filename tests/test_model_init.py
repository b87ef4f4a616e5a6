"""`gpucost model init DIR`: a model folder made offline (random weights in a preset's shape and
a trained tokenizer) that a real server loads; and a live-server run that says what it is doing
and ends with the same cost table as an in-process run."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.endpoint.server import free_port
from tests.endpoint_server import serve_command


def invoke(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models") / "tiny"
    result = invoke("model", "init", folder)
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stdout and "random weights" in result.stdout
    assert f"--model {folder}" in result.stdout  # how to use it, as run would need it
    return folder


def test_the_folder_loads_offline_with_the_presets_shape(tiny: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workloads.text import PRESETS

    tokenizer = AutoTokenizer.from_pretrained(tiny, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(tiny, local_files_only=True)
    shape = PRESETS["tiny"]
    assert model.config.hidden_size == shape["hidden_size"]
    assert model.config.num_hidden_layers == shape["num_hidden_layers"]
    assert model.config.vocab_size == len(tokenizer) == shape["vocab_size"]
    ids = tokenizer("the quick brown fox", return_tensors="pt").input_ids
    assert tokenizer.decode(ids[0]) == "the quick brown fox"  # a real round trip
    assert tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--preset", "gpt-5"), "--preset 'gpt-5': not a text preset (known: tiny"),
        (("--dtype", "fp8"), "--dtype 'fp8': expected one of fp32, bf16, fp16"),
        (("--tokenizer", "/nonexistent/tok"), "--tokenizer /nonexistent/tok: no tokenizer there"),
    ],
)
def test_bad_options_are_one_line(tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    result = invoke("model", "init", tmp_path / "m", *args)
    assert result.exit_code == 2 and needle in result.stderr, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not (tmp_path / "m").exists()  # nothing half-written


def test_a_folder_that_holds_something_is_never_written_over(tiny: Path, tmp_path: Path) -> None:
    before = {p.name: p.stat().st_mtime_ns for p in tiny.iterdir()}
    result = invoke("model", "init", tiny)
    assert result.exit_code == 2 and "exists and is not an empty folder" in result.stderr
    assert {p.name: p.stat().st_mtime_ns for p in tiny.iterdir()} == before
    missing = invoke("model", "init", tmp_path / "no" / "such" / "m")
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


@pytest.mark.slow
def test_a_live_server_run_shows_progress_and_ends_with_the_cost_table(
    tiny: Path, tmp_path: Path
) -> None:
    pytest.importorskip("fastapi", reason="needs transformers[serving]")
    port = free_port()
    result = invoke(
        "run", "-w", "text", "--server-cmd", shlex.join(serve_command(tiny, port)),
        "--endpoint", f"http://127.0.0.1:{port}/v1", "--model", tiny, "--concurrency", "1",
        "--requests", 4, "--warmup-requests", 1, "--input-len", 8, "--output-len", 8,
        "--gpu", "L4", "--gpus-used", 1, "--server-timeout", 180, "--out", tmp_path / "runs",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Starting the server (up to 180 s)" in result.stderr
    assert "Server up after" in result.stderr
    lines = result.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("Cost and margin at market"))
    assert any(line.startswith("text ") and "$" in line for line in lines[at:])
    assert max(len(line) for line in lines[at:-1]) <= 80
    assert Path(lines[-1]).is_dir()  # the run folder stays the last line, for scripts
