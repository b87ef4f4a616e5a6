"""`gpucost price` end to end: tables, the csv/json contract, scenarios and every bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli.price_output import print_market_summary
from harness.money import PRICED_COLUMNS
from harness.render.terminal import render_text
from tests.cli_helpers import invoke, one_line_error
from tests.helpers_runs import (
    TEST_CARD,
    asr_row,
    embedding_row,
    image_row,
    retrieval_row,
    row,
    text_row,
    tts_row,
    write_run,
)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    rows = [
        text_row(1, 0.5),
        text_row(8, 2.0),
        image_row(8, 2.0),
        asr_row(),
        tts_row(),
        embedding_row(),
        retrieval_row(),
        row("text", 64, None, status="oom"),
    ]
    return write_run(tmp_path / "results", rows)


@pytest.fixture
def card(tmp_path: Path) -> Path:
    path = tmp_path / "test.yaml"
    path.write_text(TEST_CARD, encoding="utf-8")
    return path



def test_table_shows_every_workload_at_market_prices(run_dir: Path) -> None:
    result = invoke("price", run_dir, "-v")
    assert result.exit_code == 0, result.output
    out = result.output
    for workload in ("text", "image", "asr", "tts", "embedding", "retrieval"):
        assert f"{workload} (tiny), run {run_dir.name}" in out
    assert "per 1M output tokens" in out and "per 1K queries" in out and "per audio minute" in out
    assert "GPT-4o-mini" in out and "Sensitivity" in out and "50% margin" in out
    assert "June 2025" in out or "aws:p5" not in out


def test_csv_follows_the_contract_with_hand_computed_figures(run_dir: Path, card: Path) -> None:
    result = invoke(
        "price",
        run_dir,
        "--ratecard",
        card,
        "--instance",
        "test:one",
        "--plan",
        "on_demand",
        "--plan",
        "spot",
        "--utilization",
        "0.5",
        "--price",
        "image.image=0.001",
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = lines[0].split(",")
    assert header[: len(PRICED_COLUMNS)] == list(PRICED_COLUMNS)
    import csv

    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    images = [r for r in rows if r["unit"] == "image"]
    assert {r["plan"] for r in images} == {"on_demand", "spot"}
    on_demand = next(r for r in images if r["plan"] == "on_demand")
    # 2.0 s × $3.60/h ÷ 3600 = $0.002 per batch ÷ u 0.5 = $0.004 ÷ 8 images = $0.0005
    assert float(on_demand["cost_per_unit_usd"]) == pytest.approx(0.0005)
    assert float(on_demand["price_per_unit_usd"]) == pytest.approx(0.001)
    assert float(on_demand["gross_margin"]) == pytest.approx(0.5)
    assert float(on_demand["break_even_price_usd"]) == pytest.approx(0.0005)
    assert on_demand["gpu"] == "H100-SXM-80GB" and on_demand["utilization"] == "0.5"
    # no candidate for text: price and margin are empty cells, never 0
    request = next(r for r in rows if r["unit"] == "request")
    assert request["price_per_unit_usd"] == "" and request["gross_margin"] == ""
    assert {r["batch_size"] for r in rows if r["workload"] == "text"} == {"1", "8"}


def test_json_is_a_list_of_records_with_nulls(run_dir: Path, card: Path) -> None:
    result = invoke(
        "price",
        run_dir,
        "--ratecard",
        card,
        "--instance",
        "test:one",
        "--plan",
        "on_demand",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert isinstance(records, list) and records
    assert list(records[0])[: len(PRICED_COLUMNS)] == list(PRICED_COLUMNS)
    request = next(r for r in records if r["unit"] == "request")
    assert request["price_per_unit_usd"] is None and request["gross_margin"] is None
    output = next(r for r in records if r["unit"] == "output_token" and r["batch_size"] == 8)
    # market default GPT-4o-mini $0.60/1M; cost $0.0015 ÷ 512 output tokens
    assert output["price_per_unit_usd"] == pytest.approx(0.6e-6)
    assert output["cost_per_unit_usd"] == pytest.approx(0.0015 / 512)
    assert isinstance(output["energy_estimated"], bool)


def test_output_file_is_written_and_nothing_on_error(run_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    result = invoke("price", run_dir, "--format", "csv", "-o", target)
    assert result.exit_code == 0 and target.read_text().startswith("run_id,workload")
    bad = tmp_path / "bad.csv"
    one_line_error(invoke("price", run_dir, "--price", "text.nope=1", "-o", bad))
    assert not bad.exists()


def test_scenario_table_and_csv(run_dir: Path, card: Path) -> None:
    scenario = REPO / "docs" / "examples" / "scenario.yaml"
    result = invoke("price", run_dir, "--scenario", scenario)
    assert result.exit_code == 0, result.output
    assert (
        "Scenario support-assistant" in result.output and "Direct costs per call" in result.output
    )
    result = invoke(
        "price",
        run_dir,
        "--scenario",
        scenario,
        "--ratecard",
        card,
        "--instance",
        "test:one",
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.output
    import csv

    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {r["unit"] for r in rows} == {"request"} and {r["batch_size"] for r in rows} == {"1"}
    assert list(rows[0])[: len(PRICED_COLUMNS)] == list(PRICED_COLUMNS)
    assert {r["utilization"] for r in rows} == {"0.6"}  # the scenario's own utilisation


def test_free_scenario_shows_monthly_cost_and_no_margin(run_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "free.yaml"
    path.write_text("workload: image\nexpected_monthly_calls: 50000\nrevenue: {model: free}\n")
    result = invoke("price", run_dir, "--scenario", path)
    assert result.exit_code == 0, result.output
    assert "per month" in result.output and "no margin" in result.output
    assert " margin " not in result.output.split("Scenario")[1].splitlines()[1]


def test_cpu_run_is_priced_on_cpu_instances(tmp_path: Path) -> None:
    run = write_run(tmp_path, [image_row(2, 1.0, gpu_name=None)], gpu_name=None)
    result = invoke("price", run, "--format", "json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert {r["gpu"] for r in records} == {"none"}
    assert {"c7i.xlarge", "n2-standard-4", "cpu-server"} <= {r["instance"] for r in records}


def test_unknown_gpu_is_reported_and_gpu_override_prices_it(tmp_path: Path) -> None:
    run = write_run(
        tmp_path,
        [image_row(gpu_name="NVIDIA GeForce RTX 4090")],
        gpu_name="NVIDIA GeForce RTX 4090",
    )
    line = one_line_error(invoke("price", run))
    assert "GPU 'NVIDIA GeForce RTX 4090'" in line and "is not in any rate card" in line
    assert "pass --gpu KEY (known:" in line and "L40S" in line
    result = invoke("price", run, "--gpu", "L40S", "--format", "json")
    assert result.exit_code == 0, result.output
    assert {r["gpu"] for r in json.loads(result.stdout)} == {"L40S"}
    assert "--gpu 'XYZ'" in one_line_error(invoke("price", run, "--gpu", "XYZ"))


def test_price_for_an_absent_workload_is_noted(run_dir: Path, tmp_path: Path) -> None:
    run = write_run(tmp_path, [image_row()])
    result = invoke(
        "price", run, "--price", "text.output_token=1/1M", "--price", "image.image=0.01"
    )
    assert result.exit_code == 0, result.output
    assert "--price text.output_token: no text rows" in result.output


def test_user_card_in_config_folder_is_used(run_dir: Path, isolated_user_env: Path) -> None:
    folder = isolated_user_env / "ratecards"
    folder.mkdir()
    (folder / "mine.yaml").write_text(TEST_CARD, encoding="utf-8")
    result = invoke("price", run_dir, "--instance", "test:eight", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert ",test,eight,H100-SXM-80GB,on_demand," in result.stdout


def test_non_usd_cards_are_priced_alone_and_refused_mixed(run_dir: Path, tmp_path: Path) -> None:
    eur = tmp_path / "eur.yaml"
    eur.write_text(
        TEST_CARD.replace("currency: USD", "currency: EUR").replace(
            "provider: test", "provider: euro"
        ),
        encoding="utf-8",
    )
    result = invoke("price", run_dir, "--ratecard", eur, "--instance", "euro:one")
    assert result.exit_code == 0, result.output
    assert "(EUR;" in result.output and "no default candidate prices" in result.output
    line = one_line_error(invoke("price", run_dir, "--ratecard", eur))
    assert "different currencies" in line and str(eur) in line


BAD_CARD_EDITS = {
    "missing field": ("    region: lab\n", "", "missing field 'region'"),
    "negative price": ("on_demand: 3.60", "on_demand: -3.60", "must not be negative"),
    "non-numeric price": ("on_demand: 3.60", "on_demand: lots", "must be a number"),
    "unknown plan": ("spot: 1.80", "weekly: 1.80", "unknown plan 'weekly'"),
    "duplicate instance": ("name: eight", "name: one", "duplicate instance"),
    "unknown currency": ("currency: USD", "currency: XYZ", "unknown currency 'XYZ'"),
}


@pytest.mark.parametrize("case", sorted(BAD_CARD_EDITS))
def test_bad_cards_stop_price(case: str, run_dir: Path, tmp_path: Path) -> None:
    old, new, reason = BAD_CARD_EDITS[case]
    path = tmp_path / "bad.yaml"
    path.write_text(TEST_CARD.replace(old, new, 1), encoding="utf-8")
    target = tmp_path / "out.csv"
    line = one_line_error(invoke("price", run_dir, "--ratecard", path, "-o", target))
    assert str(path) in line and reason in line
    assert not target.exists()


def test_bad_scenario_stops_price(run_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "workload: text\ndirect_costs_per_call: {review_share: 1.2}\n"
        "revenue: {model: per_call, price_usd: 0.01}\n"
    )
    line = one_line_error(invoke("price", run_dir, "--scenario", path))
    assert str(path) in line and "review_share must be a share between 0 and 1" in line
    path.write_text("workload: text\nbatch_size: 3\nrevenue: {model: per_call, price_usd: 1}\n")
    line = one_line_error(invoke("price", run_dir, "--scenario", path))
    assert "batch_size 3 was not measured for text (measured: 1, 8)" in line
    other = write_run(tmp_path / "other", [image_row()])
    path.write_text("workload: text\nrevenue: {model: per_call, price_usd: 1}\n")
    line = one_line_error(invoke("price", other, "--scenario", path))
    assert "workload 'text' is not in the run(s) (they have: image)" in line


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--price", "text.output_token"], "expected WORKLOAD.UNIT=VALUE"),
        (["--price", "image.token=0.1"], "image has no unit 'token'"),
        (["--price", "video.frame=0.1"], "unknown workload 'video'"),
        (["--utilization", "0"], "--utilization 0: must be a share"),
        (["--utilization", "1.5"], "--utilization 1.5: must be a share"),
        (["--plan", "weekly"], "--plan 'weekly': unknown plan"),
        (["--instance", "aws:nope"], "aws has no instance 'nope'"),
        (["--instance", "nowhere"], "expected PROVIDER:NAME"),
        (["--instance", "aws:g5.xlarge"], "ran on H100-SXM-80GB; --instance aws:g5.xlarge (A10G)"),
        (["--target-margin", "100"], "--target-margin '100'"),
        (["--scenario", "missing.yaml"], "no such scenario file"),
    ],
)
def test_bad_options_are_one_line_errors(args: list[str], reason: str, run_dir: Path) -> None:
    assert reason in one_line_error(invoke("price", run_dir, *args))


def test_bad_run_folders(tmp_path: Path) -> None:
    assert "no such run folder" in one_line_error(invoke("price", tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    assert "not a gpucost run (empty folder)" in one_line_error(invoke("price", tmp_path / "empty"))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("hello")
    assert "not a gpucost run (no run.json)" in one_line_error(invoke("price", tmp_path / "other"))
    failed = write_run(
        tmp_path / "f", [row("text", 8, None, status="oom"), row("text", 16, None, status="error")]
    )
    assert "no ok rows to price (1 oom, 1 error)" in one_line_error(invoke("price", failed))
    bare = write_run(tmp_path / "b", [])
    assert "no measurements" in one_line_error(invoke("price", bare))
    broken = write_run(tmp_path / "j", [image_row()])
    (broken / "run.json").write_text("{not json")
    assert "not valid JSON" in one_line_error(invoke("price", broken))


def test_market_summary_for_a_run_and_for_an_unknown_gpu(run_dir: Path, tmp_path: Path) -> None:
    text = render_text(lambda screen: print_market_summary(run_dir, screen), 80)
    assert "Cost and margin at market prices" in text and "1M output tokens" in text
    assert max(len(line) for line in text.splitlines()) <= 80
    # on-demand only: Lambda's 8 × H100 at $23.92/h is $2.99 per GPU-hour, so an image batch of
    # 8 in 2.0 s costs 2.0 × 2.99 ÷ 3600 ÷ 8 = $0.0002076 (GCP spot would be cheaper)
    assert "lambda:gpu_8x_h100_sxm5" in text and "$0.000208" in text
    unknown = write_run(tmp_path / "u", [image_row(gpu_name="Mystery GPU")], gpu_name="Mystery GPU")
    text = render_text(lambda screen: print_market_summary(unknown, screen), None)
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "GPU 'Mystery GPU'" in lines[0]


NO_TORCH = """
import sys
from harness.cli import main
for args in ({args}):
    try:
        main(list(args), standalone_mode=False)
    except SystemExit:
        pass
