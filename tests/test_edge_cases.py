"""Edge cases of the sweep, the results store, roofline, pricing and reconcile, each with a hand-computed answer."""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from harness.cli import main
from harness.measure.execute import execute_run
from harness.measure.plan import RunConfig, WorkloadPlan
from harness.meters import EnergyMonitor, NullMeter, NvmlMeter
from harness.money.context import PricingContext
from harness.results.store import RunStore
from tests.fakes import FakeNvml
from tests.plugin_src.gpucost_testplugin import NoopWorkload
from tests.workload_helpers import RecordingStopwatch, build, run_iteration
from workloads.base import Stopwatch, WorkloadContext, WorkloadSettings


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


# -- runner: warmup, min duration, max iterations, percentiles, load failures -------------------


@dataclass(frozen=True)
class CountSettings(WorkloadSettings):
    sleep_s: float = 0.0
    load_error: str = ""


class Counting(NoopWorkload):
    """The test plugin's no-op workload, counting its iterations and failing to load on ask."""

    name: ClassVar[str] = "counting"
    settings_type = CountSettings

    def load(self) -> None:
        if self.settings.load_error == "oom":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 80 GiB")
        if self.settings.load_error == "error":
            raise ValueError("broken checkpoint")
        self.calls = 0

    def prepare(self, batch_size: int) -> None:
        self.calls = 0

    def run_once(self, stopwatch: Stopwatch) -> None:
        self.calls += 1
        if self.settings.sleep_s:
            time.sleep(self.settings.sleep_s)

    def row_extras(self, batch_size: int) -> dict[str, Any]:
        return {"run_once_calls": self.calls}


