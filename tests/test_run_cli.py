"""`gpucost run` end to end on the CPU with the tiny text preset: the results contract."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.results.schema import EXTRA_MEASUREMENT_COLUMNS, MEASUREMENT_COLUMNS

FAST = ["--iterations", "3", "--warmup", "1", "--min-duration", "0", "--idle-seconds", "0"]


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def only_run(out: Path) -> Path:
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


@pytest.fixture(scope="module")
def text_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("results")
    args = ["run", "--workload", "text", "--preset", "tiny", "--batch-sizes", "1,2"]
    args += ["--input-len", "16", "--output-len", "8", "--out", str(out), "--no-price", *FAST]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "Run folder:" in result.output
    return only_run(out)


def test_run_folder_holds_the_four_files(text_run: Path) -> None:
    assert sorted(p.name for p in text_run.iterdir()) == [
        "iterations.csv",
        "measurements.csv",
        "run.json",
        "samples.csv",
    ]


def test_measurements_follow_the_contract(text_run: Path) -> None:
    with open(text_run / "measurements.csv", newline="") as fh:
        header = next(csv.reader(fh))
    core = len(MEASUREMENT_COLUMNS)
    assert tuple(header[:core]) == MEASUREMENT_COLUMNS
    assert tuple(header[core : core + len(EXTRA_MEASUREMENT_COLUMNS)]) == EXTRA_MEASUREMENT_COLUMNS
    rows = read_rows(text_run / "measurements.csv")
    assert [(r["batch_size"], r["status"]) for r in rows] == [("1", "ok"), ("2", "ok")]
    for row in rows:
        bs = int(row["batch_size"])
        assert row["run_id"] == text_run.name
        assert (row["workload"], row["preset"], row["device"], row["dtype"]) == (
            "text",
            "tiny",
            "cpu",
            "fp32",
        )
        assert int(row["input_tokens"]) == 16 * bs
        assert int(row["output_tokens"]) == 8 * bs
        assert int(row["requests"]) == bs
        assert int(row["iterations"]) == 3
        assert json.loads(row["settings"]) == {"input_len": 16, "output_len": 8}
        assert float(row["wall_s_p50"]) > 0
        assert float(row["wall_s_p90"]) <= float(row["wall_s_p99"]) + 1e-12


def test_unmeasured_quantities_are_empty_not_zero_on_cpu(text_run: Path) -> None:
    for row in read_rows(text_run / "measurements.csv"):
        for column in (
            "gpu_name", "gpu_s_p50", "energy_j", "avg_power_w", "idle_power_w",
            "peak_mem_allocated_bytes", "peak_mem_reserved_bytes", "gpu_util_mean", "throttled",
            "energy_method", "images", "audio_s", "characters", "sequences", "queries",
        ):  # fmt: skip
            assert row[column] == "", (column, row[column])


def test_prefill_and_decode_add_up_to_wall_time(text_run: Path) -> None:
    for row in read_rows(text_run / "measurements.csv"):
        prefill, decode = float(row["prefill_s_p50"]), float(row["decode_s_p50"])
        assert prefill > 0 and decode > 0
        assert float(row["ttft_s_p50"]) == prefill
        assert float(row["tpot_s_p50"]) == pytest.approx(decode / 7)
    # Phases are marked inside the same generate call, so per iteration they cover its wall time.
    for it in read_rows(text_run / "iterations.csv"):
        wall, phases = float(it["wall_s"]), float(it["prefill_s"]) + float(it["decode_s"])
        assert phases <= wall
        assert wall - phases <= 0.25 * wall + 0.005


def test_iterations_csv_has_one_row_per_timed_iteration(text_run: Path) -> None:
    rows = read_rows(text_run / "iterations.csv")
    assert len(rows) == 6
    assert {row["batch_size"] for row in rows} == {"1", "2"}
    assert all(row["gpu_s"] == "" for row in rows)


def test_run_json_records_machine_config_and_model(text_run: Path) -> None:
    meta = json.loads((text_run / "run.json").read_text())
    assert meta["run_id"] == text_run.name
    assert meta["status"] == "complete"
    assert meta["finished_at"] is not None
    assert meta["device"]["type"] == "cpu" and meta["device"]["gpu_name"] is None
    assert meta["config"]["workloads"][0]["settings"] == {"input_len": 16, "output_len": 8}
    arch = meta["workloads"]["text"]["architecture"]
    assert arch["num_layers"] == 2 and arch["hidden_size"] == 64 and arch["params"] > 0
    assert meta["libraries"]["torch"]
    assert read_rows(text_run / "samples.csv") == []


def test_local_checkpoint_folder_gives_the_same_units(tmp_path: Path) -> None:
    from transformers import AutoConfig, AutoModelForCausalLM

    from workloads.text import PRESETS

    spec = dict(PRESETS["tiny"])
    config = AutoConfig.for_model(spec.pop("model_type"), **spec)
    AutoModelForCausalLM.from_config(config).save_pretrained(tmp_path / "model")
    save_word_tokenizer(tmp_path / "model")
    out = tmp_path / "out"
    args = ["run", "-w", "text", "--model", str(tmp_path / "model"), "-b", "2"]
    args += ["--input-len", "8", "--output-len", "4", "--out", str(out), "--no-price", *FAST]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (row,) = read_rows(only_run(out) / "measurements.csv")
    assert (row["status"], row["model"], row["preset"]) == ("ok", str(tmp_path / "model"), "local")
    assert (row["input_tokens"], row["output_tokens"], row["requests"]) == ("16", "8", "2")
    meta = json.loads((only_run(out) / "run.json").read_text())
    assert meta["workloads"]["text"]["tokenizer"] is True


def save_word_tokenizer(folder: Path) -> None:
    """A real (tiny) tokenizer built offline: one id per word of the prompt text."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["[UNK]", "The", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "."]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]").save_pretrained(folder)
