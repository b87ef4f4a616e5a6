"""`gpucost reconcile` on the shipped example bill: the README's command as written, the cost
basis named in every output, credits and tax apart, never a negative cost per unit."""

from __future__ import annotations

import io
import json
import shlex
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from harness.cli import main

ROOT = Path(__file__).resolve().parents[1]


def readme_command() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    line = next(ln for ln in text.splitlines() if ln.startswith("gpucost reconcile --bill docs/examples/"))
    return shlex.split(line)[1:]


def test_the_readme_example_works_as_written(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, readme_command())
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Billed cost per unit of work, per day (cost basis amortized)")
    assert "(tax)" in result.stdout and "g5.xlarge" in result.stdout
    text = " ".join(result.stdout.split())
    assert "cost basis amortized: AWS CUR: amortised" in text and "prorated" in text
    # The request log line without `instance` is counted and named, not left to the docs.
    assert "2026-11-02: 2 request(s) name no instance" in text


def test_cost_basis_is_a_column_and_changes_the_savings_plan_hours(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    tables = {}
    for basis in ("amortized", "unblended"):
        result = CliRunner().invoke(
            main, [*readme_command(), "--format", "csv", "--cost-basis", basis]
        )
        assert result.exit_code == 0, result.output
        tables[basis] = pd.read_csv(io.StringIO(result.stdout))
        assert set(tables[basis]["cost_basis"]) == {basis}

    def g5_day1(table: pd.DataFrame) -> float:
        rows = table[(table["instance"] == "g5.xlarge") & (table["unit"] == "request")]
        return float(rows[rows["period_start"].str.startswith("2026-11-01")]["cost_usd"].iloc[0])

    # 12 hours under the plan at the effective 0.704 instead of 1.006 - 1.006 = 0, 12 on demand.
    assert abs(g5_day1(tables["amortized"]) - (12 * 0.704 + 12 * 1.006)) < 1e-9
    assert abs(g5_day1(tables["unblended"]) - 12 * 1.006) < 1e-9
    bad = CliRunner().invoke(main, [*readme_command(), "--cost-basis", "blended"])
    assert bad.exit_code == 2 and "--cost-basis" in bad.stderr


def test_credits_never_give_a_negative_cost_per_unit(tmp_path: Path) -> None:
    header = "ChargePeriodStart,ChargePeriodEnd,BilledCost,EffectiveCost,BillingCurrency,ChargeCategory,x_InstanceType\n"
    rows = (
        "2026-11-01T10:00:00Z,2026-11-01T11:00:00Z,1.0,1.0,USD,Usage,g5.xlarge\n"
        "2026-11-01T10:00:00Z,2026-11-01T11:00:00Z,-5.0,-5.0,USD,Credit,NULL\n"
    )
    bill = tmp_path / "focus.csv"
    bill.write_text(header + rows, encoding="utf-8")
    log = tmp_path / "log.jsonl"
    log.write_text(
        json.dumps({"timestamp": "2026-11-01T10:30:00Z", "workload": "text", "output_tokens": 9})
        + "\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        main, ["reconcile", "--bill", str(bill), "--requests", str(log), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    rows_out = json.loads(result.stdout)
    by_group = {(r["instance"], r["unit"]): r for r in rows_out}
    assert by_group[("(credit)", "request")]["cost_usd"] == -5.0
    assert by_group[("g5.xlarge", "request")]["cost_per_unit_usd"] == 1.0
    assert by_group[("all", "request")]["cost_usd"] == -4.0
    assert by_group[("all", "request")]["cost_per_unit_usd"] is None
    assert all(r["cost_per_unit_usd"] is None or r["cost_per_unit_usd"] >= 0 for r in rows_out)
    assert "negative cost" in result.stderr
