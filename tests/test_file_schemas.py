"""One validation path per hand-written file: the models in `money/file_schemas/` load the files,
refuse faults in one line naming file, line, entry and field, and print the JSON Schemas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from harness.cli import main
from harness.errors import BadInput
from harness.money.file_schemas import RateCard, ScenarioFile
from harness.money.inputs import load_card_file, load_scenario
from tests.helpers_runs import ONE_BOX_CARD

REPO = Path(__file__).resolve().parent.parent


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _card(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "acme.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "card", sorted(p for p in (REPO / "ratecards").glob("*.yaml") if p.name != "market.yaml")
)
def test_every_shipped_card_fits_the_schema(card: Path) -> None:
    RateCard.model_validate(_yaml(card))


def test_the_example_scenario_fits_and_a_typo_does_not(tmp_path: Path) -> None:
    example = REPO / "docs" / "examples" / "scenario.yaml"
    assert load_scenario(example).workload == "text"
    typo = tmp_path / "s.yaml"
    typo.write_text(example.read_text().replace("utilization:", "utilisation:"))
    with pytest.raises(BadInput, match=r"s\.yaml:9: unknown field 'utilisation' \(fields: name, "):
        load_scenario(typo)


def test_a_fractional_vcpu_is_a_real_instance(tmp_path: Path) -> None:
    # Shared-core machines sell half a vCPU; loader and schema once disagreed about it.
    _, [instance] = load_card_file(_card(tmp_path, ONE_BOX_CARD.replace("vcpus: 4", "vcpus: 0.5")))
    assert instance.vcpus == 0.5
    schema = RateCard.model_json_schema()
    assert schema["$defs"]["CardInstance"]["properties"]["vcpus"]["type"] == "number"


def test_a_negative_price_is_refused_by_the_one_path(tmp_path: Path) -> None:
    path = _card(tmp_path, ONE_BOX_CARD.replace("spot: 0.5", "spot: -0.5"))
    with pytest.raises(BadInput) as err:
        load_card_file(path)
    assert str(err.value) == (
        f"{path}:12: instance 'box-1': prices_per_hour.spot must not be negative (got -0.5)"
    )
    schema = RateCard.model_json_schema()["$defs"]["CardInstance"]["properties"]
    assert schema["prices_per_hour"]["anyOf"][0]["additionalProperties"]["minimum"] == 0


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("    region: test-1\n", ""), ":6: instance 'box-1': missing field 'region'"),
        (("    region:", "    regoin:"), ":11: instance 'box-1': unknown field 'regoin' (fields: "),
        (("gpu_count: 1", "gpu_count: 1.5"), ":8: instance 'box-1': gpu_count must be a whole"),
        (("memory_gib: 16", "memory_gib: .inf"), ":10: instance 'box-1': memory_gib must be"),
        (("as_of: 2026-10-01", "as_of: soon"), ":3: as_of must be a date like 2026-11-01"),
        (("{on_demand: 1.0, spot: 0.5}", "{}"), ":12: instance 'box-1': prices_per_hour must be a"),
        (("gpu: L4", "gpu: none"), ":6: instance 'box-1': gpu_count must be 0 for a CPU-only"),
        (("memory_gib: 16", "memory_gib: 1.0e+300"), ":10: instance 'box-1': memory_gib is too"),
        (("spot: 0.5", "spot: true"), ":12: instance 'box-1': prices_per_hour.spot must be a num"),
        (("source: test quote", "source: " + "x" * 3000), ":4: source must be a non-empty text"),
        (("gpu_count: 1", "gpu_count: 99999999999999999999"), ":8: instance 'box-1': gpu_count is"),
    ],
)
def test_card_faults_name_the_line_entry_and_field(
    tmp_path: Path, edit: tuple[str, str], expected: str
) -> None:
    path = _card(tmp_path, ONE_BOX_CARD.replace(*edit))
    with pytest.raises(BadInput) as err:
        load_card_file(path)
    assert str(err.value).startswith(f"{path}{expected}"), str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("workload: text\nrevenue: {model: subscription}\n",
         ":2: revenue: unknown revenue model 'subscription' (models: per_call, per_unit"),
        ("workload: text\nrevenue:\n  model: per_call\n  price_usd: cheap\n",
         ":4: revenue (per_call): price_usd must be a number (got 'cheap')"),
        ("workload: text\nrevenue:\n  model: per_unit\n  prices: {output_tokn: 0.60/1M}\n",
         ":4: revenue (per_unit): prices.output_tokn: text has no unit 'output_tokn'"),
        ("workload: text\nutilization: 0\nrevenue: {model: per_call, price_usd: 1}\n",
         ":2: utilization must be > 0"),
        ("workload: text\nplan: weekly\nrevenue: {model: per_call, price_usd: 1}\n",
         ":2: unknown plan 'weekly' (plans: on_demand, spot, reserved_1y, reserved_3y, owned)"),
    ],
)  # fmt: skip
def test_scenario_faults_name_the_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BadInput) as err:
        load_scenario(path)
    assert str(err.value).startswith(f"{path}{expected}"), str(err.value)


def test_market_faults_name_the_entry(tmp_path: Path) -> None:
    text = (REPO / "ratecards" / "market.yaml").read_text().replace("per: 1M", "per: 1G", 1)
    path = tmp_path / "market.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["ratecards", "validate", str(path)])
    assert result.exit_code == 2
    entry = "price #1 (GPT-4o-mini, text.input_token)"
    assert f"{path}:12: {entry}: unknown scale '1G'" in result.stderr


def test_schema_command_prints_json_schema_for_both_files() -> None:
    card = CliRunner().invoke(main, ["ratecards", "schema"])
    assert card.exit_code == 0, card.output
    schema = json.loads(card.stdout)
    assert schema["$schema"].endswith("2020-12/schema")
    assert set(schema["required"]) == {"provider", "currency", "as_of", "source", "instances"}
    scenario = json.loads(CliRunner().invoke(main, ["ratecards", "schema", "--scenario"]).stdout)
    assert "revenue" in scenario["required"] and scenario["additionalProperties"] is False
    assert ScenarioFile.model_json_schema()["properties"]["utilization"]["anyOf"][0]["maximum"] == 1
