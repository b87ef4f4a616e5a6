"""Tampered endpoint and imported rows: every results column is checked on read against the type
and range harness/results/schema.py declares, and `price`/`compare` refuse the folder in one line
naming file, line, column and value (never a $0, negative or "met" answer from a broken row)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.results.schema import COLUMNS
from tests.cli_helpers import invoke, one_line_error
from tests.helpers_runs import TEST_CARD, text_row, write_run

SLO = "ttft_p99=0.5"


def endpoint_row(**values: object) -> dict:
    base = dict(engine="endpoint", concurrency=8, window_s=10.0, gpus_used=8,
                ttft_s_p50=0.1, ttft_s_p90=0.2, ttft_s_p99=0.3, error_count=0, error_rate=0.0,
                slo=SLO, slo_met=True, cost_factor_low=0.9, cost_factor_high=1.1)  # fmt: skip
    return text_row(8, 0.5, **{**base, **values})


def _card(tmp_path: Path) -> Path:
    path = tmp_path / "test.yaml"
    path.write_text(TEST_CARD, encoding="utf-8")
    return path


TAMPERED = [
    ("window_s", -1.5, "window_s -1.5 is not a number > 0"),
    ("window_s", 0, "window_s 0 is not a number > 0"),
    ("window_s", "abc", "window_s 'abc' is not a number"),
    ("window_s", "nan", "window_s 'nan' is not a number"),
    ("window_s", "inf", "window_s inf is not a finite number"),
    ("gpus_used", 0, "gpus_used 0 is not a number > 0"),
    ("gpus_used", -2, "gpus_used -2 is not a number > 0"),
    ("gpus_used", "NaN", "gpus_used 'NaN' is not a number"),
    ("ttft_s_p99", -1, "ttft_s_p99 -1 is not a number >= 0"),
    ("ttft_s_p99", "nan", "ttft_s_p99 'nan' is not a number"),
    ("ttft_s_p99", 50, "slo_met true, but the row's own latencies or error rate miss its SLO"),
    ("ttft_s_p50", 0.4, "ttft_s_p50 0.4 is above ttft_s_p90 0.2"),
    ("slo_met", "maybe", "slo_met 'maybe' is not true, false or empty"),
    ("slo_met", 2, "slo_met '2' is not true, false or empty"),
    ("error_rate", 1.5, "error_rate 1.5 is not a number in [0, 1]"),
    ("error_rate", -0.1, "error_rate -0.1 is not a number in [0, 1]"),
    ("error_rate", 0.5, "slo_met true, but the row's own latencies or error rate miss its SLO"),
    ("cost_factor_low", 4.0, "cost_factor_low 4 is above cost_factor_high 1.1"),
    ("cost_factor_low", 0, "cost_factor_low 0 is not a number > 0"),
    ("concurrency", 1.5, "concurrency 1.5 is not a whole number >= 1"),
    ("concurrency", 0, "concurrency 0 is not a whole number >= 1"),
    ("error_count", -3, "error_count -3 is not a whole number >= 0"),
    ("error_count", 2.5, "error_count 2.5 is not a whole number >= 0"),
    ("request_rate", 0, "request_rate 0 is not a number > 0"),
    ("requests_per_s", -4, "requests_per_s -4 is not a number >= 0"),
    ("gpu_util_mean", 150, "gpu_util_mean 150 is not a number in [0, 100]"),
    ("slo", "foo=1", "line 2: slo:"),
    ("output_len_honoured", "yes", "output_len_honoured 'yes' is not true, false or empty"),
]


@pytest.mark.parametrize(("column", "value", "needle"), TAMPERED)
def test_price_refuses_a_tampered_column_in_one_line(
    tmp_path: Path, column: str, value: object, needle: str
) -> None:
    run = write_run(tmp_path / "runs", [endpoint_row(**{column: value})])
    line = one_line_error(invoke("price", run, "--ratecard", _card(tmp_path)), needle)
    assert "measurements.csv: line 2" in line


@pytest.mark.parametrize(("column", "value"), [("window_s", 0), ("ttft_s_p99", 50)])
def test_compare_slo_refuses_a_tampered_row(tmp_path: Path, column: str, value: object) -> None:
    good = write_run(tmp_path / "good", [endpoint_row(ttft_s_p99=0.4)])
    bad = write_run(tmp_path / "bad", [endpoint_row(**{column: value})])
    result = invoke("compare", good, bad, "--slo", SLO, "--ratecard", _card(tmp_path))
    one_line_error(result, column if column == "window_s" else "slo_met true")


def test_every_declared_number_column_is_range_checked(tmp_path: Path) -> None:
    """A negative value in any declared number column whose range starts at 0 is refused."""
    skip = {"batch_size", "wall_s_p50", "wall_s_mean", "prefill_s_p50", "decode_s_p50"}
    checked = [c for c in COLUMNS if c.kind in ("int", "float") and c.low == 0.0
               and c.name not in skip]  # fmt: skip
    assert len(checked) > 40
    for column in checked:
        tampered = {**endpoint_row(), column.name: -7}
        run = write_run(tmp_path / column.name, [tampered])
        one_line_error(
            invoke("price", run, "--ratecard", _card(tmp_path)), f"line 2: {column.name} -7 is not"
        )


def test_a_sound_row_still_prices(tmp_path: Path) -> None:
    run = write_run(tmp_path / "runs", [endpoint_row()])
    result = invoke("price", run, "--ratecard", _card(tmp_path), "--instance", "test:eight")
    assert result.exit_code == 0, result.output
    assert "$" in result.output


def test_more_gpus_than_the_instance_has_is_a_note_not_a_silent_drop(tmp_path: Path) -> None:
    run = write_run(tmp_path / "runs", [endpoint_row(gpus_used=9), endpoint_row(concurrency=4)])
    result = invoke("price", run, "--ratecard", _card(tmp_path), "--instance", "test:eight")
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "not priced" in flat and "concurrency 8" in flat and "9 GPUs" in flat, result.output
    assert "test:eight, 8 GPUs" in flat, result.output


def test_compare_notes_a_level_on_more_gpus_than_the_instance_has(tmp_path: Path) -> None:
    run = write_run(tmp_path / "runs", [endpoint_row(gpus_used=9), endpoint_row(concurrency=4)])
    result = invoke("compare", run, "--ratecard", _card(tmp_path), "--instance", "test:eight")
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "not priced" in flat and "9 GPUs" in flat, result.output
