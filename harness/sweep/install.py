"""How a sweep's tasks install gpucost on each cluster.

By default, this very checkout: a wheel built now into the plan folder and uploaded with every
task (SkyPilot `file_mounts`), so the clusters run the code that planned the sweep, edits
included. `--install SPEC` takes any pip requirement instead (`gpucost==X.Y` once an index has
it, a git URL, a wheel's URL). Nothing here imports SkyPilot.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.errors import BadInput

CHECKOUT = "checkout"
"""`--install checkout` (the default): this checkout, as a wheel built into the plan folder."""

WHEEL_DIR = "wheel"
"""Folder of the plan that holds the wheel, and where the task mounts it on the cluster."""
REMOTE_WHEEL_DIR = "~/gpucost-wheel"

BUILD_TIMEOUT_S = 300
_NOT_SOURCE = (".git", "results", "build", "dist", "*.egg-info", "__pycache__", ".*cache",
               ".hypothesis", ".venv", "*.whl")  # fmt: skip


@dataclass(frozen=True)
class Install:
    """What each task's setup installs: a pip requirement, or a wheel uploaded with the task."""

    requirement: str
    wheel: str | None = None
    """The wheel's file name in the plan's `wheel/` folder, when the task uploads one."""

    def setup_line(self) -> str:
        return f"pip install {shlex.quote(self.requirement)}" if self.wheel is None else (
            f"pip install {REMOTE_WHEEL_DIR}/{shlex.quote(self.wheel)}"
        )

    def file_mounts(self, plan_dir: Path) -> dict[str, str]:
        if self.wheel is None:
            return {}
        return {REMOTE_WHEEL_DIR: str((plan_dir / WHEEL_DIR).resolve())}


def checkout_root() -> Path | None:
    """The source checkout gpucost runs from (its pyproject.toml names gpucost), or None when it
    runs from an installed package."""
    root = Path(__file__).resolve().parents[2]
    project = root / "pyproject.toml"
    try:
        text = project.read_text(encoding="utf-8")
    except OSError:
        return None
    return root if 'name = "gpucost"' in text else None


def check_install(spec: str) -> None:
    """A requirement pip could read: one line, not empty, not an option."""
    if spec == CHECKOUT:
        return
    if not spec.strip() or "\n" in spec or "\r" in spec or spec.lstrip().startswith("-"):
        raise BadInput(f"--install {spec!r}: expected `checkout` or one pip requirement")


def prepare_install(spec: str, plan_dir: Path) -> Install:
    """The Install for `--install spec`; for `checkout`, the wheel is built into the plan folder
    now (offline: no build isolation, no index), or BadInput saying why it cannot be."""
    check_install(spec)
    if spec != CHECKOUT:
        return Install(spec.strip())
    root = checkout_root()
    if root is None:
        raise BadInput(
            "--install checkout: gpucost is not running from a source checkout; give "
            "--install SPEC (a pip requirement the clusters can install)"
        )
    out = plan_dir / WHEEL_DIR
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("gpucost-*.whl"):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="gpucost-wheel-") as scratch:
        # Built from a copy: setuptools' build/ folder in the checkout would keep modules
        # deleted since an earlier build and put them in this wheel.
        source = Path(scratch) / "src"
        shutil.copytree(root, source, ignore=shutil.ignore_patterns(*_NOT_SOURCE))
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                   "--no-index", "-q", "-w", str(out), str(source)]  # fmt: skip
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S
            )
        except subprocess.TimeoutExpired:
            raise BadInput(
                f"--install checkout: building the wheel took over {BUILD_TIMEOUT_S} s"
            ) from None
    wheels = sorted(out.glob("gpucost-*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        last = (done.stderr or done.stdout).strip().splitlines()
        reason = last[-1] if last else f"exit {done.returncode}"
        raise BadInput(f"--install checkout: could not build a wheel of {root} ({reason})")
    return Install(str(root), wheels[0].name)