def counting_run(tmp_path: Path, batch_sizes=(1,), **config: Any) -> list[dict[str, str]]:
    settings = CountSettings(
        sleep_s=config.pop("sleep_s", 0.0), load_error=config.pop("load_error", "")
    )
    plan = WorkloadPlan(
        "counting",
        Counting,
        settings,
        WorkloadContext(preset="tiny", device="cpu", dtype="fp32"),
        tuple(batch_sizes),
    )
    cfg = RunConfig(
        workloads=(plan,),
        device="cpu",
        dtype="fp32",
        sample_interval_s=None,
        idle_power_s=0,
        count_flops=False,
        **config,
    )
    run = execute_run(cfg, tmp_path, meter=NullMeter()).path
    with open(run / "measurements.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_warmup_iterations_run_but_are_not_timed(tmp_path: Path) -> None:
    (row,) = counting_run(tmp_path, warmup=2, iterations=3, min_duration_s=0)
    assert (row["iterations"], row["run_once_calls"]) == ("3", "5")


def test_timing_goes_on_until_the_minimum_duration(tmp_path: Path) -> None:
    (row,) = counting_run(tmp_path, sleep_s=0.02, warmup=0, iterations=2, min_duration_s=0.3)
    # 2 iterations of 20 ms are 0.04 s: timing must go on until 0.3 s have passed.
    assert float(row["timed_s"]) >= 0.3 and int(row["iterations"]) > 2


def test_max_iterations_caps_a_long_minimum_duration(tmp_path: Path) -> None:
    started = time.perf_counter()
    (row,) = counting_run(tmp_path, warmup=0, iterations=1, min_duration_s=60, max_iterations=4)
    assert row["iterations"] == "4" and time.perf_counter() - started < 10


def test_percentiles_summarise_the_recorded_iterations(tmp_path: Path) -> None:
    counting_run(tmp_path, sleep_s=0.001, warmup=0, iterations=7, min_duration_s=0)
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    row = read_csv(run / "measurements.csv")[0]
    walls = [float(r["wall_s"]) for r in read_csv(run / "iterations.csv")]
    assert len(walls) == 7
    for column, q in (("wall_s_p50", 50), ("wall_s_p90", 90), ("wall_s_p99", 99)):
        assert float(row[column]) == pytest.approx(float(np.percentile(walls, q)), rel=1e-9)
    assert float(row["wall_s_mean"]) == pytest.approx(sum(walls) / 7, rel=1e-9)


def test_out_of_memory_while_loading_writes_one_row(tmp_path: Path) -> None:
    rows = counting_run(tmp_path / "oom", batch_sizes=(1, 2, 4), load_error="oom", iterations=1)
    assert [(r["batch_size"], r["status"]) for r in rows] == [("1", "oom")]
    assert rows[0]["error"].startswith("loading the model: OutOfMemoryError")
    rows = counting_run(tmp_path / "err", batch_sizes=(1, 2, 4), load_error="error", iterations=1)
    assert [(r["batch_size"], r["status"]) for r in rows] == [
        ("1", "error"),
        ("2", "error"),
        ("4", "error"),
    ]
    assert rows[0]["error"] == "loading the model: ValueError: broken checkpoint"


# -- store ----------------------------------------------------------------------------------------


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("cannot format")


def test_a_failed_rewrite_keeps_the_rows_already_on_disk(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path)
    store.add_measurement({"workload": "w", "batch_size": 1, "status": "ok"}, [])
    before = (store.path / "measurements.csv").read_bytes()
    with pytest.raises(RuntimeError):
        store.add_measurement({"workload": "w", "batch_size": 2, "note": Unprintable()}, [])
    assert (store.path / "measurements.csv").read_bytes() == before
    assert [p.name for p in store.path.iterdir() if p.name.startswith(".")] == []


# -- workloads ------------------------------------------------------------------------------------


def test_text_marks_first_token_once_and_every_token_after() -> None:
    workload = build("text", options={"input_len": 8, "output_len": 4})
    stopwatch = run_iteration(workload, 2)
    assert stopwatch.order == ["start", "first_token", *["last_token"] * 4, "end"]


def test_text_records_the_tiny_architecture_the_roofline_uses() -> None:
    from tests.report_helpers import TINY_TEXT_ARCH

    assert build("text").describe()["architecture"] == TINY_TEXT_ARCH


def test_tied_text_presets_say_so() -> None:
    from workloads.text import TextWorkload

    settings = TextWorkload.settings_for("qwen2.5-0.5b", {})
    workload = TextWorkload(
        settings, WorkloadContext(preset="qwen2.5-0.5b", device="meta", dtype="bf16")
    )
    workload.load()
    arch = workload.architecture()
    assert arch["tie_word_embeddings"] is True
    assert arch["num_kv_heads"] == 2 and arch["num_attention_heads"] == 14
    assert arch["params"] == 494_032_768  # Qwen2.5-0.5B's published count


def test_retrieval_searches_after_the_embedded_mark() -> None:
    workload = build("retrieval", options={"corpus_size": 100, "top_k": 3})
    seen: dict[str, Any] = {}

    class Probe(RecordingStopwatch):
        def mark(self, name: str) -> None:
            super().mark(name)
            seen[name] = workload.last_result

    workload.prepare(2)
    probe = Probe()
    probe.mark("start")
    workload.run_once(probe)
    probe.mark("end")
    assert seen["embedded"] is None and seen["end"] is not None


# -- roofline -------------------------------------------------------------------------------------


def test_tied_embeddings_count_the_output_projection_once() -> None:
    from harness.analysis.roofline import DecoderShape, text_work
    from tests.report_helpers import TINY_TEXT_ARCH

    # Tied: the same body with one V·d matrix fewer (205,120 − 1024·64 = 139,584 parameters).
    tied = DecoderShape.from_architecture(
        {**TINY_TEXT_ARCH, "params": 139_584, "tie_word_embeddings": True}
    )
    prefill, decode = text_work(tied, batch_size=2, input_len=64, output_len=32, dtype_bytes=2)
    assert (prefill.flops, prefill.min_bytes) == (21_348_352, 311_936)
    assert (decode.flops, decode.min_bytes) == (19_847_936, 9_923_968)


def test_calibration_of_another_gpu_is_not_used(tmp_path: Path) -> None:
    from harness.analysis.roofline import efficiency
    from harness.results.runs import load_run
    from tests.report_helpers import text_row, write_run

    calibration = {
        "gpu_key": "A100-SXM-80GB",
        "matmul_tflops": 250.0,
        "matmul_dtype": "bf16",
        "copy_bytes_per_s": 1.8e12,
    }
    run = load_run(write_run(tmp_path, "r", [text_row(2, 0.1)], calibration=calibration))
    row = efficiency(run.measurements, run.meta).iloc[0]
    assert row["ceiling_source"] == "datasheet"
    assert row["peak_flops_per_s"] == pytest.approx(989e12)
    assert row["peak_bytes_per_s"] == pytest.approx(3.35e12)


# -- energy ---------------------------------------------------------------------------------------


def test_a_counter_that_restarts_mid_window_is_not_measured() -> None:
    fake = FakeNvml(power_w=200.0)
    monitor = EnergyMonitor(NvmlMeter(0, nvml_module=fake).open(), None)
    monitor.begin_window("w")
    fake.devices[0].energy_mj = 0.0  # the driver was reloaded: the counter starts again at 0
    time.sleep(0.12)
    window = monitor.end_window("w")
    assert window.energy_j is None and window.energy_method is None


# -- cost -----------------------------------------------------------------------------------------


def test_a_zero_unit_count_gives_an_empty_cost_not_infinity(tmp_path: Path) -> None:
    from harness.money import unit_costs
    from harness.results.runs import load_run, measurements_frame
    from tests.helpers_runs import card_instances, row, write_run

    frame = measurements_frame(
        [load_run(write_run(tmp_path / "r", [row("image", 8, 2.0, images=0, requests=8)]))]
    )
    costs = unit_costs(frame, PricingContext(card_instances(tmp_path / "c"), plans=["on_demand"]))
    image = costs[(costs["unit"] == "image") & (costs["instance"] == "one")]
    assert image["cost_per_unit_usd"].isna().all()
    assert len(image) == 1


# -- reconcile ------------------------------------------------------------------------------------


def _reconcile(
    tmp_path: Path, scenario: str | None = None, bill_usd: float | None = None
) -> pd.DataFrame:
    from tests.test_reconcile_cli import CUR, base_args, floor_args, write_inputs

    files = write_inputs(tmp_path)
    if bill_usd is not None:
        with open(files["bill"], "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(CUR)
            writer.writerow(
                ["2026-11-01T00:00:00Z", str(bill_usd), "1", "gx.test", "i-1", "USD", "Demo"]
            )
    args = [*base_args(files), *floor_args(files), "--format", "csv"]
    if scenario is not None:
        files["scenario"].write_text(scenario, encoding="utf-8")
        args += ["--scenario", str(files["scenario"])]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout))
    table.attrs["stderr"] = result.stderr
    return table[table["period_start"] == "2026-11-01T00:00:00+00:00"].set_index(["unit", "split"])


