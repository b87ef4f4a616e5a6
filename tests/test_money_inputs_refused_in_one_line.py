"""Hostile and broken inputs to price, compare, report, ratecards and scenarios: each class of
fault ends in one line naming the file and where, never a traceback or a silent wrong number."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.cli_helpers import invoke, one_line_error
from tests.helpers_runs import TEST_CARD, row, text_row, write_run

REPO = Path(__file__).resolve().parent.parent



def card(tmp_path: Path) -> Path:
    path = tmp_path / "test.yaml"
    path.write_text(TEST_CARD, encoding="utf-8")
    return path



# --- YAML: aliases, duplicate keys, deep nesting, values never printed whole ---------------

BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
provider: [*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (BOMB, "aliases"),
        ("provider: aws\nprovider: gcp\n", "duplicate key 'provider'"),
        ("base: &b {gpu: L4}\ninstances: [{<<: *b}]\n", "aliases"),
        ("x: " + "[" * 200 + "]" * 200 + "\n", "nested deeper"),
    ],
)
def test_yaml_loader_refuses_aliases_duplicates_and_deep_nesting(
    tmp_path: Path, text: str, needle: str
) -> None:
    path = tmp_path / "card.yaml"
    path.write_text(text, encoding="utf-8")
    start = time.perf_counter()
    line = one_line_error(invoke("ratecards", "validate", path), str(path), needle)
    assert time.perf_counter() - start < 5  # an alias bomb is refused, not expanded
    assert "line" in line


def test_scenario_uses_the_same_safe_loader(tmp_path: Path) -> None:
    run = write_run(tmp_path, [text_row(1, 1.0)])
    scenario = tmp_path / "s.yaml"
    scenario.write_text(BOMB.replace("provider:", "workload:"), encoding="utf-8")
    one_line_error(invoke("price", run, "--scenario", scenario), str(scenario), "aliases")


def test_errors_never_print_a_whole_list_or_mapping(tmp_path: Path) -> None:
    huge = "[" + ",".join(f'"v{i}"' for i in range(5000)) + "]"
    path = tmp_path / "card.yaml"
    path.write_text(
        f"provider: {huge}\ncurrency: USD\nas_of: 2026-01-01\nsource: s\ninstances: []\n",
        encoding="utf-8",
    )
    line = one_line_error(invoke("ratecards", "validate", path), "provider")
    assert "a list of 5000 items" in line and len(line) < 300
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        f"workload: text\nplan: {huge}\nrevenue: {{model: free}}\n", encoding="utf-8"
    )
    run = write_run(tmp_path / "r", [text_row(1, 1.0)])
    line = one_line_error(invoke("price", run, "--scenario", scenario), "plan")
    assert len(line) < 300


# --- run folders: what an ok row must hold, and files that are broken -----------------------


@pytest.mark.parametrize(
    ("rows", "needle"),
    [
        ([text_row(1, 0.0)], "column wall_s_p50"),
        ([text_row(1, None, prefill_s=None, decode_s=None)], "column wall_s_p50"),
        ([row("image", 1, 1.0, images="inf")], "images"),
        ([text_row(1, 1.0, energy_j="Infinity")], "energy_j"),
        ([row("image", 1, 1.0, images="nan")], "images"),
        ([text_row(1, 1.0, decode_s=5.0)], "column decode_s_p50: a phase longer"),
        ([text_row(1, 1.0), text_row(1, 1.0)], "line 3, column batch_size: the same row"),
        ([text_row(1, 1.0), text_row(4, 1.0, status="running")], "unknown status 'running'"),
        ([text_row(1, 1.0, status="")], "column status: empty"),
        ([row("", 1, 1.0)], "column workload: empty"),
    ],
)
def test_impossible_or_broken_rows_are_refused_with_line_and_column(
    tmp_path: Path, rows: list, needle: str
) -> None:
    run = write_run(tmp_path, rows)
    csv_path = run / "measurements.csv"
    for command in (("price", run), ("compare", run), ("report", run, "-o", tmp_path / "r.html")):
        one_line_error(invoke(*command), str(csv_path), needle)
    assert not (tmp_path / "r.html").exists()


def test_truncated_last_row_is_refused(tmp_path: Path) -> None:
    run = write_run(tmp_path, [text_row(1, 1.0), text_row(4, 2.0)])
    csv_path = run / "measurements.csv"
    text = csv_path.read_text(encoding="utf-8")
    csv_path.write_text(text[: len(text) - len(text.splitlines()[-1]) // 2 - 1], encoding="utf-8")
    one_line_error(invoke("price", run), str(csv_path), "line 3: truncated")


def test_rows_of_another_run_are_refused(tmp_path: Path) -> None:
    run = write_run(tmp_path, [text_row(1, 1.0)])
    meta = json.loads((run / "run.json").read_text(encoding="utf-8"))
    meta["run_id"] = "another-run"
    (run / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    one_line_error(invoke("price", run), "line 2, column run_id", "'another-run' in run.json")


@pytest.mark.parametrize(
    ("meta", "needle"),
    [
        ('{"run_id": "x", "device": ' + "[" * 100_000 + "]" * 100_000 + "}", "JSON"),
        ('{"run_id": ["x"]}', "run_id must be a text"),
        ('{"run_id": "x", "device": [1, 2]}', "device must be a mapping"),
        ('{"run_id": "x", "config": "fast"}', "config must be a mapping"),
    ],
)
def test_crafted_run_json_is_refused(tmp_path: Path, meta: str, needle: str) -> None:
    run = write_run(tmp_path, [text_row(1, 1.0)])
    (run / "run.json").write_text(meta, encoding="utf-8")
    one_line_error(invoke("price", run), "run.json", needle)


# --- candidate prices, unstable rows, what was measured -------------------------------------


def test_a_given_price_keeps_market_prices_of_other_units_and_warns_when_implausible(
    tmp_path: Path,
) -> None:
    run = write_run(tmp_path, [text_row(1, 1.0)])
    result = invoke(
        "price", run, "--ratecard", card(tmp_path), "--price", "text.output_token=0.60",
        "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    body = result.output[result.output.index("[") :]
    rows = json.loads(body)
    labels = {(r["unit"], r["price_label"]) for r in rows if r["price_label"]}
    assert ("output_token", "--price") in labels
    assert any(unit == "input_token" and label != "--price" for unit, label in labels)
    table = invoke("price", run, "--ratecard", card(tmp_path), "--price", "text.output_token=0.60")
    assert table.exit_code == 0, table.output
    assert "did you mean $0.60/1M?" in " ".join(table.output.split())
    plausible = invoke(
        "price", run, "--ratecard", card(tmp_path), "--price", "text.output_token=0.60/1M"
    )
    assert "did you mean" not in plausible.output


def test_unstable_rows_are_shown_in_tables_csv_and_json(tmp_path: Path) -> None:
    rows = [text_row(1, 1.0, unstable=True, wall_s_cv=0.4), text_row(4, 2.0, unstable=False)]
    run = write_run(tmp_path, rows)
    ratecard = card(tmp_path)
    table = invoke("price", run, "--ratecard", ratecard)
    assert table.exit_code == 0, table.output
    line = " ".join(table.output.split("unstable: run")[1].split())
    assert "text batch 1 (timing noisy: wall-time CV 40%)" in line
    assert "text batch 4" not in line.split("uncertain")[0]
    data = json.loads(invoke("price", run, "--ratecard", ratecard, "--format", "json").output)
    flags = {(r["batch_size"], r["unstable"]) for r in data}
    assert flags == {(1, True), (4, False)}
    csv_text = invoke("price", run, "--ratecard", ratecard, "--format", "csv").output
    assert "unstable" in csv_text.splitlines()[0]
    bad = write_run(tmp_path / "bad", [text_row(1, 1.0, unstable="maybe")])
    one_line_error(invoke("price", bad), "line 2: unstable 'maybe'")


def test_cpu_preset_run_says_what_was_measured(tmp_path: Path) -> None:
    run = write_run(tmp_path, [text_row(1, 1.0, gpu_name=None)], gpu_name=None)
    result = invoke("price", run, "--ratecard", card(tmp_path))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert text.startswith("Read with care: random weights, CPU")
    assert "measured a preset's shape with random weights (tiny)" in text
    assert "measured on a CPU" in text and "hold only for the model" in text


def test_shipped_example_scenario_prices_a_default_cpu_run(tmp_path: Path) -> None:
    # The default CPU sweep of text measures batch sizes 1 and 4.
    rows = [text_row(b, 0.1 * b, gpu_name=None) for b in (1, 4)]
    run = write_run(tmp_path, rows, gpu_name=None)
    result = invoke("price", run, "--scenario", REPO / "docs/examples/scenario.yaml")
    assert result.exit_code == 0, result.output
    assert "Scenario support-assistant" in result.output


# --- report without -o ---------------------------------------------------------------------


def test_report_without_output_writes_into_the_run_folder(tmp_path: Path) -> None:
    run = write_run(tmp_path, [text_row(1, 1.0)])
    result = invoke("report", run, "--ratecard", card(tmp_path), "--instance", "test:one")
    assert result.exit_code == 0, result.output
    assert (run / "report.html").is_file()
    assert str(run / "report.html") in result.output
    missing = invoke("report", tmp_path / "nope")
    one_line_error(missing, "no such run folder")
