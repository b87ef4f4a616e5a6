"""`gpucost compare`: cheapest choice on hand-made numbers, work kept apart, projection, formats."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.analysis.compare import COMPARE_COLUMNS
from tests.cli_helpers import invoke
from tests.report_helpers import L4_NVML, TEST_CARD, TEST_CARD_INSTANCES, text_row, write_run

# text_row splits wall time 0.2 prefill : 0.8 × 0.99 decode, so output tokens carry this share.
OUTPUT_SHARE = 0.792 / 0.992


@pytest.fixture()
def card(tmp_path: Path) -> Path:
    path = tmp_path / "testcloud.yaml"
    path.write_text(TEST_CARD, encoding="utf-8")
    return path


@pytest.fixture()
def two_gpus(tmp_path: Path) -> tuple[Path, Path]:
    h100 = write_run(tmp_path, "run-h100", [text_row(8, wall_s=0.1), text_row(1, wall_s=0.05)])
    l4 = write_run(
        tmp_path,
        "run-l4",
        [text_row(8, wall_s=0.5, gpu_name=L4_NVML), text_row(1, wall_s=0.2, gpu_name=L4_NVML)],
        gpu_name=L4_NVML,
    )
    return h100, l4


def _compare(*args: str) -> tuple[int, str, str]:
    result = invoke("compare", *args)
    return result.exit_code, result.stdout, result.stderr


def test_compare_marks_the_cheapest_choice_and_ratios(two_gpus, card) -> None:
    h100, l4 = two_gpus
    code, out, err = _compare(
        str(h100),
        str(l4),
        "--ratecard",
        str(card),
        *TEST_CARD_INSTANCES,
        "--unit",
        "output_token",
        "--format",
        "json",
    )
    assert code == 0, err
    rows = [r for r in json.loads(out) if r["batch_size"] == 8]
    by_choice = {(r["instance"], r["plan"]): r for r in rows}
    tokens = 8 * 32
    # Hand numbers: wall × $/h ÷ 3600 × output share ÷ output tokens per batch.
    expected = {
        ("big-h100", "spot"): 0.1 * 2.0 / 3600 * OUTPUT_SHARE / tokens,
        ("small-l4", "on_demand"): 0.5 * 0.6 / 3600 * OUTPUT_SHARE / tokens,
        ("big-h100", "on_demand"): 0.1 * 4.0 / 3600 * OUTPUT_SHARE / tokens,
    }
    assert set(by_choice) == set(expected)
    for choice, cost in expected.items():
        assert by_choice[choice]["cost_per_unit_usd"] == pytest.approx(cost)
    assert [r["cheapest"] for r in rows] == [True, False, False]
    assert (rows[0]["instance"], rows[0]["plan"]) == ("big-h100", "spot")
    assert by_choice[("small-l4", "on_demand")]["ratio_to_cheapest"] == pytest.approx(1.5)
    assert by_choice[("big-h100", "on_demand")]["ratio_to_cheapest"] == pytest.approx(2.0)
    assert by_choice[("small-l4", "on_demand")]["run_id"] == "run-l4"
    assert by_choice[("big-h100", "spot")]["mfu"] > 0
    assert not any(r["projected"] for r in rows)


def test_table_and_csv_formats(two_gpus, card) -> None:
    h100, l4 = two_gpus
    base = [str(h100), str(l4), "--ratecard", str(card), *TEST_CARD_INSTANCES]
    code, out, err = _compare(*base, "--plan", "on_demand")
    assert code == 0, err
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[0].startswith("text (g1): cheapest ") and "costs" in lines[1]
    code, out, err = _compare(*base, "--plan", "on_demand", "-v")
    assert code == 0, err
    assert "runs: run-h100, run-l4" in out or "runs: run-l4, run-h100" in out
    assert "testcloud:small-l4 on_demand" in out and "★" in out
    assert "spot" not in out.replace("★ cheapest", "")
    code, out, err = _compare(*base, "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert tuple(rows[0]) == (*COMPARE_COLUMNS, "caveats")
    assert {r["unit"] for r in rows} == {"input_token", "output_token", "request"}


def test_runs_that_did_different_work_are_kept_apart(tmp_path, card) -> None:
    a = write_run(tmp_path, "a", [text_row(1, 0.1)])
    b = write_run(tmp_path, "b", [text_row(1, 0.2, gpu_name=L4_NVML)], gpu_name=L4_NVML)
    c = write_run(tmp_path, "c", [text_row(1, 0.1, dtype="fp16", input_len=128)])
    args = [str(a), str(b), str(c), "--ratecard", str(card), *TEST_CARD_INSTANCES, "--format", "json"]
    code, out, err = _compare(*args)
    assert code == 0, err
    assert "kept apart" in err and "dtype fp16 vs bf16" in err and "input_len" in err
    groups = {r["run_id"]: r["group"] for r in json.loads(out)}
    assert groups["a"] == groups["b"] != groups["c"]

    code, _, err = _compare(*args, "--strict")
    assert code != 0 and "Error: --strict: text: run c kept apart" in err


def test_nothing_comparable_is_an_error(tmp_path, card) -> None:
    a = write_run(tmp_path, "a", [text_row(1, 0.1)])
    b = write_run(tmp_path, "b", [text_row(1, 0.1, preset="llama-3.2-1b")])
    code, out, err = _compare(str(a), str(b), "--ratecard", str(card))
    assert code != 0 and out == ""
    assert err.startswith("Error: nothing comparable") and "preset llama-3.2-1b vs tiny" in err
    assert len(err.strip().splitlines()) == 1


def test_no_matching_instance_is_an_error(tmp_path, card) -> None:
    run = write_run(tmp_path, "a", [text_row(1, 0.1, gpu_name=L4_NVML)], gpu_name=L4_NVML)
    code, _, err = _compare(str(run), "--ratecard", str(card), "--instance", "testcloud:big-h100")
    assert code != 0 and "no rate-card instance matches" in err and "L4" in err


def test_projection_is_marked_and_scaled(two_gpus, card) -> None:
    h100, _ = two_gpus
    args = [str(h100), "--ratecard", str(card), *TEST_CARD_INSTANCES, "--unit", "request"]
    code, out, err = _compare(*args, "--project", "L4", "--format", "json")
    assert code == 0, err
    rows = [r for r in json.loads(out) if r["batch_size"] == 8]
    projected = [r for r in rows if r["projected"]]
    assert [r["instance"] for r in projected] == ["small-l4"]
    # Tiny text is memory-bound everywhere: prefill and decode scale by the bandwidth ratio,
    # host time (wall − prefill − decode) stays.
    prefill, decode = 0.02, 0.1 * 0.8 * 0.99
    wall_l4 = (prefill + decode) * 3.35 / 0.300 + (0.1 - prefill - decode)
    assert projected[0]["cost_per_unit_usd"] == pytest.approx(wall_l4 * 0.6 / 3600 / 8)
    code, out, _ = _compare(*args, "--project", "L4", "-v")
    assert "testcloud:small-l4 on_demand (projected)" in out


def test_projection_notes_rows_it_cannot_scale(tmp_path, card) -> None:
    run = write_run(tmp_path, "cpu", [text_row(1, 0.5, gpu_name=None)], gpu_name=None)
    code, _, err = _compare(str(run), "--project", "L4", "--unit", "request")
    assert code == 0
    assert "--project L4: cpu text batch 1: not measured on a GPU" in err


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)


def test_compare_writes_a_report_page(two_gpus, card, tmp_path) -> None:
    h100, l4 = two_gpus
    page = tmp_path / "compare.html"
    code, _, err = _compare(
        str(h100),
        str(l4),
        "--ratecard",
        str(card),
        *TEST_CARD_INSTANCES,
        "--unit",
        "output_token",
        "--project",
        "A100-SXM-80GB",
        "-o",
        str(page),
    )
    assert code == 0, err
    text = page.read_text(encoding="utf-8")
    parser = _Tags()
    parser.feed(text)
    # The cost plot and the cost–interactivity frontier, each with its table (and the runs').
    assert parser.tags.count("img") == 2 and parser.tags.count("table") == 3
    assert "Cost–interactivity frontier · text" in text
    assert "(projected)" in text and "http://" not in text and "https://" not in text


def test_bad_report_suffix_is_refused_before_any_work(two_gpus, tmp_path) -> None:
    h100, _ = two_gpus
    code, _, err = _compare(str(h100), "-o", str(tmp_path / "page.pdf"))
    assert code != 0 and "unknown report format '.pdf'" in err
    assert not (tmp_path / "page.pdf").exists()


def test_unknown_or_absent_units_are_named(two_gpus) -> None:
    h100, _ = two_gpus
    code, _, err = _compare(str(h100), "--unit", "foo")
    assert code != 0 and "--unit 'foo': unknown unit" in err
    code, _, err = _compare(str(h100), "--unit", "image")
    assert code != 0 and "not a unit of these runs' workloads" in err and "output_token" in err


def test_a_run_folder_without_optional_columns_still_compares(two_gpus, card) -> None:
    h100, l4 = two_gpus
    for run in (h100, l4):
        path = run / "measurements.csv"
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        columns = [c for c in rows[0] if c != "settings"]
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    code, out, err = _compare(str(h100), str(l4), "--ratecard", str(card), *TEST_CARD_INSTANCES)
    assert code == 0, err
    assert "cheapest" in out
    code, out, err = _compare(str(h100), str(l4), "--ratecard", str(card), *TEST_CARD_INSTANCES,
                              "-v")  # fmt: skip
    assert "★" in out


def test_a_repeated_instance_is_compared_once(two_gpus, card) -> None:
    h100, l4 = two_gpus
    base = [str(h100), str(l4), "--ratecard", str(card), "--format", "csv", "--plan", "on_demand"]
    once = _compare(*base, *TEST_CARD_INSTANCES)
    twice = _compare(*base, *TEST_CARD_INSTANCES, *TEST_CARD_INSTANCES)
    assert once[0] == twice[0] == 0
    assert twice[1] == once[1]


def test_the_levels_of_one_closed_loop_sweep_are_one_work_and_rates_stay_apart() -> None:
    from harness.analysis.work import work_signature

    def level(**settings: object) -> dict:
        base = {"api": "completions", "requests": 64, **settings}
        return {"workload": "text", "model": "m", "settings": json.dumps(base)}

    assert work_signature(level(concurrency=1)) == work_signature(level(concurrency=32))
    assert work_signature(level(request_rate=4.0)) != work_signature(level(request_rate=8.0))
    assert work_signature(level(concurrency=1)) != work_signature(
        {**level(concurrency=1), "model": "other"}
    )


def test_two_levels_of_one_run_with_one_batch_size_keep_their_own_costs(
    tmp_path: Path, card: Path
) -> None:
    """Two open-loop levels of one run may share a batch size: each cost is tied to the very row
    it prices (the engine's source_row), not to whichever row has that run and batch size."""
    import pandas as pd

    from harness.analysis.row_costs import ROW_POSITION, load_instances, row_unit_costs
    from harness.money.context import PricingContext

    rows = pd.DataFrame(
        [
            text_row(4, wall_s=1.0, gpu_name=L4_NVML) | {"run_id": "r", "request_rate": 2.0},
            text_row(4, wall_s=3.0, gpu_name=L4_NVML) | {"run_id": "r", "request_rate": 8.0},
        ],
        index=[17, 5],  # whatever labels the caller's frame has
    )
    instances = load_instances(["testcloud:small-l4"], [card])
    costs = row_unit_costs(rows, PricingContext(instances, ("on_demand",)))
    output = costs[costs["unit"] == "output_token"].set_index(ROW_POSITION)["cost_per_unit_usd"]
    assert sorted(output.index) == [0, 1]
    assert output[1] == pytest.approx(3 * output[0])
    assert set(costs["run_id"]) == {"r"}
