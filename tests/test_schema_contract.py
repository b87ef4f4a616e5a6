"""The typed results schema is the one declaration: the README's contract, the store's column
order and the readers' types all agree with it."""

from __future__ import annotations

import re
from pathlib import Path

from harness.results import runs
from harness.results.schema import (
    COLUMN_BY_NAME,
    COLUMNS,
    EXTRA_MEASUREMENT_COLUMNS,
    MEASUREMENT_COLUMNS,
    TEXT_COLUMN_NAMES,
    UNIT_COLUMNS,
)

README = Path(__file__).resolve().parent.parent / "README.md"


def _bullet(text: str, start: str) -> str:
    begin = text.index(start)
    ends = [i for i in (text.find("\n- ", begin + 1), text.find("\n\n", begin)) if i > 0]
    return text[begin : min(ends)]


def _names(block: str) -> list[str]:
    """Every column name quoted in a README passage, `a/p90/p99` spelled out in full."""
    names: list[str] = []
    for quoted in re.findall(r"`([^`]+)`", block):
        for part in quoted.split(","):
            part = part.strip()
            if not re.fullmatch(r"[a-z][a-z_0-9/]*", part):
                continue
            head, *alternatives = part.split("/")
            names.append(head)
            stem = head.rsplit("_", 1)[0]
            names.extend(f"{stem}_{alt}" for alt in alternatives)
    return names


def test_readme_core_columns_are_the_schema_in_order() -> None:
    block = _bullet(README.read_text(encoding="utf-8"), "- `measurements.csv`")
    core = block.split("in this order):", 1)[1].split(";", 1)[0]
    assert _names(core) == list(MEASUREMENT_COLUMNS)
    declared = [c.name for c in COLUMNS]
    assert declared[: len(MEASUREMENT_COLUMNS)] == list(MEASUREMENT_COLUMNS)
    following = declared[len(MEASUREMENT_COLUMNS) : len(MEASUREMENT_COLUMNS) + len(EXTRA_MEASUREMENT_COLUMNS)]
    assert following == list(EXTRA_MEASUREMENT_COLUMNS)


def test_every_column_the_readme_names_is_declared_with_a_type() -> None:
    text = README.read_text(encoding="utf-8")
    named = [
        name
        for start in ("- `measurements.csv`", "- Endpoint runs", "- Rows measured with `--slo`")
        for name in _names(_bullet(text, start))
    ]
    not_columns = {"ok", "oom", "error", "endpoint", "inf", "min_tokens", "ignore_eos", "usage",
                   "measurements.csv", "iterations.csv", "server.log", "start_s", "first_token_s",
                   "end_s", "ttft_s", "tpot_s", "status_code", "token_times_s", "wall_s_",
                   "usage_rejected"}  # fmt: skip
    missing = sorted({n for n in named if n not in COLUMN_BY_NAME and n not in not_columns})
    assert missing == [], f"README names columns the schema does not declare: {missing}"
    for name in ("engine", "concurrency", "request_rate", "window_s", "gpus_used",
                 "requests_per_s", "ttft_s_p90", "compile_s", "recompiles"):  # fmt: skip
        assert name in COLUMN_BY_NAME


def test_declarations_are_well_formed_and_readers_parse_by_them() -> None:
    assert len({c.name for c in COLUMNS}) == len(COLUMNS)
    assert {c.kind for c in COLUMNS} <= {"text", "int", "float", "bool"}
    assert all(COLUMN_BY_NAME[c].kind == "float" and COLUMN_BY_NAME[c].unit for c in UNIT_COLUMNS)
    assert not any(COLUMN_BY_NAME[n].nullable for n in ("run_id", "workload", "status"))
    assert runs.TEXT_COLUMNS == TEXT_COLUMN_NAMES
    assert "wall_s_p50" in runs.NUMERIC_COLUMNS and "throttled" not in runs.NUMERIC_COLUMNS
