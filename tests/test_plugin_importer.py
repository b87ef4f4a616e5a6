"""Importers are plugins: a package that registers an `Importer` in the `gpucost.importers`
entry-point group gets its own `gpucost import NAME`, priced like a built-in; a registration
that is not an importer is refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.importers import registry
from tests.helpers_runs import TEST_CARD
from tests.import_helpers import invoke


def test_built_in_importers_register_through_the_entry_point_group() -> None:
    found = registry.available()
    assert list(found)[:3] == ["aiperf", "guidellm", "vllm"]
    assert found["aiperf"] == "harness.importers.aiperf:AiperfImporter"
    assert registry.load("vllm").summary.startswith("`vllm bench serve")


def test_a_third_party_importer_is_offered_imported_and_priced(
    test_plugin: Path, tmp_path: Path
) -> None:
    listed = invoke("import", "--help")
    assert listed.exit_code == 0, listed.output
    assert "tinybench" in listed.stdout and "aiperf" in listed.stdout
    result_file = tmp_path / "tiny.json"
    level = {"concurrency": 2, "duration_s": 10.0, "completed": 20, "output_tokens": 2000}
    result_file.write_text(json.dumps(level | {"latency_p50_s": 0.9}))
    card = tmp_path / "card.yaml"
    card.write_text(TEST_CARD, encoding="utf-8")  # test:eight, 8 × H100 at $28.80/h
    imported = invoke("import", "tinybench", result_file, "--gpu", "H100-SXM-80GB",
                      "--gpus-used", "8", "--out", tmp_path / "runs")  # fmt: skip
    assert imported.exit_code == 0, imported.output
    run = Path(imported.stdout.strip())
    assert json.loads((run / "run.json").read_text())["config"]["tool"] == "tinybench"
    priced = invoke("price", run, "--instance", "test:eight", "--ratecard", card,
                    "--plan", "on_demand", "--format", "json")  # fmt: skip
    assert priced.exit_code == 0, priced.output
    cost = {r["unit"]: r["cost_per_unit_usd"] for r in json.loads(priced.stdout)}
    assert cost["output_token"] == pytest.approx(10.0 * 8 * 28.80 / 8 / 3600 / 2000)


def test_a_registered_class_that_is_not_an_importer_is_refused_in_one_line(
    test_plugin: Path, tmp_path: Path
) -> None:
    result_file = tmp_path / "x.json"
    result_file.write_text("{}")
    result = invoke("import", "notimporter", result_file, "--gpu", "H100-SXM-80GB",
                    "--gpus-used", "1", "--out", tmp_path / "runs")  # fmt: skip
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert message.startswith("Error: ") and "\n" not in message, message
    assert "is not a gpucost Importer" in message
    assert not (tmp_path / "runs").exists()
