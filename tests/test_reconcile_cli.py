"""`gpucost reconcile` end to end: bill + request log + benchmark run + scenario, and bad input."""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.reconcile.engine import RECONCILE_COLUMNS

REPO = Path(__file__).resolve().parent.parent
CUR = [
    "lineItem/UsageStartDate",
    "lineItem/UnblendedCost",
    "lineItem/UsageAmount",
    "product/instanceType",
    "lineItem/ResourceId",
    "lineItem/CurrencyCode",
    "resourceTags/user:Project",
]

# The test card prices the instance at $3.60/h: $0.001 per GPU-second.
CARD = """\
provider: testcloud
currency: USD
as_of: 2026-11-01
source: written by the test
instances:
  - name: gx.test
    gpu: A10G
    gpu_count: 1
    vcpus: 4
    memory_gib: 16
    region: test-1
    prices_per_hour: {on_demand: 3.6}
"""

# Owned: $35,040 over 4 years is $1.00/h, + $0.80/h hosting = $1.80/h, $0.0005 per GPU-second;
# no power on the card, so an unmetered run draws its power limit, else the A10G's 150 W.
OWNED_CARD = """\
provider: lab
currency: USD
as_of: 2026-11-01
source: written by the test
instances:
  - name: gx.test
    gpu: A10G
    gpu_count: 1
    vcpus: 4
    memory_gib: 16
    region: basement
    self_hosted:
      capital_cost_per_gpu: 35040
      depreciation_years: 4
      hosting_cost_per_hour: 0.80
      electricity_price_per_kwh: 0.10
      pue: 1.5
"""

SCENARIO = """\
name: Demo <chat>
workload: text
direct_costs_per_call: {third_party_api_usd: 0.001}
revenue: {model: per_call, price_usd: 0.02}
"""


def write_inputs(root: Path) -> dict[str, Path]:
    # Bill: Nov 1 and Nov 2, 24 hourly rows of $0.50 each for gx.test (= $12.00 a day), tagged
    # Demo; and one $99 row of another project that the tag filter drops.
    bill = root / "cur.csv"
    with open(bill, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CUR)
        for day in (1, 2):
            for hour in range(24):
                stamp = f"2026-11-{day:02d}T{hour:02d}:00:00Z"
                writer.writerow([stamp, "0.5", "1", "gx.test", "i-1", "USD", "Demo"])
        writer.writerow(["2026-11-01T05:00:00Z", "99", "1", "gx.test", "i-9", "USD", "Other"])
    # Requests: 1000 on Nov 1, each 100 input and 50 output tokens; none on Nov 2.
    requests = root / "requests.jsonl"
    with open(requests, "w", encoding="utf-8") as fh:
        for i in range(1000):
            stamp = f"2026-11-01T{i // 60 % 24:02d}:{i % 60:02d}:00Z"
            fh.write(
                json.dumps(
                    {
                        "timestamp": stamp,
                        "workload": "text",
                        "input_tokens": 100,
                        "output_tokens": 50,
                        "status": "ok",
                    }
                )
                + "\n"
            )
    # Run: batch 4 takes 2.0 s (prefill 0.5, decode 1.5) for 4 requests, 400 in, 200 out tokens
    # → batch cost 2.0 s × $0.001 = $0.002. Batch 1 is dearer per unit and must not be the floor.
    run = root / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"run_id": "run-1", "device": {}}), encoding="utf-8")
    write_text_rows(run, [(1, 1.0, 0.2, 0.8, 100, 50), (4, 2.0, 0.5, 1.5, 400, 200)])
    card = root / "card.yaml"
    card.write_text(CARD, encoding="utf-8")
    scenario = root / "scenario.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    return {"bill": bill, "requests": requests, "run": run, "card": card, "scenario": scenario}


