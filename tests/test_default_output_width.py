"""Each command's default output, as a person reads it at 80 columns: no line longer, and the
answer within the first 15 lines (the details are under -v / --wide)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from tests.helpers_runs import (
    asr_row,
    embedding_row,
    image_row,
    retrieval_row,
    text_row,
    tts_row,
    write_run,
)

ROOT = Path(__file__).resolve().parent.parent
WIDTH = 80
ANSWER_WITHIN = 15


@pytest.fixture(autouse=True)
def _no_terminal_width(monkeypatch: pytest.MonkeyPatch) -> None:
    # The width comes from the terminal, else $COLUMNS, else 80: the test wants the 80.
    monkeypatch.delenv("COLUMNS", raising=False)


def _out(*args: object, path: Path | None = None) -> list[str]:
    """stdout's lines; a line naming `path` (a folder the test made) may be longer."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    too_long = [line for line in lines
                if len(line) > WIDTH and (path is None or str(path) not in line)]  # fmt: skip
    assert not too_long, "\n".join(too_long)
    return lines


def _answer_at(lines: list[str], pattern: str) -> int:
    found = [i for i, line in enumerate(lines) if re.search(pattern, line)]
    assert found, f"no line matches {pattern!r}:\n" + "\n".join(lines[:30])
    assert found[0] < ANSWER_WITHIN, "\n".join(lines[: found[0] + 1])
    return found[0]


@pytest.fixture
def every_workload(tmp_path: Path) -> Path:
    rows = [text_row(1, 0.5), text_row(8, 2.0), image_row(8, 2.0), asr_row(), tts_row(),
            embedding_row(), retrieval_row()]  # fmt: skip
    return write_run(tmp_path / "results", rows)


def test_price(every_workload: Path) -> None:
    lines = _out("price", every_workload)
    assert lines[0].startswith("Read with care: random weights")
    _answer_at(lines, r"^text\s+1M output tokens\s+\S+:\S+.*\$")
    assert len(lines) < 60  # the answer and its notes; -v has the rest
    wide = CliRunner().invoke(main, ["price", str(every_workload), "-v"]).stdout
    assert "Sensitivity" in wide and len(wide.splitlines()) > len(lines)


def test_price_on_other_hardware_is_refused_unless_asked_for(tmp_path: Path) -> None:
    run = write_run(tmp_path, [text_row(1, 1.0, gpu_name=None)], gpu_name=None)
    refused = CliRunner().invoke(main, ["price", str(run), "--gpu", "A10G"])
    assert refused.exit_code == 2
    assert "measured on a CPU" in refused.stderr and "--project A10G" in refused.stderr
    lines = _out("price", run, "--gpu", "A10G", "--other-hardware")
    assert lines[0].startswith("Read with care: other hardware")
    _answer_at(lines, r"^text\s+1M output tokens\s+\S+:\S+.*\$")


def test_price_scenario_shows_the_month(every_workload: Path) -> None:
    lines = _out("price", every_workload, "--scenario", ROOT / "docs/examples/scenario.yaml")
    assert lines[0].startswith("Read with care: random weights")
    at = _answer_at(lines, r"^Scenario .*: cheapest ")
    assert "margin" in " ".join(lines[at : at + 2])
    at = _answer_at(lines, r"^A month of [\d,]+ calls on ")
    month = " ".join(" ".join(lines[at : at + 2]).split())
    assert re.search(r"cost \$[\d,]+, revenue \$[\d,]+, margin", month)


def test_compare(tmp_path: Path) -> None:
    h100 = write_run(tmp_path / "a", [text_row(8, 0.1), text_row(1, 0.05)], run_id="run-h100")
    l4 = write_run(tmp_path / "b", [text_row(8, 0.5, gpu_name="NVIDIA L4")],
                   run_id="run-l4", gpu_name="NVIDIA L4")  # fmt: skip
    lines = _out("compare", h100, l4)
    at = _answer_at(lines, r"^text \(g\d\): cheapest ")
    answer = " ".join(" ".join(lines[at : at + 3]).split())
    assert "per 1M output tokens" in answer and "run run-l4's best" in answer


def test_ratecards_list() -> None:
    lines = _out("ratecards", "list")
    _answer_at(lines, r"^aws:\S+\s+.*\$")


def test_reconcile_readme_example(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    lines = _out("reconcile", "--bill", "docs/examples/cur.csv", "--requests",
                 "docs/examples/requests.jsonl", "--tag", "Project=Demo", "--period", "day")  # fmt: skip
    _answer_at(lines, r"^2026-11-01\s+g5\.xlarge\s+text\s+\$")
    text = "\n".join(lines)
    assert re.search(r"^2026-11-01\s+\(tax\)\s+\$1\.00", text, re.M)  # tax on its own line
    assert not re.search(r"\$[\d.,]+Note:", text)  # the table's last line ends before the notes
    assert text.count("cost basis amortized:") == 1


def test_run_ends_with_the_answer_table(tmp_path: Path) -> None:
    lines = _out("run", "-w", "embedding", "-b", "1", "--iterations", "2", "--warmup", "0",
                 "--min-duration", "0", "--idle-seconds", "0", "--sample-interval", "0",
                 "--out", tmp_path, path=tmp_path)  # fmt: skip
    start = next(i for i, line in enumerate(lines) if line.startswith("Run folder:"))
    closing = lines[start + 1 :]
    _answer_at(closing, r"^embedding\s+1M tokens\s+\S+:\S+\s+.*\$")


def _cpu_run(tmp_path: Path, threads: int | None) -> Path:
    import json

    run = write_run(tmp_path, [text_row(1, 1.0, gpu_name=None)], gpu_name=None)
    meta = json.loads((run / "run.json").read_text(encoding="utf-8"))
    meta["config"]["threads"] = threads
    (run / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    return run


def test_a_cpu_run_is_priced_only_on_the_sizes_its_threads_speak_for(tmp_path: Path) -> None:
    import json

    run = _cpu_run(tmp_path / "one", 1)
    result = CliRunner().invoke(main, ["price", str(run), "--format", "json"])
    assert result.exit_code == 0, result.output
    priced = {r["instance"] for r in json.loads(result.stdout)}
    assert "c7i.xlarge" in priced and "c7i.2xlarge" not in priced  # 4 vCPUs, not 8
    lines = _out("price", run)
    assert "CPU sizes left out: aws:c7i.2xlarge (8 vCPUs)" in " ".join(" ".join(lines).split())
    named = CliRunner().invoke(main, ["price", str(run), "--instance", "aws:c7i.2xlarge",
                                      "--format", "json"])  # fmt: skip
    assert {r["instance"] for r in json.loads(named.stdout)} == {"c7i.2xlarge"}
    # A run that recorded no thread count is priced on every size, as before.
    unknown = CliRunner().invoke(main, ["price", str(_cpu_run(tmp_path / "u", None)),
                                        "--format", "json"])  # fmt: skip
    assert "c7i.2xlarge" in {r["instance"] for r in json.loads(unknown.stdout)}
    compared = CliRunner().invoke(main, ["compare", str(run), str(run)])
    assert compared.exit_code == 0 and "CPU sizes left out" in compared.stderr
    assert "c7i.2xlarge" not in compared.stdout
