"""Result files of AIPerf, GuideLLM and `vllm bench serve` (tests/data/imports, see its README)
and a way to import them into a run folder and read the rows back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.results.runs import RunRecord, load_run
from tests.cli_helpers import invoke

DATA = Path(__file__).resolve().parent / "data" / "imports"



def import_files(
    tool: str, out: Path, *names: str, gpu: str = "H100-SXM-80GB", gpus_used: int = 1
) -> RunRecord:
    """`gpucost import TOOL` of the named data files into a new run under `out`, read back."""
    files = [DATA / name for name in names]
    result = invoke("import", tool, *files, "--gpu", gpu, "--gpus-used", str(gpus_used),
                    "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    return load_run(result.stdout.strip().splitlines()[-1])


def row(run: RunRecord, batch_size: int) -> dict[str, Any]:
    rows = run.measurements[run.measurements["batch_size"] == batch_size]
    assert len(rows) == 1, run.measurements[["batch_size", "concurrency", "request_rate"]]
    return rows.iloc[0].to_dict()


def altered(tmp_path: Path, name: str, change: Any) -> Path:
    """A copy of a data file with `change(document)` applied, as a tool of another version
    might have written it."""
    document = json.loads((DATA / name).read_text(encoding="utf-8"))
    change(document)
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def truncated(tmp_path: Path, name: str) -> Path:
    """The first half of a data file, as an interrupted copy leaves it."""
    data = (DATA / name).read_bytes()
    path = tmp_path / f"truncated-{name}"
    path.write_bytes(data[: len(data) // 2])
    return path