print("TORCH_LOADED" if "torch" in sys.modules else "NO_TORCH")
"""


def test_money_commands_never_import_torch(run_dir: Path) -> None:
    args = repr(
        (
            ("price", str(run_dir), "--format", "csv"),
            ("ratecards", "list"),
            ("ratecards", "show", "aws"),
        )
    )
    done = subprocess.run(
        [sys.executable, "-c", NO_TORCH.format(args=args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("NO_TORCH")
    done = subprocess.run(
        [sys.executable, "-m", "harness", "price", str(run_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Cheapest option per workload" in done.stdout


def test_runs_on_different_gpus_are_priced_together(tmp_path: Path) -> None:
    h100 = write_run(tmp_path / "a", [image_row()], run_id="run-h100")
    l4 = write_run(
        tmp_path / "b", [image_row(gpu_name="NVIDIA L4")], run_id="run-l4", gpu_name="NVIDIA L4"
    )
    result = invoke("price", h100, l4, "--format", "json")
    assert result.exit_code == 0, result.output
    gpus = {(r["run_id"], r["gpu"]) for r in json.loads(result.stdout)}
    assert gpus == {("run-h100", "H100-SXM-80GB"), ("run-l4", "L4")}


def test_example_user_card_and_market_file_through_ratecard(run_dir: Path, tmp_path: Path) -> None:
    example = REPO / "docs" / "examples" / "ratecard.yaml"
    result = invoke("ratecards", "show", "aws:g6e.xlarge", "--ratecard", example)
    assert result.exit_code == 0 and "reserved_1y $1.30" in result.output
    market = tmp_path / "market.yaml"
    market.write_text(
        "currency: USD\nas_of: 2026-11-01\nsource: our price list\nprices:\n"
        "  - {unit: retrieval.query, price: 1.0, per: 1K, product: our search API, default: true,"
        " source: price list, date: 2026-11-01}\n",
        encoding="utf-8",
    )
    result = invoke("price", run_dir, "--ratecard", market, "--format", "json")
    assert result.exit_code == 0, result.output
    query = next(r for r in json.loads(result.stdout) if r["unit"] == "query")
    assert query["price_per_unit_usd"] == pytest.approx(0.001)
    assert query["price_label"] == "our search API"


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("batch_size", "abc", "line 2: batch_size 'abc' is not a number"),
        ("batch_size", "", "line 2: batch_size (empty) is not a whole number >= 1"),
        ("batch_size", "1.5", "line 2: batch_size 1.5 is not a whole number >= 1"),
        ("wall_s_p50", "-1", "line 2: wall_s_p50 -1 is not a number >= 0"),
        ("energy_j", "lots", "line 2: energy_j 'lots' is not a number"),
    ],
)
def test_a_corrupt_measurement_is_refused_with_line_and_column(
    tmp_path: Path, column: str, value: str, expected: str
) -> None:
    import csv

    run = write_run(tmp_path / "results", [image_row(8, 2.0)])
    path = run / "measurements.csv"
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows[0][column] = value
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for command in ("price", "compare"):
        error = one_line_error(invoke(command, run))
        assert f"{path}: {expected}" in error


def test_a_run_given_twice_is_priced_once(run_dir: Path) -> None:
    once = invoke("price", run_dir, "--format", "csv")
    twice = invoke("price", run_dir, run_dir, "--format", "csv")
    assert once.exit_code == twice.exit_code == 0
    assert twice.stdout == once.stdout
