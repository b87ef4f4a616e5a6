"""The layers of docs/architecture.md as import contracts (pyproject.toml, [tool.importlinter]):
the code obeys them, every package is placed in them, and a new cycle breaks them."""

from __future__ import annotations

import os
import pkgutil
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import harness

pytest.importorskip("importlinter")

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    """import-linter over the tree at `root`, as CI runs it: imports inside functions count."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    code = (
        "import sys; from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )


def _layer_modules() -> set[str]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    return {name.strip("() ") for layer in layers for name in re.split(r"[|:]", layer)}


def test_the_imports_obey_the_layers_and_money_never_imports_torch() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_every_package_of_harness_is_placed_in_a_layer() -> None:
    placed = _layer_modules()
    children = {f"harness.{m.name}" for m in pkgutil.iter_modules(harness.__path__)}
    assert children - placed == set(), "place each new package or module in pyproject's layers"


def test_a_lower_layer_importing_a_higher_one_breaks_the_contract(tmp_path: Path) -> None:
    for name in ("harness", "workloads"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")
    cost = tmp_path / "harness" / "money" / "cost.py"
    # Hidden inside a function, as the cycles this contract removed were.
    cost.write_text(cost.read_text() + "\n\ndef _late():\n    from harness.report import format\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "harness.money.cost -> harness.report.format" in result.stdout
