"""What makes two rows the same work, and how a priced choice is named: shared by compare, the
frontier, the SLO answer and the report."""

from __future__ import annotations

import contextlib
import json
from typing import Any

WORK_FIELDS = ("preset", "model", "dtype", "settings")
"""What makes two runs' rows the same work (with the workload)."""

def work_signature(row: Any) -> tuple[str, ...]:
    """(workload, preset, model, dtype, settings) with settings JSON in one canonical spelling.

    A closed-loop level's `concurrency` is its batch size, the axis rows are matched on, so it
    is left out: the levels of one endpoint sweep are one work. A request rate stays in."""
    values = [_cell(row.get("workload"))]
    for field in WORK_FIELDS:
        value = _cell(row.get(field))
        if field == "settings" and value:
            with contextlib.suppress(ValueError):
                parsed = json.loads(value)
                if isinstance(parsed, dict):
                    parsed.pop("concurrency", None)
                value = json.dumps(parsed, sort_keys=True, separators=(",", ":"))
        values.append(value)
    return tuple(values)


def describe_signature(signature: tuple[str, ...]) -> str:
    return ", ".join(
        f"{name} {value or '—'}" for name, value in zip(WORK_FIELDS, signature[1:], strict=True)
    )


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def choice_label(row: Any) -> str:
    """`provider:instance plan`, with "(projected)" on estimates."""
    label = f"{row['provider']}:{row['instance']} {row['plan']}"
    return f"{label} (projected)" if row.get("projected") else label
