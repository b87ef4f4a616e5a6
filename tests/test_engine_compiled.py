"""`--engine compiled`: a static KV cache and a torch.compile'd decode step, against eager.

torch.compile takes seconds to tens of seconds on a CPU, so the compiled tiny model is built once
per module: one `gpucost run` and one workload driven directly, both at the same shape.
"""

from __future__ import annotations

import csv
import json
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch

from harness.errors import BadInput
from harness.measure.plan import RunConfig, WorkloadPlan
from harness.measure.runner import SilentProgress, Sweep
from harness.meters import NullMeter
from harness.meters.monitor import EnergyMonitor
from harness.meters.sampler import Sampler
from harness.results.store import RunStore
from tests.cli_helpers import invoke
from tests.workload_helpers import build, run_iteration
from workloads.base import Stopwatch, Workload, WorkloadContext, WorkloadSettings
from workloads.engines.compiled import CompiledTextEngine, CompileFailed, first_call_s

pytestmark = pytest.mark.compile

BATCH = 2
# The tiny preset's: one shape for both fixtures, so the second compile hits inductor's cache.
OUTPUT_LEN = 32
RUN = ["--iterations", "3", "--warmup", "0", "--min-duration", "0", "--idle-seconds", "0"]


def _run(out: Path, *args: str) -> Any:
    return invoke("run", *args, "--out", out, "--no-price", *RUN)


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def compiled_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `gpucost run -w text --engine compiled` at batch size BATCH, with no warm-up."""
    out = tmp_path_factory.mktemp("compiled-run")
    result = _run(out, "-w", "text", "--engine", "compiled", "-b", str(BATCH))
    assert result.exit_code == 0, result.output
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


@pytest.fixture(scope="module")
def compiled_text() -> Any:
    workload = build("text", engine="compiled")
    workload.prepare(BATCH)
    yield workload
    workload.close()


def test_same_token_ids_as_eager(compiled_text: Any) -> None:
    eager = build("text")
    eager.prepare(BATCH)
    eager.run_once(_NoMarks())
    compiled_text.run_once(_NoMarks())
    first = compiled_text.last_tokens
    compiled_text.run_once(_NoMarks())
    assert first.shape == (BATCH, OUTPUT_LEN)
    assert torch.equal(eager.last_tokens, first)
    # The static cache is emptied between iterations: a second batch decodes the same.
    assert torch.equal(compiled_text.last_tokens, first)
    eager.close()


def test_compiled_marks_phases_in_order(compiled_text: Any) -> None:
    stopwatch = run_iteration(compiled_text, BATCH)
    marks = [m for m in stopwatch.order if m != "last_token"]
    assert marks == ["start", "first_token", "end"]
    assert stopwatch.order.count("last_token") == OUTPUT_LEN
    assert compiled_text.compile_s() is not None


def test_row_has_compile_s_outside_the_timed_window(compiled_run: Path) -> None:
    (row,) = _csv(compiled_run / "measurements.csv")
    iterations = _csv(compiled_run / "iterations.csv")
    assert row["status"] == "ok", row["error"]
    assert row["engine"] == "compiled"
    compile_s = float(row["compile_s"])
    assert len(iterations) == 3
    # With no warm-up the first timed iteration would hold the compilation if it were timed.
    assert max(float(it["wall_s"]) for it in iterations) < compile_s / 5
    assert float(row["wall_s_p99"]) < compile_s / 5
    assert row["recompiles"] == "0"


def test_prefill_and_decode_cover_the_wall_time(compiled_run: Path) -> None:
    # Per iteration: medians of separate columns would mix iterations on a noisy machine.
    for it in _csv(compiled_run / "iterations.csv"):
        wall, prefill, decode = (float(it[k]) for k in ("wall_s", "prefill_s", "decode_s"))
        assert prefill > 0 and decode > 0
        assert abs(wall - (prefill + decode)) <= 0.10 * wall, it


def test_run_json_records_the_engine(compiled_run: Path) -> None:
    meta = json.loads((compiled_run / "run.json").read_text())
    engine = meta["workloads"]["text"]["engine"]
    assert engine["name"] == "compiled"
    assert engine["cache_implementation"] == "static"
    assert engine["compile_mode"] == "default"  # inductor's default mode on the CPU
    assert engine["torch_version"] == torch.__version__


def test_eager_rows_leave_the_compile_columns_empty(tmp_path: Path) -> None:
    result = _run(tmp_path, "-w", "text", "-b", "1")
    assert result.exit_code == 0, result.output
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    (row,) = _csv(run_dir / "measurements.csv")
    assert row["engine"] == "eager"
    assert row["compile_s"] == "" and row["recompiles"] == ""


def test_compiled_encoder_gives_the_eager_vectors() -> None:
    vectors = {}
    for engine in ("eager", "compiled"):
        workload = build("embedding", engine=engine)
        workload.prepare(BATCH)
        with torch.inference_mode():
            vectors[engine] = workload.encoder.embed(*workload.inputs)
        assert (workload.compile_s() is not None) == (engine == "compiled")
        assert workload.describe()["engine"]["name"] == engine
        workload.close()
    torch.testing.assert_close(vectors["compiled"], vectors["eager"], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["-w", "image", "--engine", "compiled"],
            "--engine 'compiled' is not available for 'image'",
        ),
        (["-w", "text", "--engine", "jit"], "--engine 'jit' is not available for 'text'"),
    ],
)
def test_bad_combinations_are_refused(tmp_path: Path, args: list[str], expected: str) -> None:
    result = _run(tmp_path, *args)
    assert result.exit_code == 2
    assert expected in result.output
    assert "Traceback" not in result.output
    assert not any(tmp_path.iterdir())


def test_an_architecture_without_static_cache_support_is_refused() -> None:
    workload = build("text")
    workload.model._can_compile_fullgraph = False
    with pytest.raises(BadInput, match="cannot run with a static KV cache"):
        CompiledTextEngine(workload.model, 8, 4)
    workload.close()


def test_a_compile_failure_is_one_line() -> None:
    def branchy(x: torch.Tensor) -> torch.Tensor:
        # Data-dependent control flow: no single graph, so fullgraph compilation fails.
        return x + 1 if x.sum().item() > 0 else x - 1

    compiled = torch.compile(branchy, fullgraph=True, backend="eager")
    with pytest.raises(CompileFailed) as raised:
        first_call_s(lambda: compiled(torch.ones(3)), torch.device("cpu"), "the test function")
    message = str(raised.value)
    assert message.startswith("torch.compile of the test function failed: ")
    assert "\n" not in message


@dataclass(frozen=True)
class _NoSettings(WorkloadSettings):
    pass


def _double(x: torch.Tensor) -> torch.Tensor:
    return x * 2 + 1


class _CompilesWhileTimed(Workload):
    """Compiles a new function on every iteration: each is a recompilation the runner must see."""

    name: ClassVar[str] = "recompiling"
    settings_type = _NoSettings
    presets: ClassVar[dict[str, Any]] = {"none": {}}
    gpu_default_preset = "none"
    unit_columns = ("requests",)

    def load(self) -> None:
        pass

    def prepare(self, batch_size: int) -> None:
        self.x = torch.ones(batch_size)

    def run_once(self, stopwatch: Stopwatch) -> None:
        # A new code object each time: dynamo's cache hangs on the code, so each is compiled.
        self.calls = getattr(self, "calls", 0) + 1
        code = _double.__code__.replace(co_name=f"double_{self.calls}")
        fresh = types.FunctionType(code, _double.__globals__)
        torch.compile(fresh, backend="eager")(self.x)

    def units(self, batch_size: int) -> dict[str, float]:
        return {"requests": batch_size}

    def compile_s(self) -> float | None:
        return 0.0


def test_recompilation_in_the_timed_window_invalidates_the_row(tmp_path: Path) -> None:
    ctx = WorkloadContext(preset="none", device="cpu", dtype="fp32")
    plan = WorkloadPlan("recompiling", _CompilesWhileTimed, _NoSettings(), ctx, (1,))
    config = RunConfig(
        workloads=(plan,), device="cpu", dtype="fp32", warmup=0, iterations=2,
        min_duration_s=0.0, count_flops=False,
    )  # fmt: skip
    store = RunStore.create(tmp_path)
    meter = NullMeter()
    sampler = Sampler(meter, interval_s=None)
    Sweep(config, store, meter, EnergyMonitor(meter, sampler), sampler, SilentProgress()).run()
    (row,) = store.measurements
    assert row["recompiles"] == 2
    assert row["status"] == "error"
    assert "2 recompilation(s) inside the timed window" in row["error"]
    assert row["wall_s_p50"] is not None  # the numbers are kept, only not as a valid row


class _NoMarks:
    def mark(self, name: str) -> None:
        pass
