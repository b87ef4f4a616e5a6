"""Sweeps: plans (task files), and launch/status/collect/down against a fake of the SkyPilot
SDK calls gpucost makes (tests/fakes/fake_sky.py); no cloud is contacted."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from harness.cli import main
from harness.sweep import sky_api
from tests.fakes.fake_sky import FakeSky, FakeSkyApi, ResourcesUnavailableError

INSTANCES = "aws:g6e.xlarge,lambda:gpu_1x_h100_pcie,gcp:a3-highgpu-8g"
RUN_ARGS = ["-w", "text", "-p", "tiny", "-b", "1,8", "--input-len", "16"]

# What SkyPilot's task schema (sky/utils/schemas.py, get_task_schema) documents at the top
# level and in `resources`: a task file gpucost writes may use only these.
SKY_TASK_KEYS = {"name", "workdir", "event_callback", "num_nodes", "resources", "file_mounts",
                 "service", "setup", "run", "envs", "secrets", "inputs", "outputs", "volumes",
                 "config", "_user_specified_yaml"}
SKY_RESOURCE_KEYS = {"infra", "cloud", "region", "zone", "instance_type", "accelerators",
                     "use_spot", "job_recovery", "cpus", "memory", "disk_size", "disk_tier",
                     "ports", "image_id", "labels", "accelerator_args", "network_tier",
                     "autostop", "priority", "any_of", "ordered", "_docker_login_config"}


def plan(tmp_path: Path, *extra: str, instances: str = INSTANCES, args=RUN_ARGS,
         install: str = "gpucost==0.1.0") -> Path:
    """A plan whose tasks install `install` (the wheel of this checkout is built in one test)."""
    out = tmp_path / "sweep"
    result = CliRunner().invoke(main, ["sweep", "plan", "--instances", instances, *extra,
                                       "--install", install, "-o", str(out), "--", *args])
    assert result.exit_code == 0, result.output
    return out


def tasks(folder: Path) -> dict[str, dict]:
    return {p.stem: yaml.safe_load(p.read_text()) for p in sorted(folder.glob("*.yaml"))}


def test_plan_writes_one_task_per_instance_with_the_same_run(tmp_path: Path) -> None:
    folder = plan(tmp_path, "--expected-hours", "0.5")
    found = tasks(folder)
    assert sorted(found) == ["gpucost-aws-g6e-xlarge", "gpucost-gcp-a3-highgpu-8g",
                             "gpucost-lambda-gpu-1x-h100-pcie"]
    lam = found["gpucost-lambda-gpu-1x-h100-pcie"]
    assert lam["resources"] == {"infra": "lambda", "instance_type": "gpu_1x_h100_pcie",
                                "use_spot": False, "accelerators": {"H100": 1}}
    assert found["gpucost-gcp-a3-highgpu-8g"]["resources"]["accelerators"] == {"H100": 8}
    assert lam["setup"].strip() == "pip install gpucost==0.1.0"
    runs = {t["run"].splitlines()[1] for t in found.values()}
    assert runs == {'gpucost run -w text -p tiny -b 1,8 --input-len 16 --no-price '
                    '--out "$GPUCOST_RESULTS"'}
    for task in found.values():
        assert set(task) <= SKY_TASK_KEYS and set(task["resources"]) <= SKY_RESOURCE_KEYS
    manifest = json.loads((folder / "sweep.json").read_text())
    # 1.861 + 2.49 + 46.02 per hour (shipped cards) for half an hour each
    total = sum(e["price_per_hour_usd"] for e in manifest["entries"]) * 0.5
    assert total == pytest.approx((1.861 + 2.49 + 46.02) * 0.5)


def test_multi_gpu_entry_gets_its_gpu_count_and_a_bucket(tmp_path: Path) -> None:
    args = ["-w", "text", "--preset", "tiny", "--setting-that-is-checked"]
    bad = CliRunner().invoke(main, ["sweep", "plan", "--instances", "aws:p5.48xlarge",
                                    "-o", str(tmp_path / "x"), "--", *args])
    assert bad.exit_code == 2 and "No such option '--setting-that-is-checked'" in bad.stderr
    folder = plan(tmp_path, "--spot", "--managed", "--bucket", "s3://sweeps/one",
                  "--setup", "pip install vllm", instances="aws:p5.48xlarge",
                  args=["-w", "text", "--endpoint", "http://127.0.0.1:8000/v1", "--server-cmd",
                        "vllm serve m --tensor-parallel-size {gpus}"])
    (task,) = tasks(folder).values()
    assert task["resources"]["accelerators"] == {"H100": 8}
    assert task["resources"]["use_spot"] is True and "job_recovery" in task["resources"]
    assert "--tensor-parallel-size 8" in task["run"]
    assert task["file_mounts"] == {"/gpucost-results": {"source": "s3://sweeps/one", "mode": "MOUNT"}}
    assert task["setup"].splitlines() == ["pip install gpucost==0.1.0", "pip install vllm"]


@pytest.mark.parametrize(
    ("extra", "args", "message"),
    [
        ((), ["--out", "x"], "the sweep sets where results go"),
        (("--managed",), RUN_ARGS, "give --bucket"),
        (("--bucket", "my-bucket"), RUN_ARGS, "expected a bucket URL"),
        (("--expected-hours", "0"), RUN_ARGS, "must be a number above 0"),
    ],
)
def test_plan_refuses_bad_options_in_one_line(tmp_path: Path, extra, args, message) -> None:
    result = CliRunner().invoke(main, ["sweep", "plan", "--instances", "aws:g6e.xlarge", *extra,
                                       "-o", str(tmp_path / "f"), "--", *args])
    assert result.exit_code == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_instance_and_missing_spot_price(tmp_path: Path) -> None:
    unknown = CliRunner().invoke(main, ["sweep", "plan", "--instances", "aws:nope",
                                        "-o", str(tmp_path / "f")])
    assert unknown.exit_code == 2 and "aws has no instance 'nope'" in unknown.stderr
    spot = CliRunner().invoke(main, ["sweep", "plan", "--instances", "lambda:gpu_1x_h100_pcie",
                                     "--spot", "-o", str(tmp_path / "f")])
    assert spot.exit_code == 2 and "no spot price" in spot.stderr


def test_without_skypilot_the_commands_say_how_to_install_it(tmp_path: Path, monkeypatch) -> None:
    folder = plan(tmp_path)
    monkeypatch.setitem(sys.modules, "sky", None)  # import sky now fails as if not installed
    for args in (["launch", str(folder), "--yes"], ["status", str(folder)], ["down", str(folder)]):
        result = CliRunner().invoke(main, ["sweep", *args])
        assert result.exit_code == 1
        assert result.stderr.strip() == 'Error: sweep commands need SkyPilot: pip install "gpucost[sweep]"'


@pytest.fixture
def fake(tmp_path: Path, monkeypatch) -> FakeSky:
    sky = FakeSky(tmp_path / "disks", fail={
        "gpucost-gcp-a3-highgpu-8g": ResourcesUnavailableError(
            "Failed to provision all possible launchable resources. Relax the task's resource "
            "requirements: 8x GCP(a3-highgpu-8g)\nTo keep retrying until the cluster is up...")
    })
    monkeypatch.setattr(sky_api, "make_api", lambda: FakeSkyApi(sky))
    return sky


def test_launch_needs_yes_and_prints_the_estimate_first(tmp_path: Path, fake: FakeSky) -> None:
    folder = plan(tmp_path, "--expected-hours", "2")
    result = CliRunner().invoke(main, ["sweep", "launch", str(folder)])
    assert result.exit_code == 2 and "add --yes" in result.stderr
    assert f"estimated sweep cost: ${(1.861 + 2.49 + 46.02) * 2:,.2f}" in result.stdout
    assert fake.launched_tasks == [] and not (folder / "sweep-state.json").exists()


def test_one_failing_launch_is_recorded_and_the_rest_are_collected(tmp_path: Path, fake) -> None:
    folder = plan(tmp_path)
    runner = CliRunner()
    launched = runner.invoke(main, ["sweep", "launch", str(folder), "--yes"])
    assert launched.exit_code == 0, launched.output
    assert "2 launched, 1 failed" in launched.stdout
    state = json.loads((folder / "sweep-state.json").read_text())
    failed = state["gpucost-gcp-a3-highgpu-8g"]
    assert failed["status"] == "FAILED_LAUNCH"
    assert failed["error"].startswith("ResourcesUnavailableError: Failed to provision")
    assert state["gpucost-aws-g6e-xlarge"] == {"status": "LAUNCHED", "job_id": state[
        "gpucost-aws-g6e-xlarge"]["job_id"], "managed": False, "error": None}
    assert len(fake.launched_tasks) == 2
    assert {t["resources"]["instance_type"] for t in fake.launched_tasks} == {
        "g6e.xlarge", "gpu_1x_h100_pcie"}

    status = runner.invoke(main, ["sweep", "status", str(folder)])
    lines = {line.split()[0]: line for line in status.stdout.splitlines()}
    assert "SUCCEEDED" in lines["aws:g6e.xlarge"] and "FAILED_LAUNCH" in lines["gcp:a3-highgpu-8g"]

    out = tmp_path / "results"
    collected = runner.invoke(main, ["sweep", "collect", str(folder), "-o", str(out)])
    assert collected.exit_code == 0, collected.output
    runs = sorted(p.parent.parent.name for p in out.glob("*/*/run.json"))
    assert runs == ["gpucost-aws-g6e-xlarge", "gpucost-lambda-gpu-1x-h100-pcie"]
    assert "gpucost-gcp-a3-highgpu-8g" in collected.stdout and "ResourcesUnavailable" in collected.stdout
    assert "L40S" in collected.stdout and "H100" in collected.stdout  # compare ran on both runs

    down = runner.invoke(main, ["sweep", "down", str(folder)])
    assert down.exit_code == 0, down.output
    assert fake.clusters == {}
    assert json.loads((folder / "sweep-state.json").read_text())[
        "gpucost-aws-g6e-xlarge"]["status"] == "DOWN"


def test_managed_jobs_launch_and_collect_from_a_bucket_copy(tmp_path: Path, fake) -> None:
    folder = plan(tmp_path, "--managed", "--bucket", "gs://sweeps/a",
                  instances="aws:g6e.xlarge,lambda:gpu_1x_h100_pcie")
    runner = CliRunner()
    assert runner.invoke(main, ["sweep", "launch", str(folder), "--yes"]).exit_code == 0
    assert fake.clusters == {}  # managed jobs leave no cluster of the user's
    state = json.loads((folder / "sweep-state.json").read_text())
    assert all(isinstance(r["job_id"], int) for r in state.values())
    no_copy = runner.invoke(main, ["sweep", "collect", str(folder), "-o", str(tmp_path / "r")])
    assert no_copy.exit_code == 2 and "--from" in no_copy.stderr
    # The bucket's content as `gsutil rsync` would bring it: one folder per entry.
    copy = tmp_path / "disks" / "bucket"
    done = runner.invoke(main, ["sweep", "collect", str(folder), "-o", str(tmp_path / "r"),
                                "--from", str(copy), "--no-compare"])
    assert done.exit_code == 0, done.output
    assert len(list((tmp_path / "r").glob("*/*/run.json"))) == 2
    assert runner.invoke(main, ["sweep", "down", str(folder)]).exit_code == 0
    assert sorted(fake.cancelled) == sorted(r["job_id"] for r in state.values())


def test_collect_with_nothing_finished_fails_in_one_line(tmp_path: Path, fake) -> None:
    folder = plan(tmp_path, instances="gcp:a3-highgpu-8g")
    CliRunner().invoke(main, ["sweep", "launch", str(folder), "--yes"])
    result = CliRunner().invoke(main, ["sweep", "collect", str(folder), "-o", str(tmp_path / "r")])
    assert result.exit_code == 1 and "no run folder came back" in result.stderr
    assert fake.clusters == {}
    assert json.loads((folder / "sweep-state.json").read_text())[
        "gpucost-gcp-a3-highgpu-8g"]["status"] == "FAILED_LAUNCH"


def test_skypilot_is_imported_only_by_the_sweep_adapter() -> None:
    root = Path(__file__).resolve().parent.parent
    importers = sorted(
        str(p.relative_to(root))
        for folder in ("harness", "workloads")
        for p in (root / folder).rglob("*.py")
        if any(line.strip().startswith(("import sky", "from sky"))
               for line in p.read_text(encoding="utf-8").splitlines())
    )
    assert importers == ["harness/sweep/sky_api.py"]


def test_launching_again_retries_only_what_failed(tmp_path: Path, fake: FakeSky) -> None:
    folder = plan(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["sweep", "launch", str(folder), "--yes"]).exit_code == 0
    fake.fail.clear()  # capacity came back
    again = runner.invoke(main, ["sweep", "launch", str(folder), "--yes"])
    assert again.exit_code == 0 and "3 launched, 0 failed" in again.stdout
    assert [t["name"] for t in fake.launched_tasks].count("gpucost-gcp-a3-highgpu-8g") == 1
    assert len(fake.launched_tasks) == 3


def test_the_old_fleet_command_says_it_is_now_sweep() -> None:
    result = CliRunner().invoke(main, ["fleet", "plan", "--instances", "aws:g6e.xlarge"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: `gpucost fleet` is now `gpucost sweep`: gpucost sweep plan --instances aws:g6e.xlarge"
    )
    assert "fleet" not in CliRunner().invoke(main, ["--help"]).output


def test_a_plan_made_before_the_rename_is_still_read(tmp_path: Path) -> None:
    folder = plan(tmp_path, instances="aws:g6e.xlarge")
    (folder / "sweep.json").rename(folder / "fleet.json")
    (folder / "fleet-state.json").write_text('{"gpucost-aws-g6e-xlarge": {"status": "launched"}}')
    from harness.sweep.plan import load_plan
    from harness.sweep.state import SweepState

    assert [e.instance for e in load_plan(folder).entries] == ["aws:g6e.xlarge"]
    assert SweepState(folder).get("gpucost-aws-g6e-xlarge") == {"status": "launched"}
