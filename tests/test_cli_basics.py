"""The command itself: help, version, env, and that listing commands imports no heavy library."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from harness import __version__
from harness.cli import COMMANDS, main
from tests.conftest import REPO_ROOT


def run_module(*args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "harness", *args]
    return subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)


def test_help_lists_commands_without_importing_torch_or_pandas() -> None:
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom harness.cli import main\n"
        "r = CliRunner().invoke(main, ['--help'])\nprint(r.output)\n"
        "print('HEAVY', sorted(m for m in ('torch', 'pandas', 'transformers') if m in sys.modules))"
    )
    proc = run_module(code=code)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout
    for name in ("run", "env"):
        assert f"  {name} " in proc.stdout


def test_version_and_module_entry_point() -> None:
    proc = run_module("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"gpucost, version {__version__}"


def test_every_listed_command_module_is_importable_or_absent() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    listed = [
        line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()
    ]
    assert listed == list(COMMANDS)


def test_env_on_a_machine_without_gpu_says_what_is_not_measured() -> None:
    import torch

    result = CliRunner().invoke(main, ["env", "--json"])
    assert result.exit_code == 0, result.output
    facts = json.loads(result.output)
    assert facts["torch"]["version"] == torch.__version__
    assert facts["libraries"]["click"]
    if not torch.cuda.is_available():
        assert facts["gpus"].startswith("none:")
        assert "energy" in facts["gpus"]
