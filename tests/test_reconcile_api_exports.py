"""Model API bills: OpenAI's usage and costs reports and Anthropic's usage and cost reports, in
the shapes their Admin APIs document, as another bill source of `gpucost reconcile`."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.errors import BadInput
from harness.reconcile.api_exports import read_api_exports

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "model_api"
API_FILES = sorted(DATA.glob("*.json"))
CUR = ROOT / "docs" / "examples" / "cur.csv"
LOG = ROOT / "docs" / "examples" / "requests.jsonl"
DAY1 = int(pd.Timestamp("2026-11-01").value)
DAY2 = int(pd.Timestamp("2026-11-02").value)
MINI = "OpenAI gpt-4o-mini-2024-07-18"
GPT4O = "OpenAI gpt-4o-2024-08-06"
SONNET = "Anthropic claude-sonnet-4-5"


def test_reports_sum_per_provider_model_and_day() -> None:
    api = read_api_exports(API_FILES, "day")
    costs = {(p, g): round(c, 10) for p, g, c, _ in api.costs}
    # Written from the sample files: OpenAI dollars, Anthropic cents / 100.
    assert costs == {
        (DAY1, MINI): 0.30 + 0.30,
        (DAY1, GPT4O): 0.25 + 0.20,
        (DAY1, SONNET): round((240.00 + 4.5 + 18.75 + 300.00) / 100, 10),
        (DAY1, "Anthropic Web Search"): 1.00,
        (DAY2, MINI): 0.15 + 0.15,
    }
    units = {(p, g, u): (n, round(c, 10)) for p, g, u, n, c in api.units}
    assert units[(DAY1, MINI, "input_token")] == (2_000_000, 0.30)
    assert units[(DAY1, MINI, "output_token")] == (500_000, 0.30)
    assert units[(DAY1, MINI, "request")][0] == 1000
    # Anthropic input = uncached + cache reads + cache writes; its cost = those three charges.
    assert units[(DAY1, SONNET, "input_token")] == (800_000 + 150_000 + 50_000, 2.6325)
    assert units[(DAY1, SONNET, "output_token")] == (200_000, 3.00)
    assert (DAY1, SONNET, "request") not in units  # Anthropic's report counts no requests


def test_a_month_sums_its_days_and_a_list_of_pages_reads_as_one(tmp_path: Path) -> None:
    api = read_api_exports(API_FILES, "month")
    month = int(pd.Timestamp("2026-11-01").value)
    costs = {g: c for p, g, c, _ in api.costs if p == month}
    assert costs[MINI] == pytest.approx(0.30 + 0.30 + 0.15 + 0.15)
    units = {(g, u): n for _, g, u, n, _ in api.units}
    assert units[(MINI, "input_token")] == 3_000_000
    page = json.loads((DATA / "openai_costs.json").read_text())
    first, second = dict(page, data=page["data"][:1]), dict(page, data=page["data"][1:])
    pages = tmp_path / "openai_costs_pages.json"
    pages.write_text(json.dumps([first, second]))
    assert read_api_exports([pages], "day").costs == read_api_exports(
        [DATA / "openai_costs.json"], "day"
    ).costs


def _reconcile_csv(*bills: Path | str) -> tuple[pd.DataFrame, str]:
    args = ["reconcile", "--requests", str(LOG), "--period", "day", "--format", "csv"]
    for bill in bills:
        args += ["--bill", str(bill)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.stdout)), result.stderr


def test_reconcile_shows_api_fees_per_token_beside_the_gpu_rows() -> None:
    with_api, notes = _reconcile_csv(CUR, str(DATA / "*.json"))
    cloud_only, _ = _reconcile_csv(CUR)
    api_rows = with_api["instance"].str.startswith(("OpenAI ", "Anthropic "))
    # The cloud rows (and their `all` rows) read the same with or without the API bills.
    pd.testing.assert_frame_equal(with_api[~api_rows].reset_index(drop=True), cloud_only)
    assert "model API fees" in notes

    def per_unit(group: str, day: str, unit: str, split: str) -> float:
        row = with_api[
            (with_api["instance"] == group)
            & (with_api["period_start"].str.startswith(day))
            & (with_api["unit"] == unit)
            & (with_api["split"] == split)
        ]
        assert len(row) == 1, (group, day, unit, split)
        return float(row["cost_per_unit_usd"].iloc[0])

    # The whole fee over each unit, and each token type's own charge over its tokens.
    assert per_unit(MINI, "2026-11-01", "input_token", "whole") == pytest.approx(0.60 / 2e6)
    assert per_unit(MINI, "2026-11-01", "input_token", "api") == pytest.approx(0.15e-6)
    assert per_unit(MINI, "2026-11-01", "output_token", "api") == pytest.approx(0.60e-6)
    assert per_unit(MINI, "2026-11-01", "request", "whole") == pytest.approx(0.60 / 1000)
    assert per_unit(GPT4O, "2026-11-01", "output_token", "api") == pytest.approx(10e-6)
    assert per_unit(SONNET, "2026-11-01", "input_token", "api") == pytest.approx(2.6325 / 1e6)
    assert per_unit(SONNET, "2026-11-01", "output_token", "api") == pytest.approx(15e-6)
    assert per_unit(SONNET, "2026-11-01", "output_token", "whole") == pytest.approx(5.6325 / 2e5)
    # A charge with no usage behind it (web search) shows its cost and no unit cost.
    search = with_api[with_api["instance"] == "Anthropic Web Search"]
    assert search["cost_usd"].tolist() == [1.0] and search["cost_per_unit_usd"].isna().all()
    # The GPU rows are there beside them.
    assert (with_api["instance"] == "g5.xlarge").any()


def _bad(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "report.json"
    path.write_text(text)
    return path


OPENAI_COST = (
    '{"object": "page", "data": [{"object": "bucket", "start_time": 1793491200, '
    '"end_time": 1793577600, "results": [{"object": "organization.costs.result", '
    '"amount": {"value": %s, "currency": "%s"}, "line_item": null, "project_id": null}]}]}'
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"data": [\n  {"starting_at": "2026-11-01T00:00:00Z",\n  ]}', "not valid JSON"),
        (OPENAI_COST % ('"n/a"', "usd"), 'data[0].results[0].amount.value: not a number ("n/a")'),
        (OPENAI_COST % ("1e400", "usd"), "data[0].results[0].amount.value: not a finite"),
        (OPENAI_COST % ("1.0", "eur"), "not all in USD"),
        (
            '{"data": [{"starting_at": "yesterday", "results": []}]}',
            "data[0].starting_at: not a date",
        ),
        (
            '{"data": [{"starting_at": "2026-11-01T00:00:00Z", "results": '
            '[{"model": "m", "uncached_input_tokens": -5, "output_tokens": 1}]}]}',
            "data[0].results[0].uncached_input_tokens: not a finite count (-5)",
        ),
        ('{"object": "list"}', "the top level: not a usage or cost report page"),
        (
            '{"data": [{"start_time": 1793491200, "results": [{"object": "x"}]}]}',
            "data[0].results[0]: neither a cost",
        ),
    ],
)
def test_a_malformed_report_is_one_line_naming_file_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _bad(tmp_path, text)
    with pytest.raises(BadInput) as err:
        read_api_exports([path], "day")
    assert str(path) in str(err.value) and message in str(err.value)
    result = CliRunner().invoke(main, ["reconcile", "--bill", str(path), "--requests", str(LOG)])
    assert result.exit_code == 2
    error_lines = [ln for ln in result.output.splitlines() if ln.startswith("Error:")]
    assert len(error_lines) == 1 and message in error_lines[0]
    assert "Traceback" not in result.output


def test_invalid_json_names_its_line(tmp_path: Path) -> None:
    path = _bad(tmp_path, '{"data": [\n  {"starting_at": "2026-11-01T00:00:00Z",\n  ]}')
    with pytest.raises(BadInput, match=r"on line 3, column 3"):
        read_api_exports([path], "day")
