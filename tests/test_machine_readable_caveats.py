"""`price --format csv|json` rows carry their own caveats (random weights, CPU, stale prices,
prices to verify) from the one caveat list, in an added `caveats` column."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

from harness.money import PRICED_COLUMNS
from tests.cli_helpers import invoke
from tests.helpers_runs import TEST_CARD, text_row, write_run

FRESH = dt.date.today().isoformat()
STALE = "2025-01-01"  # far more than 90 days before any day these tests run
CPU_CARD = """\
provider: {provider}
currency: USD
as_of: {as_of}
source: hand-made for tests
instances:
  - name: cpu
    gpu: none
    gpu_count: 0
    vcpus: 4
    memory_gib: 16
    region: lab
    prices_per_hour: {{on_demand: 0.36}}
"""


def _cards(tmp_path: Path) -> list[str]:
    """Two CPU instances on two cards: `old:cpu` on a stale card, `new:cpu` on a fresh one."""
    paths = []
    for provider, as_of in (("old", STALE), ("new", FRESH)):
        path = tmp_path / f"{provider}.yaml"
        path.write_text(CPU_CARD.format(provider=provider, as_of=as_of), encoding="utf-8")
        paths += ["--ratecard", str(path)]
    return paths


def _price(run: Path, fmt: str, *args: str) -> str:
    result = invoke("price", run, *args, "--plan", "on_demand", "--format", fmt)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_cpu_random_weights_run_carries_both_caveats_on_every_row(tmp_path: Path) -> None:
    run = write_run(tmp_path, [text_row(4, 2.0, gpu_name=None)], gpu_name=None)
    args = (*_cards(tmp_path), "--instance", "old:cpu", "--instance", "new:cpu")
    rows = list(csv.DictReader(io.StringIO(_price(run, "csv", *args))))
    assert rows and list(rows[0])[: len(PRICED_COLUMNS)] == list(PRICED_COLUMNS)
    assert list(rows[0])[-1] == "caveats"
    for row in rows:
        kinds = row["caveats"].split(";")
        assert "random weights" in kinds and "CPU" in kinds, row
        # The stale card's date is a caveat on its own instance's rows only.
        assert ("stale prices" in kinds) == (row["provider"] == "old"), row
    assert {r["provider"] for r in rows} == {"old", "new"}

    data = json.loads(_price(run, "json", *args))
    assert isinstance(data, list) and all(isinstance(r, dict) for r in data)
    assert len(data) == len(rows)
    for record in data:
        kinds = [c["kind"] for c in record["caveats"]]
        assert {"random weights", "CPU"} <= set(kinds)
        assert ("stale prices" in kinds) == (record["provider"] == "old")
        assert all(set(c) == {"kind", "text"} and c["text"] for c in record["caveats"])
    stale = next(c for r in data for c in r["caveats"] if c["kind"] == "stale prices")
    assert "old prices as of 2025-01-01" in stale["text"]


def test_a_row_without_caveats_has_an_empty_field(tmp_path: Path) -> None:
    # A real model's folder measured on a GPU, priced on a fresh card: nothing to caveat.
    run = write_run(tmp_path, [text_row(4, 2.0, model="/models/served")])
    card = tmp_path / "test.yaml"
    card.write_text(TEST_CARD.replace("2026-11-01", FRESH), encoding="utf-8")
    args = ("--ratecard", str(card), "--instance", "test:one")
    rows = list(csv.DictReader(io.StringIO(_price(run, "csv", *args))))
    assert rows and all(r["caveats"] == "" for r in rows)
    data = json.loads(_price(run, "json", *args))
    assert data and all(r["caveats"] == [] for r in data)


def test_compare_rows_carry_their_own_runs_and_projections_caveats(tmp_path: Path) -> None:
    from tests.report_helpers import L4_NVML, TEST_CARD_INSTANCES
    from tests.report_helpers import TEST_CARD as COMPARE_CARD
    from tests.report_helpers import text_row as report_row
    from tests.report_helpers import write_run as write_report_run

    card = tmp_path / "testcloud.yaml"
    card.write_text(COMPARE_CARD, encoding="utf-8")
    # A preset with random weights (kept apart: other work), and a real model's folder measured
    # on two GPUs.
    preset = write_report_run(tmp_path, "run-preset", [report_row(8, 0.1)])
    served = write_report_run(tmp_path, "run-served", [report_row(8, 0.1, model="/models/m")])
    l4 = write_report_run(tmp_path, "run-l4", [report_row(8, 0.5, model="/models/m",
                          gpu_name=L4_NVML)], gpu_name=L4_NVML)  # fmt: skip
    args = ["compare", str(preset), str(served), str(l4), "--ratecard", str(card),
            *TEST_CARD_INSTANCES, "--unit", "request", "--project", "L4"]  # fmt: skip
    result = invoke(*args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, list) and data
    for record in data:
        kinds = {c["kind"] for c in record["caveats"]}
        assert ("random weights" in kinds) == (record["run_id"] == "run-preset"), record
        assert ("projected" in kinds) == bool(record["projected"]), record
    assert any(r["projected"] for r in data) and any(not r["projected"] for r in data)
    assert any(r["caveats"] == [] for r in data)
    table = invoke(*args, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(table.stdout)))
    assert len(rows) == len(data)
    for row, record in zip(rows, data, strict=True):
        assert row["caveats"] == ";".join(c["kind"] for c in record["caveats"])


def test_reconcile_rows_carry_their_floors_caveats(tmp_path: Path) -> None:
    from tests.test_reconcile_cli import base_args, floor_args, write_inputs, write_text_rows

    files = write_inputs(tmp_path)
    # The floor run measured a preset's shape with random weights, priced on a stale card.
    write_text_rows(files["run"], [(4, 2.0, 0.5, 1.5, 400, 200)], model="tiny")
    card = files["card"]
    card.write_text(card.read_text(encoding="utf-8").replace("2026-11-01", STALE), "utf-8")
    args = [*base_args(files), *floor_args(files)]
    result = invoke(*args, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0])[-1] == "caveats"
    with_floor = [r for r in rows if r["floor_instance"]]
    assert with_floor and all(r["caveats"] == "random weights;stale prices" for r in with_floor)
    assert all(r["caveats"] == "" for r in rows if not r["floor_instance"])
    assert any(not r["floor_instance"] for r in rows)
    data = json.loads(invoke(*args, "--format", "json").stdout)
    assert isinstance(data, list) and len(data) == len(rows)
    for record in data:
        kinds = [c["kind"] for c in record["caveats"]]
        assert kinds == (["random weights", "stale prices"] if record["floor_instance"] else [])
    # Without a run there is no floor and nothing to caveat.
    plain = json.loads(invoke(*base_args(files), "--format", "json").stdout)
    assert plain and all(r["caveats"] == [] for r in plain)


def test_the_reconcile_table_names_its_floors_caveats_above_it(tmp_path: Path) -> None:
    from tests.test_reconcile_cli import base_args, floor_args, write_inputs, write_text_rows

    files = write_inputs(tmp_path)
    write_text_rows(files["run"], [(4, 2.0, 0.5, 1.5, 400, 200)], model="tiny")
    result = invoke(*base_args(files), *floor_args(files))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Read with care: random weights")
    assert "measured a preset's shape with random weights" in " ".join(result.stdout.split())
    assert max(len(line) for line in lines) <= 80