def write_text_rows(
    run: Path, rows: list[tuple[int, float, float, float, int, int]], **extra: object
) -> None:
    """Text rows (batch size, wall, prefill and decode seconds, input and output tokens) on an
    A10G, one request per batch item; `extra` adds a column with one value for every row."""
    columns = [
        "run_id",
        "workload",
        "preset",
        "gpu_name",
        "batch_size",
        "status",
        "wall_s_p50",
        "prefill_s_p50",
        "decode_s_p50",
        "input_tokens",
        "output_tokens",
        "requests",
        *extra,
    ]
    with open(run / "measurements.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for size, wall, prefill, decode, tokens_in, tokens_out in rows:
            fixed = ["run-1", "text", "tiny", "NVIDIA A10G", size, "ok", wall, prefill, decode]
            writer.writerow([*fixed, tokens_in, tokens_out, size, *extra.values()])


def base_args(files: dict[str, Path]) -> list[str]:
    return [
        "reconcile",
        "--bill",
        str(files["bill"]),
        "--requests",
        str(files["requests"]),
        "--tag",
        "Project=Demo",
    ]


def floor_args(files: dict[str, Path]) -> list[str]:
    return ["--run", str(files["run"]), "--ratecard", str(files["card"])]


def invoke(args: list[str]):
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_csv_follows_the_contract_with_hand_computed_costs(tmp_path: Path) -> None:
    files = write_inputs(tmp_path)
    result = invoke([*base_args(files), *floor_args(files), "--format", "csv"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout))
    assert list(table.columns[: len(RECONCILE_COLUMNS)]) == list(RECONCILE_COLUMNS)
    day1 = table[table["period_start"] == "2026-11-01T00:00:00+00:00"].set_index(["unit", "split"])
    request = day1.loc[("request", "whole")]
    assert request["period_end"] == "2026-11-02T00:00:00+00:00"
    assert request["instance"] == "gx.test"
    assert request["cost_usd"] == pytest.approx(12.0)
    assert request["inferences"] == 1000
    assert request["cost_per_unit_usd"] == pytest.approx(0.012)  # $12 / 1000
    assert request["floor_cost_per_unit_usd"] == pytest.approx(0.0005)  # $0.002 / 4
    assert request["floor_batch_size"] == 4
    assert request["implied_utilization"] == pytest.approx(0.0005 / 0.012)  # 1/24
    assert request["idle_cost_usd"] == pytest.approx(12.0 * 23 / 24)  # $11.50
    output = day1.loc[("output_token", "whole")]
    assert output["units"] == 50_000
    assert output["cost_per_unit_usd"] == pytest.approx(12.0 / 50_000)
    assert output["floor_cost_per_unit_usd"] == pytest.approx(0.002 / 200)
    # Benchmark split: decode is 1.5 of 2.0 s, so output tokens carry 75 % of the cost.
    split = day1.loc[("output_token", "benchmark")]
    assert split["cost_per_unit_usd"] == pytest.approx(9.0 / 50_000)
    assert split["floor_cost_per_unit_usd"] == pytest.approx(0.0015 / 200)
    assert split["idle_cost_usd"] == pytest.approx(9.0 * 23 / 24)
    assert day1.loc[("input_token", "benchmark")]["cost_per_unit_usd"] == pytest.approx(
        3.0 / 100_000
    )
    # Nov 2 was billed, nothing was served: cost shown, unit cost empty.
    day2 = table[table["period_start"] == "2026-11-02T00:00:00+00:00"]
    assert len(day2) == 1
    assert day2.iloc[0]["cost_usd"] == pytest.approx(12.0)
    assert day2.iloc[0]["inferences"] == 0
    assert pd.isna(day2.iloc[0]["cost_per_unit_usd"]) and pd.isna(day2.iloc[0]["idle_cost_usd"])


def test_json_and_scenario_margin(tmp_path: Path) -> None:
    files = write_inputs(tmp_path)
    args = [*base_args(files), *floor_args(files), "--scenario", str(files["scenario"])]
    result = invoke([*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    first = rows[0]
    # Revenue 1000 × $0.02 = $20; cost $12 + direct 1000 × $0.001 = $13 → margin 7/20.
    assert first["unit"] == "request" and first["revenue_usd"] == pytest.approx(20.0)
    assert first["direct_cost_usd"] == pytest.approx(1.0)
    assert first["gross_margin"] == pytest.approx(0.35)
    assert rows[-1]["cost_per_unit_usd"] is None  # Nov 2: JSON null, never 0


def test_weekly_period_sums_both_days(tmp_path: Path) -> None:
    files = write_inputs(tmp_path)
    result = invoke([*base_args(files), "--period", "week", "--format", "csv"])
    table = pd.read_csv(io.StringIO(result.stdout))
    table = table[table["unit"] == "request"]
    # Nov 1 (Sunday) is in the week of Oct 26; Nov 2 (Monday) starts the next week.
    assert list(table["period_start"].str[:10]) == ["2026-10-26", "2026-11-02"]
    assert list(table["cost_usd"]) == [12.0, 12.0]


def test_table_and_html_report(tmp_path: Path) -> None:
    files = write_inputs(tmp_path)
    result = invoke([*base_args(files), *floor_args(files)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[0].startswith("Billed cost per unit of work, per day")
    day = next(line for line in lines if line.startswith("2026-11-01"))
    # One cost per period and group, the units it served beside it, the cost per output token.
    assert "$12.00" in day and "1,000 request" in day and "$240/1M output" in day
    assert sum(line.startswith("2026-11-01") for line in lines) == 1
    assert result.stdout.count("cost basis amortized:") == 1 and result.stderr == ""
    result = invoke([*base_args(files), *floor_args(files), "-v"])
    assert "1M output tokens (benchmark split)" in result.stdout
    assert "$240" in result.stdout  # $12 / 50,000 output tokens = $240 per 1M
    page = tmp_path / "report.html"
    args = [*base_args(files), *floor_args(files), "--scenario", str(files["scenario"])]
    result = invoke([*args, "-o", str(page)])
    assert result.exit_code == 0, result.output
    text = page.read_text(encoding="utf-8")
    assert "data:image/png;base64," in text
    assert "http://" not in text and "https://" not in text
    assert "Demo &lt;chat&gt;" in text and "<chat>" not in text


def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    files = write_inputs(tmp_path)
    out = tmp_path / "out.csv"
    foreign = tmp_path / "other.csv"
    foreign.write_text("day,amount\n2026-11-01,3\n", encoding="utf-8")
    cases = [
        (["--tag", "Project=Nope"], "matches no row"),
        (["--bill", str(foreign)], "expected one of"),
        (["--requests", str(tmp_path / "missing.jsonl")], "does not exist"),
        (["--instance", "testcloud:gx.test"], "give --run too"),
    ]
    for extra, needle in cases:
        result = CliRunner().invoke(main, [*base_args(files), *extra, "-o", str(out)])
        assert result.exit_code == 2, (extra, result.output)
        assert result.stderr.startswith("Error: ") and needle in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert not out.exists()


def test_bad_timestamps_warn_or_stop_with_strict(tmp_path: Path) -> None:
    files = write_inputs(tmp_path)
    with open(files["requests"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"timestamp": "not a time", "workload": "text"}) + "\n")
    result = CliRunner().invoke(main, [*base_args(files), "--format", "csv"])
    assert result.exit_code == 0
    assert "1 line(s) skipped" in result.stderr and "line 1001" in result.stderr
    strict = CliRunner().invoke(main, [*base_args(files), "--strict"])
    assert strict.exit_code == 2 and "line 1001" in strict.stderr


def test_floor_on_a_different_gpu_is_refused_unless_asked(tmp_path: Path) -> None:
    files = write_inputs(tmp_path)
    card = files["card"].read_text(encoding="utf-8").replace("gpu: A10G", "gpu: L4")
    files["card"].write_text(card, encoding="utf-8")
    result = CliRunner().invoke(main, [*base_args(files), *floor_args(files)])
    assert result.exit_code == 2 and "measured on A10G" in result.stderr
    forced = invoke([*base_args(files), *floor_args(files), "--gpu", "L4", "--format", "csv"])
    assert forced.exit_code == 0
    assert pd.read_csv(io.StringIO(forced.stdout))["floor_cost_per_unit_usd"].notna().any()


def test_subprocess_runs_without_importing_torch(tmp_path: Path) -> None:
    files = write_inputs(tmp_path)
    command = [
        sys.executable,
        "-X",
        "importtime",
        "-m",
        "harness",
        *base_args(files),
        *floor_args(files),
        "--format",
        "json",
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)[0]["cost_usd"] == pytest.approx(12.0)
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "pandas" in imported  # the check sees real imports
    assert not any(name == "torch" or name.startswith("torch.") for name in imported)


def test_split_rows_share_the_whole_cost_from_one_benchmark_row(tmp_path: Path) -> None:
    files = write_inputs(tmp_path)
    # Batch 1 is cheapest per input token on its prefill share (0.01 of 1.01 s for 100 tokens),
    # batch 2 per output token (1.1 s for 100 tokens): batch 2 sets the output-token floor, so
    # both split rows take its prefill : decode = 0.5 : 0.6.
    write_text_rows(files["run"], [(1, 1.01, 0.01, 1.0, 100, 50), (2, 1.1, 0.5, 0.6, 200, 100)])
    result = invoke([*base_args(files), *floor_args(files), "--format", "csv"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout))
    day1 = table[table["period_start"] == "2026-11-01T00:00:00+00:00"]
    split = day1[day1["split"] == "benchmark"].set_index("unit")
    assert sorted(split.index) == ["input_token", "output_token"]
    allocated = (split["cost_per_unit_usd"] * split["units"]).sum()
    assert allocated == pytest.approx(day1["cost_usd"].iloc[0]) == pytest.approx(12.0)
    assert list(split["floor_batch_size"]) == [2, 2]
    assert split.loc["input_token", "cost_per_unit_usd"] == pytest.approx(12.0 * 5 / 11 / 100_000)
    assert split.loc["input_token", "floor_cost_per_unit_usd"] == pytest.approx(0.0005 / 200)
    assert split.loc["output_token", "floor_cost_per_unit_usd"] == pytest.approx(0.0006 / 100)


@pytest.mark.parametrize("spelling", ["L4", "l4", "NVIDIA L4"])
def test_gpu_option_takes_any_spelling_of_a_known_gpu(tmp_path: Path, spelling: str) -> None:
    files = write_inputs(tmp_path)
    card = files["card"].read_text(encoding="utf-8").replace("gpu: A10G", "gpu: L4")
    files["card"].write_text(card, encoding="utf-8")
    forced = invoke([*base_args(files), *floor_args(files), "--gpu", spelling, "--format", "csv"])
    assert forced.exit_code == 0, forced.output
    table = pd.read_csv(io.StringIO(forced.stdout)).set_index(["period_start", "unit", "split"])
    row = table.loc[("2026-11-01T00:00:00+00:00", "request", "whole")]
    assert row["floor_cost_per_unit_usd"] == pytest.approx(0.0005)


def test_an_unknown_gpu_is_refused(tmp_path: Path) -> None:
    files = write_inputs(tmp_path)
    for extra in (floor_args(files), []):
        result = CliRunner().invoke(main, [*base_args(files), *extra, "--gpu", "bogus"])
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("Error: --gpu 'bogus': unknown GPU (known: ")
        assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("which", ["bill", "requests"])
@pytest.mark.parametrize("damage", ["truncated", "not gzip"])
def test_a_broken_gzip_input_is_one_line_naming_it(tmp_path: Path, which: str, damage: str) -> None:
    files = write_inputs(tmp_path)
    source = files[which]
    broken = source.with_name(source.name + ".gz")
    data = gzip.compress(source.read_bytes())
    broken.write_bytes(data[: len(data) // 2] if damage == "truncated" else source.read_bytes())
    files[which] = broken
    result = CliRunner().invoke(main, base_args(files))
    assert result.exit_code == 2, result.output
    what = "bill" if which == "bill" else "request log"
    assert result.stderr.startswith(f"Error: {what} {broken}: not a readable gzip file (")
    assert len(result.stderr.strip().splitlines()) == 1


def test_floor_of_owned_hardware_takes_the_power_limit_from_run_json(tmp_path: Path) -> None:
    files = write_inputs(tmp_path)
    run = files["run"]
    meta = {"run_id": "run-1", "device": {"power_limit_w": 300.0}}
    (run / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    # The per-row power limit is empty (rows written before it was recorded per row).
    write_text_rows(run, [(4, 2.0, 0.5, 1.5, 400, 200)], power_limit_w="")
    card = tmp_path / "owned.yaml"
    card.write_text(OWNED_CARD, encoding="utf-8")
    args = [*base_args(files), "--run", str(run), "--ratecard", str(card), "--plan", "owned"]
    result = invoke([*args, "--format", "csv"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout)).set_index(["period_start", "unit", "split"])
    row = table.loc[("2026-11-01T00:00:00+00:00", "request", "whole")]
    # Batch of 4: 2.0 s × $0.0005 + 300 W × 2.0 s × PUE 1.5 = 900 J at $0.10/kWh.
    batch_cost_usd = 2.0 * 0.0005 + 900 / 3.6e6 * 0.10
    assert row["floor_cost_per_unit_usd"] == pytest.approx(batch_cost_usd / 4)