def test_a_bill_below_the_floor_has_no_negative_idle_cost(tmp_path: Path) -> None:
    day1 = _reconcile(tmp_path, bill_usd=0.25)
    request = day1.loc[("request", "whole")]
    # $0.25 / 1000 = $0.00025 per request against a $0.0005 floor: implied utilisation 2.
    assert request["implied_utilization"] == pytest.approx(2.0)
    assert request["idle_cost_usd"] == 0.0


def test_reconcile_margin_per_unit_revenue(tmp_path: Path) -> None:
    scenario = (
        "name: d\nworkload: text\ndirect_costs_per_call: {third_party_api_usd: 0.001}\n"
        "revenue: {model: per_unit, prices: {input_token: 10.00/1M, output_token: 300.00/1M}}\n"
    )
    request = _reconcile(tmp_path, scenario).loc[("request", "whole")]
    # 100,000 input × $10/1M + 50,000 output × $300/1M = $1 + $15 = $16; cost $12 + $1 direct.
    assert request["revenue_usd"] == pytest.approx(16.0)
    assert request["gross_margin"] == pytest.approx(3.0 / 16.0)


def test_reconcile_margin_bundle_revenue(tmp_path: Path) -> None:
    scenario = (
        "name: d\nworkload: text\ndirect_costs_per_call: {third_party_api_usd: 0.001}\n"
        "revenue: {model: bundle, package_price_usd: 20, included_units: 1000,"
        " expected_use_share: 0.5}\n"
    )
    request = _reconcile(tmp_path, scenario).loc[("request", "whole")]
    # $20 ÷ (1000 × 0.5) = $0.04 per call × 1000 calls = $40; (40 − 13) / 40 = 0.675.
    assert request["revenue_usd"] == pytest.approx(40.0)
    assert request["gross_margin"] == pytest.approx(0.675)
