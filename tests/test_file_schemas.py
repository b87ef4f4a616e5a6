"""`gpucost ratecards schema` prints JSON Schemas that accept the shipped files and refuse what
the loaders refuse."""

from __future__ import annotations

import json
from pathlib import Path

import pydantic
import pytest
import yaml
from click.testing import CliRunner

from harness.cli import main
from harness.money.file_schemas import RateCard, ScenarioFile

REPO = Path(__file__).resolve().parent.parent


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "card", sorted(p for p in (REPO / "ratecards").glob("*.yaml") if p.name != "market.yaml")
)
def test_every_shipped_card_fits_the_schema(card: Path) -> None:
    RateCard.model_validate(_yaml(card))


def test_the_example_scenario_fits_and_a_typo_does_not() -> None:
    data = _yaml(REPO / "docs" / "examples" / "scenario.yaml")
    ScenarioFile.model_validate(data)
    with pytest.raises(pydantic.ValidationError, match="utilisation"):
        ScenarioFile.model_validate({**data, "utilisation": 0.5})


def test_schema_command_prints_json_schema_for_both_files() -> None:
    card = CliRunner().invoke(main, ["ratecards", "schema"])
    assert card.exit_code == 0, card.output
    schema = json.loads(card.stdout)
    assert schema["$schema"].endswith("2020-12/schema")
    assert set(schema["required"]) == {"provider", "currency", "as_of", "source", "instances"}
    scenario = json.loads(CliRunner().invoke(main, ["ratecards", "schema", "--scenario"]).stdout)
    assert "revenue" in scenario["required"] and scenario["additionalProperties"] is False
