"""Running `gpucost` in-process, and what a refusal must look like: the one way tests do both."""

from __future__ import annotations

from click.testing import CliRunner, Result

from harness.cli import main


def invoke(*args: object) -> Result:
    """`gpucost ARGS...` in this process (paths and numbers as text); stdout and stderr apart."""
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line_error(result: Result, *needles: str) -> str:
    """The error a refused command printed. A refusal exits non-zero without a traceback and
    prints exactly one line, `Error: ...`, which names every needle; that line is returned."""
    assert result.exit_code not in (0, None), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ") and "Traceback" not in result.output, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]
