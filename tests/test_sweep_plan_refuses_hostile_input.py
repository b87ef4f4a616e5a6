"""Hostile `gpucost sweep plan` input: bad run options are refused exactly as `gpucost run`
refuses them, before any task file is written (every cluster would be paid for and then fail);
spellings of one instance are one task; the estimate stays a real number; tasks install this
checkout, not a release no index has."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from harness.cli import main

RUN_ARGS = ["-w", "text", "-p", "tiny", "-b", "1"]


def _plan(out: Path, *extra: str, instances: str = "aws:g6e.xlarge", args=RUN_ARGS,
          install: str = "gpucost==0.1.0"):  # fmt: skip
    return CliRunner().invoke(main, ["sweep", "plan", "--instances", instances, *extra,
                                     "--install", install, "-o", str(out), "--", *args])


def _refused(result, needle: str) -> str:
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert message.startswith("Error: ") and "\n" not in message, result.output
    assert needle in message, message
    return message


BAD_RUN_OPTIONS = [
    (["-w", "text", "-b", "0"], "batch sizes must be > 0"),
    (["-w", "nosuch"], "unknown workload 'nosuch'"),
    (["-w", "text", "--slo", "foo=1"], "unknown metric 'foo'"),
    (["-w", "text", "--min-duration", "-5"], "--min-duration must be >= 0"),
    (["-w", "text", "-p", "nosuch"], "unknown preset 'nosuch'"),
    (["-w", "text", "--dtype", "fp7"], "--dtype 'fp7': unknown"),
    (["-w", "text", "--threads", "0"], "--threads must be >= 1"),
    (["-w", "text", "--device", "tpu"], "--device 'tpu'"),
    (["-w", "text", "-o", "nosuch=1"], "not a setting of the selected workload"),
    (["--help"], "asks for no run"),
    (["-w", "text", "--version"], "No such option"),
    (["-w", "text", "--endpoint", "http://127.0.0.1:8000/v1", "--slo", "ttft_p99=abc"], "--slo"),
    (["-w", "text", "--endpoint", "http://127.0.0.1:8000/v1", "--concurrency", "0"],
     "--concurrency"),
    (["-w", "text", "--endpoint", "http://127.0.0.1:8000/v1", "-b", "4"], "is for in-process runs"),
]


@pytest.mark.parametrize(("args", "needle"), BAD_RUN_OPTIONS)
def test_run_options_are_checked_as_run_checks_them_before_any_task_is_written(
    tmp_path: Path, args: list[str], needle: str
) -> None:
    out = tmp_path / "plan"
    message = _refused(_plan(out, args=args), needle)
    assert message.startswith("Error: run options: ")
    assert not out.exists()


@pytest.mark.parametrize("hours", ["nan", "inf", "-inf", "1e308", "-1", "0", "721"])
def test_expected_hours_is_finite_and_bounded(tmp_path: Path, hours: str) -> None:
    out = tmp_path / "plan"
    _refused(_plan(out, "--expected-hours", hours), "--expected-hours")
    assert not out.exists()


def test_spellings_of_one_instance_are_one_task(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    result = _plan(out, instances="aws:g6e.xlarge,aws:g6e-xlarge,AWS:G6E.XLARGE,aws:G6E_XLARGE")
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "sweep.json").read_text())
    assert [e["instance"] for e in manifest["entries"]] == ["aws:g6e.xlarge"]
    assert sorted(p.name for p in out.glob("*.yaml")) == ["gpucost-aws-g6e-xlarge.yaml"]
    cost = sum(e["price_per_hour_usd"] for e in manifest["entries"]) * manifest["expected_hours"]
    assert math.isfinite(cost) and f"${cost:.2f}" in result.output


def test_a_launched_plan_folder_is_not_planned_over(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    assert _plan(out).exit_code == 0
    (out / "sweep-state.json").write_text('{"gpucost-aws-g6e-xlarge": {"job_id": 7}}')
    _refused(_plan(out), "holds a launched sweep")
    assert json.loads((out / "sweep-state.json").read_text()) == {
        "gpucost-aws-g6e-xlarge": {"job_id": 7}
    }


@pytest.mark.parametrize("spec", ["", "--index-url=http://evil", "a\nb"])
def test_install_spec_is_one_pip_requirement(tmp_path: Path, spec: str) -> None:
    _refused(_plan(tmp_path / "plan", install=spec), "--install")


def test_tasks_install_a_wheel_of_this_checkout_uploaded_with_them(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    result = _plan(out, install="checkout")
    assert result.exit_code == 0, result.output
    (wheel,) = (out / "wheel").glob("gpucost-*.whl")
    (task,) = [yaml.safe_load(p.read_text()) for p in out.glob("*.yaml")]
    assert task["setup"].splitlines()[0] == f"pip install ~/gpucost-wheel/{wheel.name}"
    assert task["file_mounts"] == {"~/gpucost-wheel": str((out / "wheel").resolve())}
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "harness/sweep/install.py" in names and "ratecards/aws.yaml" in names


@pytest.mark.parametrize("url", ["http://alice:s3cr3t@gpu.example/v1", "https://s3cr3t@h:8000/v1"])
def test_credentials_in_run_options_are_refused_and_never_printed(tmp_path: Path, url: str) -> None:
    out = tmp_path / "plan"
    message = _refused(_plan(out, args=["-w", "text", "--endpoint", url]), "user name or password")
    assert "s3cr3t" not in message and not out.exists()
