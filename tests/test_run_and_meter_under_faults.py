"""`gpucost run` and the request meter against hostile input and faults: options checked before
anything is created, a readable summary at 80 columns, a failed run that says so, memory checked
before a model is built, noisy rows flagged, full disks, SIGTERM/SIGHUP."""

from __future__ import annotations

import csv
import json
import logging
import signal
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import BadInput
from tests.cli_helpers import invoke
from tests.helpers_runs import start_sleepy_run

FAST = ["--iterations", "2", "--warmup", "0", "--min-duration", "0", "--idle-seconds", "0"]


def invoke_run(args: list[str]):
    return invoke("run", *args, "--no-price")


def rows_of(run: Path) -> list[dict[str, str]]:
    with open(run / "measurements.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def only_run(out: Path) -> Path:
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


# -- every option is checked before anything is created ---------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--min-duration", "inf"], "--min-duration must be a finite number (got inf)"),
        (["--min-duration", "nan"], "--min-duration must be a finite number (got nan)"),
        (["--sample-interval", "nan"], "--sample-interval must be a finite number"),
        (["--sample-interval", "0.000001"], "--sample-interval must be >= 0.01"),
        (["--idle-seconds", "-1"], "--idle-seconds must be >= 0 (got -1.0)"),
        (["--idle-seconds", "inf"], "--idle-seconds must be a finite number"),
        (["--warmup", "-1"], "--warmup must be >= 0"),
        (["--max-iterations", "0"], "--max-iterations must be >= 1"),
        (["--iterations", "50", "--max-iterations", "10"], "more than --max-iterations 10"),
        (["--seed", "-1"], "--seed must be >= 0"),
        (["--seed", str(2**40)], "--seed must be <= 4294967295"),
        (["-b", "99999999"], "batch sizes must be <= 1048576"),
        (["--device", "cpu:1"], "--device cpu:1: the CPU has no device index"),
        (["--threads", "0"], "--threads must be >= 1"),
        (["--threads", "100000"], "--threads 100000: this process may use"),
        (["-p", ""], "--preset is empty"),
    ],
)
def test_bad_options_are_refused_before_anything_exists(
    tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "out"
    base = ["-w", "text", "--iterations", "2", "--idle-seconds", "0", "--out", str(out)]
    result = invoke_run([*base, *args])
    assert result.exit_code == 2, result.output
    assert message in result.output, result.output
    assert [line for line in result.output.splitlines() if line.startswith("Error:")] == [
        result.output.strip().splitlines()[-1]
    ]
    assert "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-w", ","], "--workload: no workload name given"),
        (["-w", "asr", "--audio-seconds", "nan"], "--audio-seconds must be a finite number"),
        (["-w", "asr", "-o", "audio_seconds=inf"], "--audio-seconds must be a finite number"),
    ],
)
def test_empty_workload_lists_and_non_finite_settings_are_refused(
    tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "out"
    result = invoke_run([*args, *FAST, "--out", str(out)])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not out.exists()


def test_run_config_checks_library_callers_too() -> None:
    from harness.measure.plan import RunConfig, plan_workloads

    plans = plan_workloads(
        ["text"], device="cpu", dtype="fp32", preset="tiny", model_path=None,
        batch_sizes=(1,), options={}, seed=0, engine="eager",
    )  # fmt: skip
    with pytest.raises(BadInput, match="--min-duration must be a finite number"):
        RunConfig(workloads=plans, device="cpu", dtype="fp32", min_duration_s=float("inf"))
    with pytest.raises(BadInput, match="--batch-sizes must be >= 1"):
        plan_workloads(
            ["text"], device="cpu", dtype="fp32", preset="tiny", model_path=None,
            batch_sizes=(0,), options={}, seed=0, engine="eager",
        )  # fmt: skip


# -- the summary at 80 columns ------------------------------------------------------------------


def test_whole_numbers_never_use_scientific_notation() -> None:
    from harness.cli.run_output import whole

    assert whole(0.000012345) == "0.000012"  # six decimals at most
    assert whole(0.0123) == "0.0123"
    assert whole(35.678) == "35.7"
    assert whole(123456.7) == "123,457"
    assert whole(None) == "—" and whole(float("nan")) == "—" and whole(0.0) == "0"


def test_summary_fits_80_columns_with_every_number_whole(test_plugin: Path, tmp_path: Path) -> None:
    from rich.console import Console

    from harness.cli.run_output import summary_table

    result = invoke_run(["-w", "noop", "-b", "1,2", *FAST, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines if "Run folder" not in line) <= 80
    table = [line for line in lines if line.startswith(" noop")]
    assert len(table) == 2 and not any("…" in line for line in table)
    rows = rows_of(only_run(tmp_path))
    # p50 ms in the table is the file's wall_s_p50 × 1000, rounded, not cut.
    p50 = float(table[0].split()[-3].replace(",", ""))
    assert p50 == pytest.approx(float(rows[0]["wall_s_p50"]) * 1000, rel=0.01)
    assert "2 rows: 2 ok" in result.output
    # Wide rows a real run makes: long names, big and tiny numbers, an unstable row.
    wide = [
        {"workload": "retrieval", "preset": "llama-3.1-8b", "batch_size": 1024,
         "status": "ok", "unstable": True, "audio_s": 9.9e3, "wall_s_p50": 0.1,
         "wall_s_p99": 123.4, "wall_s_cv": 2.38},
        {"workload": "embedding", "preset": "tiny", "batch_size": 1, "status": "ok",
         "output_tokens": 3, "wall_s_p50": 9876.54, "wall_s_p99": 0.0000042, "wall_s_cv": 0.01},
    ]  # fmt: skip
    console = Console(width=80, record=True)
    console.print(summary_table(wide))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "e+" not in text and "e-0" not in text, text
    # Names may give way (an ellipsis) to the numbers, which are all whole.
    assert "99,000 audio s/s" in text and "unstable" in text and "retriev" in text
    assert "123,400" in text and "9,876,540" in text and "0.00420" in text and "238" in text


# -- a run where nothing was measured ok fails; a model too big is refused -------------------


def test_a_run_with_no_ok_row_exits_non_zero(test_plugin: Path, tmp_path: Path) -> None:
    result = invoke_run(["-w", "flaky", "-b", "1", "-o", "fail_at=1", *FAST, "--out", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "Error: no row was measured ok" in result.output
    assert "flaky batch 1: error: ValueError: bad shape at batch 1" in result.output
    meta = json.loads((only_run(tmp_path) / "run.json").read_text())
    assert meta["status"] == "complete" and meta["rows"] == {"error": 1}


def test_memory_is_checked_from_the_preset_built_on_the_meta_device() -> None:
    from harness.measure.memory_check import check_memory, weight_bytes
    from harness.measure.plan import plan_workloads

    (plan,) = plan_workloads(
        ["text"], device="cpu", dtype="fp32", preset="llama-3.1-8b", model_path=None,
        batch_sizes=(1,), options={}, seed=0, engine="eager",
    )  # fmt: skip
    need, how = weight_bytes(plan)
    assert need == pytest.approx(8.03e9 * 4, rel=0.01) and "8.03 B parameters × 4 bytes" in how
    with pytest.raises(BadInput, match=r"text \(llama-3.1-8b\) needs 29.9 GiB .* 16.0 GiB free"):
        check_memory([plan], "cpu", free_bytes=lambda device: 16 * 2**30)
    check_memory([plan], "cpu", free_bytes=lambda device: 64 * 2**30)  # fits: no error


def test_a_model_folder_too_big_for_memory_is_one_line(tmp_path: Path) -> None:
    from transformers import AutoConfig

    from workloads.text import PRESETS

    spec = dict(PRESETS["tiny"])
    folder = tmp_path / "model"
    AutoConfig.for_model(spec.pop("model_type"), **spec).save_pretrained(folder)
    # A safetensors header naming 10^12 fp32 parameters (4 TB): read, never loaded.
    header = json.dumps({"w": {"dtype": "F32", "shape": [10**6, 10**6], "data_offsets": [0, 0]}})
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header.encode())
    out = tmp_path / "out"
    result = invoke_run(["-w", "text", "--model", str(folder), "-b", "1", *FAST, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "needs 3725.3 GiB for its weights alone (1000.00 B parameters × 4 bytes)" in (
        result.output
    )
    assert not out.exists()


# -- noisy rows are flagged; threads are set and recorded --------------------------------------


def test_rows_above_the_cv_threshold_are_unstable_and_threads_are_recorded(
    test_plugin: Path, tmp_path: Path
) -> None:
    import torch

    from harness.measure.execute import execute_run
    from harness.measure.plan import UNSTABLE_CV, RunConfig, plan_workloads

    before = torch.get_num_threads()
    result = invoke_run(["-w", "sleepy", "-b", "1,2", *FAST, "--threads", "1", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    run = only_run(tmp_path)
    for row in rows_of(run):
        noisy = max(float(row["wall_s_cv"]), float(row["cost_cv"])) > UNSTABLE_CV
        assert row["unstable"] == str(noisy), row
    assert json.loads((run / "run.json").read_text())["config"]["threads"] == 1
    assert torch.get_num_threads() == before  # the caller's setting is given back
    plans = plan_workloads(
        ["sleepy"], device="cpu", dtype="fp32", preset=None, model_path=None,
        batch_sizes=(1,), options={"sleep_s": "0.001"}, seed=0, engine="eager",
    )  # fmt: skip
    config = RunConfig(
        workloads=plans, device="cpu", dtype="fp32", warmup=0, iterations=3, min_duration_s=0,
        idle_power_s=0, unstable_cv=0.0,
    )  # fmt: skip
    store = execute_run(config, tmp_path / "lib")
    assert [row["unstable"] for row in store.measurements] == [True]  # any noise is > 0


# -- a full disk during a run ------------------------------------------------------------------

LIMITED_RUN = """\
import resource, sys
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.RLIM_INFINITY))
from harness.cli import main
sys.argv = ["gpucost", *sys.argv[1:]]
main()
"""


def test_a_full_disk_stops_the_run_with_one_line_and_keeps_whole_files(
    test_plugin: Path, tmp_path: Path
) -> None:
    # RLIMIT_FSIZE: the kernel refuses writes past the limit, as a full disk would.
    out = tmp_path / "out"
    script = LIMITED_RUN.format(limit=12_000)
    sizes = ",".join(str(n) for n in range(1, 201))
    cmd = [sys.executable, "-c", script, "run", "-w", "noop", "-b", sizes, *FAST]
    cmd += ["--out", str(out), "--no-price"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    (line,) = [t for t in proc.stderr.splitlines() if t.startswith("Error:")]
    assert "measurements.csv (File too large); the run stopped:" in line
    run = only_run(out)
    kept = rows_of(run)
    assert 0 < len(kept) < 200
    assert f"{len(kept)} rows kept in {run / 'measurements.csv'}" in line
    assert all(row["status"] == "ok" for row in kept)
    meta = json.loads((run / "run.json").read_text())
    assert meta["status"] == "failed" and meta["rows"] == {"ok": len(kept)}
    assert not [p for p in run.iterdir() if p.name.startswith(".")]  # no temp files left


# -- SIGTERM and SIGHUP are taken like Ctrl-C --------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_stop_signals_mark_the_run_interrupted(
    test_plugin: Path, tmp_path: Path, signum: int
) -> None:
    out = tmp_path / "out"
    proc = start_sleepy_run(out, "1,2,3")
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr
    name = signal.Signals(signum).name
    run = only_run(out)
    assert f"Stopped by {name}: 1 row kept in {run / 'measurements.csv'}" in stderr
    meta = json.loads((run / "run.json").read_text())
    assert (meta["status"], meta["stopped_by"], meta["rows"]) == ("interrupted", name, {"ok": 1})
    assert [r["batch_size"] for r in rows_of(run)] == ["1"]


# -- the request meter on a full disk, a rotated log, a broken sink ----------------------------

LIMITED_METER = """\
import json, resource, sys
from harness.metering import RequestMeter, open_request_log
path = sys.argv[1]
resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, resource.RLIM_INFINITY))
sink = open_request_log(path, flush_every=100, flush_interval_s=3600)
sink._retry_interval_s = 0
meter = RequestMeter(sink, workload="text")
for i in range(2000):
    with meter.request() as r:  # must never raise: the inference succeeded
        r.units(input_tokens=i, output_tokens=1)
full = (sink.write_failures, sink.pending)
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
meter.close()
print(json.dumps({"failures": full[0], "pending": full[1], "dropped": sink.dropped_lines}))
"""


def test_meter_on_a_full_disk_keeps_its_lines_and_never_raises(tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    proc = subprocess.run(
        [sys.executable, "-c", LIMITED_METER, str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    counts = json.loads(proc.stdout)
    assert counts["failures"] > 0 and counts["pending"] > 1000 and counts["dropped"] == 0
    assert "cannot write (File too large)" in proc.stderr  # warned, once
    lines = path.read_text().splitlines()
    # Every line whole (the one the limit cut was finished on the retry) and none lost.
    assert sorted(json.loads(t)["input_tokens"] for t in lines) == list(range(2000))


def test_meter_reopens_a_rotated_log(tmp_path: Path) -> None:
    from harness.metering import RequestMeter, open_request_log

    path = tmp_path / "requests.jsonl"
    meter = RequestMeter(open_request_log(path, flush_every=1), workload="text")
    with meter.request() as r:
        r.units(input_tokens=1)
    path.rename(tmp_path / "requests.jsonl.1")  # what logrotate does
    with meter.request() as r:
        r.units(input_tokens=2)
    meter.close()
    assert [json.loads(t)["input_tokens"] for t in path.read_text().splitlines()] == [2]
    old = (tmp_path / "requests.jsonl.1").read_text().splitlines()
    assert [json.loads(t)["input_tokens"] for t in old] == [1]


def test_meter_buffer_is_bounded_and_drops_are_counted(tmp_path: Path) -> None:
    from harness.metering.request_log import JsonlSink

    class FullDisk:
        """A file on a full disk: every write fails with ENOSPC."""

        def write(self, data: bytes) -> int:
            raise OSError(28, "No space left on device")

        def fileno(self) -> int:
            raise OSError(9, "not a real file")

        def close(self) -> None:
            pass

    sink = JsonlSink(FullDisk(), flush_every=2, max_pending=10, retry_interval_s=0)
    from harness.metering import RequestMeter

    meter = RequestMeter(sink, workload="text")
    for _ in range(25):
        with meter.request():
            pass
    assert sink.pending == 10 and sink.dropped_lines == 15 and sink.write_failures > 0
    meter.close()
    assert sink.dropped_lines == 25 and meter.failures == 0


def test_a_broken_sink_or_meter_never_raises_into_the_request(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from harness.metering import RequestMeter, open_request_log

    class BrokenEnergy:
        def energy_mj(self) -> float:
            raise RuntimeError("driver went away")

    sink = open_request_log(tmp_path / "r.jsonl")
    meter = RequestMeter(sink, workload="text", energy=BrokenEnergy())
    sink.close()  # serving code that closed the log too early
    with caplog.at_level(logging.WARNING, logger="gpucost.metering"):
        with meter.request() as r:
            r.units(output_tokens=1)
        with meter.request():
            pass
    assert meter.failures == 4  # per request: the energy read and the closed-log write
    assert "request metering failed" in caplog.text
    assert caplog.text.count("request metering failed") == 1  # warned once, not per request


def test_run_writes_run_json_first(tmp_path: Path) -> None:
    from harness.results.store import RunStore

    store = RunStore.create(tmp_path, {"status": "running"})
    assert json.loads((store.path / "run.json").read_text()) == {
        "run_id": store.run_id,
        "status": "running",
    }
