"""Rows survive out-of-memory, errors and Ctrl-C; bad input is refused before anything is written."""

from __future__ import annotations

import csv
import json
import os
import signal
from pathlib import Path

import pytest

from harness.results.store import create_run_folder
from tests.cli_helpers import invoke
from tests.helpers_runs import start_sleepy_run

FAST = ["--iterations", "2", "--warmup", "1", "--min-duration", "0", "--idle-seconds", "0"]


def rows_of(out: Path) -> list[dict[str, str]]:
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    with open(run / "measurements.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def invoke_run(args: list[str]):
    return invoke("run", *FAST, *args, "--no-price")


def test_out_of_memory_keeps_earlier_rows_and_skips_larger_sizes(
    test_plugin: Path, tmp_path: Path
) -> None:
    result = invoke_run(
        ["-w", "flaky,noop", "-b", "1,2,3,4", "-o", "oom_above=2", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    rows = rows_of(tmp_path)
    flaky = [(r["batch_size"], r["status"]) for r in rows if r["workload"] == "flaky"]
    assert flaky == [("1", "ok"), ("2", "ok"), ("3", "oom")]
    oom = next(r for r in rows if r["status"] == "oom")
    assert "out of memory" in oom["error"].lower()
    assert oom["wall_s_p50"] == "" and oom["requests"] == ""
    # the sweep went on with the next workload
    assert [r["status"] for r in rows if r["workload"] == "noop"] == ["ok"] * 4
    ok = next(r for r in rows if r["workload"] == "flaky" and r["status"] == "ok")
    assert float(ok["first_s_p50"]) > 0 and float(ok["second_s_p50"]) > 0


def test_an_error_becomes_a_row_and_the_sweep_goes_on(test_plugin: Path, tmp_path: Path) -> None:
    result = invoke_run(["-w", "flaky", "-b", "1,2", "-o", "fail_at=1", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = rows_of(tmp_path)
    assert [(r["batch_size"], r["status"]) for r in rows] == [("1", "error"), ("2", "ok")]
    assert rows[0]["error"] == "ValueError: bad shape at batch 1"


def test_ctrl_c_keeps_finished_rows_and_marks_the_run(test_plugin: Path, tmp_path: Path) -> None:
    marker = tmp_path / "second-size-started"
    env = {**os.environ, "GPUCOST_TEST_SLEEPY_MARKER": str(marker)}
    out = tmp_path / "out"
    # Once the first batch size's row is on disk, press Ctrl-C. A shell's background job
    # starts with Ctrl-C ignored; the child must take it.
    proc = start_sleepy_run(
        out, "1,2", env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)
    )
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert [r["batch_size"] for r in rows_of(out)] == ["1"]
    (run,) = list(out.iterdir())
    meta = json.loads((run / "run.json").read_text())
    assert meta["status"] == "interrupted" and meta["finished_at"]


def test_two_runs_never_collide(test_plugin: Path, tmp_path: Path) -> None:
    folders = {create_run_folder(tmp_path)[1] for _ in range(50)}
    assert len(folders) == 50
    for _ in range(2):
        assert invoke_run(["-w", "noop", "-b", "1", "--out", str(tmp_path / "r")]).exit_code == 0
    assert len(list((tmp_path / "r").iterdir())) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-w", "nope"], "unknown workload 'nope' (valid: "),
        (["-w", "text", "--preset", "sd-1.5"], "unknown preset 'sd-1.5' for workload 'text'"),
        (["-w", "text", "-b", "0"], "batch sizes must be > 0"),
        (["-w", "text", "-b", "1,x"], "'x' is not a whole number"),
        (["-w", "text", "-b", ""], "--batch-sizes is empty"),
        (["-w", "text", "--model", __file__], f"--model {__file__}: not a folder"),
        (["-w", "text", "--input-len", "0"], "--input-len must be > 0"),
        (["-w", "text", "--output-len", "-3"], "--output-len must be > 0"),
        (["-w", "text", "--model", "/no/such/folder"], "--model /no/such/folder: no such folder"),
        (["-w", "text", "--device", "cuda"], "no CUDA GPU is available"),
        (["-w", "text", "--device", "tpu"], "--device 'tpu': not a device"),
        (["-w", "text", "--device", "meta"], "only cpu and cuda devices"),
        (["-w", "text", "--dtype", "int3"], "--dtype 'int3': unknown"),
        (["-w", "text", "--iterations", "0"], "--iterations must be >= 1"),
        (["-w", "text", "--steps", "4"], "--steps: not a setting of the selected workload(s) text"),
        (["-w", "text", "-o", "input_len=many"], "--input-len must be int (got 'many')"),
        (["-w", "text", "-o", "novalue"], "expected NAME=VALUE"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    if "cuda" in args:
        pytest.importorskip("torch")
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has a GPU")
    out = tmp_path / "out"
    result = invoke_run([*args, "--out", str(out)])
    assert result.exit_code != 0
    assert message in result.output, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output
    assert not out.exists() or not any(out.iterdir())


def test_model_folder_that_is_not_a_model(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    result = invoke_run(["-w", "text", "--model", str(tmp_path / "m"), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0
    assert "not a model folder (no config.json)" in result.output


def test_out_that_cannot_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = invoke_run(["-w", "text", "--out", str(blocker / "sub")])
    assert result.exit_code != 0
    assert f"--out {blocker / 'sub'}: cannot create the folder" in result.output
    assert blocker.read_text() == "not a folder"


def test_model_flops_are_counted_in_an_untimed_iteration(test_plugin: Path, tmp_path: Path) -> None:
    result = invoke_run(["-w", "flaky", "-b", "1,2", "--out", str(tmp_path / "on")])
    assert result.exit_code == 0, result.output
    # flaky multiplies (b, 32, 32) by (32, 32) twice: 2 products × 2·32³ FLOPs × b.
    counted = [float(r["counted_flops"]) for r in rows_of(tmp_path / "on")]
    assert counted == [2 * 2 * 32**3 * 1, 2 * 2 * 32**3 * 2]
    # The count is not a timed iteration: the timed ones are exactly the --iterations asked for.
    assert [r["iterations"] for r in rows_of(tmp_path / "on")] == ["2", "2"]
    result = invoke_run(["-w", "flaky", "-b", "1", "--no-count-flops", "--out", str(tmp_path / "off")])
    assert result.exit_code == 0, result.output
    assert [r["counted_flops"] for r in rows_of(tmp_path / "off")] == [""]
