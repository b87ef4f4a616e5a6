"""The plan's task files parsed by SkyPilot itself (`sky.Task.from_yaml`), offline.

SkyPilot reads its catalog while parsing a task; with the real Lambda catalog copied fresh into a
temporary HOME it needs no network. A misspelt field must be refused, so the check can fail. Skipped where SkyPilot is not installed
(it is an optional extra: its pins clash with the dev tools', so `dev` does not pull it in).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main

# SkyPilot's pins (click < 8.2) clash with the dev tools', so CI installs it in a venv of its own
# and names that interpreter here; the parse runs in a subprocess either way.
SKY_PYTHON = os.environ.get("GPUCOST_SKY_PYTHON") or (sys.executable if find_spec("sky") else "")

pytestmark = pytest.mark.skipif(
    not SKY_PYTHON,
    reason='SkyPilot is not installed (pip install "gpucost[sweep]", or set GPUCOST_SKY_PYTHON)',
)

CATALOG = Path("/work/shared/data/skypilot-catalog/lambda/vms.csv")
for parent in Path(__file__).resolve().parents:
    if (parent / "shared/data/skypilot-catalog/lambda/vms.csv").is_file():
        CATALOG = parent / "shared/data/skypilot-catalog/lambda/vms.csv"
        break

PARSE = """
import sys, sky
for path in sys.argv[1:]:
    try:
        task = sky.Task.from_yaml(path)
        (res,) = task.resources
        print("OK", path, res.cloud, res.instance_type, res.accelerators,
              task.envs["GPUCOST_RESULTS"], sorted(task.storage_mounts))
    except Exception as err:
        print("REFUSED", path, type(err).__name__)
"""


def _sky_home(tmp_path: Path) -> dict[str, str]:
    if not CATALOG.is_file():
        pytest.skip("the SkyPilot catalog sample is absent")
    home = tmp_path / "home"
    target = home / ".sky" / "catalogs" / "v8" / "lambda" / "vms.csv"
    target.parent.mkdir(parents=True)
    shutil.copyfile(CATALOG, target)  # a fresh copy: SkyPilot re-fetches stale ones
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKY")}
    env.update(HOME=str(home), SKYPILOT_DISABLE_USAGE_COLLECTION="1")
    return env


def test_skypilot_accepts_the_plan_and_refuses_a_wrong_one(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    result = CliRunner().invoke(main, [
        "sweep", "plan", "--instances", "lambda:gpu_1x_h100_pcie,lambda:gpu_8x_h100_sxm5",
        "-o", str(out), "--", "-w", "text", "-b", "1,8"])
    assert result.exit_code == 0, result.output
    bucketed = tmp_path / "bucketed"
    result = CliRunner().invoke(main, [
        "sweep", "plan", "--instances", "lambda:gpu_1x_a6000", "--managed",
        "--bucket", "s3://sweeps/one", "-o", str(bucketed), "--", "-w", "text"])
    assert result.exit_code == 0, result.output
    good = [*sorted(out.glob("*.yaml")), *bucketed.glob("*.yaml")]
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(good[0].read_text().replace("use_spot:", "use_spots:"))
    proc = subprocess.run([SKY_PYTHON, "-c", PARSE, *map(str, good), str(wrong)],
                          env=_sky_home(tmp_path), capture_output=True, text=True, timeout=240)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(("OK", "REFUSED"))]
    assert len(lines) == 4, proc.stdout + proc.stderr
    assert lines[0].startswith("OK") and "Lambda gpu_1x_h100_pcie {'H100': 1}" in lines[0]
    assert lines[1].startswith("OK") and "Lambda gpu_8x_h100_sxm5 {'H100': 8}" in lines[1]
    assert lines[2].startswith("OK") and "['/gpucost-results']" in lines[2]
    assert lines[3].startswith("REFUSED")
