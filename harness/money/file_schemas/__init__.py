"""The files a person writes by hand (rate cards, market prices, scenarios): one typed model each.

Each model validates a file and builds the objects pricing uses (`Instance`, `CandidatePrice`,
`Scenario`); `money/inputs.py` reads the files and hands them here, so every check lives in one
place and pricing only ever sees checked values. The same models print the JSON Schemas an
editor uses (`gpucost ratecards schema`). A refusal is one line: `file:line: entry: field what
is wrong`.
"""

from __future__ import annotations

from typing import Any

from harness.money.file_schemas.fields import as_of_text
from harness.money.file_schemas.market import MarketFile
from harness.money.file_schemas.ratecard import RateCard
from harness.money.file_schemas.refusal import built, validated
from harness.money.file_schemas.scenario import ScenarioFile

__all__ = [
    "MarketFile", "RateCard", "ScenarioFile", "as_of_text", "built", "json_schema", "validated",
]  # fmt: skip


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a "ratecard" or a "scenario" file."""
    model = RateCard if kind == "ratecard" else ScenarioFile
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
