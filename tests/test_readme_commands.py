"""The README's fenced commands run as written: each `gpucost ...` line that needs no GPU, cloud,
live server or file of the reader's own is run in a folder holding the repository's `docs/` and
`tests/data/`, its placeholders (`RUN`, `results/<run_id>`) pointing at a run folder. A command
left out is named below with why; a new README command is run unless it is added there."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from tests.helpers_runs import text_row, write_run

ROOT = Path(__file__).resolve().parent.parent

NOT_RUN = {
    "--endpoint": "needs a live server",
    "--server": "starts a server (tests/test_model_init.py runs one)",
    "--server-cmd": "starts vLLM on GPUs",
    "llama-3.1-8b": "a GPU-sized model",
    "sdxl": "a GPU-sized model",
    "~/models": "the reader's own model",
    "gpucost sweep": "launches cloud clusters",
    "calibrate": "measures a GPU",
    "ratecards import skypilot": "reads SkyPilot's catalog cache",
    "my-card.yaml": "the reader's own card",
    "trace.csv": "the reader's own trace",
    "hourly.csv": "the reader's own traffic profile",
    "capacity": "the reader's own endpoint runs",
    "plan.json": "the reader's own plan",
}
"""Substrings of a command that keep it from running here, with the reason."""

WHOLE_SUITE = "gpucost run"
"""`gpucost run` alone measures every workload (minutes on a CPU): tests/test_run_cli.py runs
the same code on one workload."""


def readme_commands() -> list[str]:
    """Each `gpucost` command of the README's ```bash blocks, continuation lines joined,
    comments dropped, `a | b | c` synopses split into commands and [optional] parts left out."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for raw in re.sub(r"\\\n\s*", " ", block).splitlines():
            line = raw.strip()
            for part in line.split("&&"):
                part = part.strip()
                if not part.startswith("gpucost"):
                    continue
                part = re.sub(r"\s+#.*$", "", part)
                part = re.sub(r"\s*\[[^\]]*\]", "", part)
                part = re.sub(r"\s+>\s+\S+$", "", part)
                head, *alternatives = [p.strip() for p in part.split(" | ")]
                commands.append(head)
                verb = " ".join(head.split()[:2])
                commands += [f"{verb} {alt}" for alt in alternatives]
    return commands


def _skip_reason(command: str) -> str | None:
    if command.strip() == WHOLE_SUITE:
        return WHOLE_SUITE
    return next((why for key, why in NOT_RUN.items() if key in command), None)


def test_the_readme_has_commands_to_run() -> None:
    runnable = [c for c in readme_commands() if _skip_reason(c) is None]
    assert len(runnable) >= 12, runnable
    assert any(c.startswith("gpucost import aiperf tests/data/imports/") for c in runnable)
    for command in runnable:
        for word in shlex.split(command):
            if word.startswith(("tests/", "docs/")):
                assert (ROOT / word).exists(), f"{command}: {word} does not exist"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A folder with the repository's docs/ and tests/data/, and a run folder measured on one
    H100 (the GPU of the README's instance examples)."""
    root = tmp_path_factory.mktemp("reader")
    (root / "docs").symlink_to(ROOT / "docs")
    (root / "tests").mkdir()
    (root / "tests" / "data").symlink_to(ROOT / "tests" / "data")
    run = write_run(root / "results", [text_row(1, 0.5), text_row(8, 2.0)])
    return root, run


def _placeholders(command: str, run: Path) -> str:
    for token in ("results/<run_id>", "results/<h100-run>", "results/<l4-run>", "results/<run>"):
        command = command.replace(token, str(run))
    command = command.replace("RUN...", str(run))
    return re.sub(r"\bRUN\b", str(run), command)


@pytest.mark.slow
@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_runs_as_written(
    command: str, workspace: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    reason = _skip_reason(command)
    if reason is not None:
        pytest.skip(reason)
    root, run = workspace
    monkeypatch.chdir(root)
    args = shlex.split(_placeholders(command, run))[1:]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, f"{command}\n{result.output}"
    assert "Traceback" not in result.output
