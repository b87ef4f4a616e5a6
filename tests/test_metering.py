"""The request meter: one log line per call (also when it raises), sinks, energy, Prometheus."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from harness.errors import BadInput
from harness.metering import RequestMeter, current_request, iso_timestamp, open_request_log
from harness.reconcile.requests import read_requests


class Boom(RuntimeError):
    pass


def lines(path: Path) -> list[dict]:
    return [json.loads(t) for t in path.read_text(encoding="utf-8").splitlines()]


def sqlite_rows(path: Path) -> list[dict]:
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        rows = [dict(r) for r in db.execute("SELECT * FROM requests ORDER BY rowid")]
    db.close()
    return rows


def run_calls(meter: RequestMeter) -> None:
    with meter.request() as r:
        r.units(input_tokens=12, output_tokens=3)
    with pytest.raises(Boom), meter.request("image") as r:
        r.units(images=1)
        raise Boom("model failed")
    with meter.request() as r:
        r.add(output_tokens=1)
        r.add(output_tokens=1)


def test_jsonl_one_line_per_call_also_when_the_call_raises(tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    meter = RequestMeter(open_request_log(path), workload="text", instance="g5.xlarge")
    run_calls(meter)
    meter.close()
    got = lines(path)
    assert len(got) == 3
    assert [g["status"] for g in got] == ["ok", "error", "ok"]
    assert got[0]["input_tokens"] == 12 and got[0]["output_tokens"] == 3
    assert got[1]["workload"] == "image" and got[1]["error"] == "Boom" and got[1]["images"] == 1
    assert got[2]["output_tokens"] == 2
    assert all(g["instance"] == "g5.xlarge" and g["wall_s"] >= 0 for g in got)
    assert all("gpu_s" not in g and "energy_j" not in g for g in got)  # not measured: empty


def test_sqlite_one_row_per_call_also_when_the_call_raises(tmp_path: Path) -> None:
    path = tmp_path / "requests.sqlite"
    with RequestMeter(open_request_log(path), workload="text") as meter:
        run_calls(meter)
    rows = sqlite_rows(path)
    assert [r["status"] for r in rows] == ["ok", "error", "ok"]
    assert rows[1]["error"] == "Boom" and rows[1]["images"] == 1
    assert rows[0]["gpu_s"] is None and rows[0]["energy_j"] is None


def test_reconcile_reads_what_the_meter_wrote(tmp_path: Path) -> None:
    for name in ("requests.jsonl", "requests.sqlite"):
        path = tmp_path / name
        with RequestMeter(open_request_log(path), workload="text") as meter:
            run_calls(meter)
        counts = read_requests(path, "day").counts
        # Two text calls (12 in; 3 + 2 out), one image call that failed.
        text = counts[counts["workload"] == "text"].iloc[0]
        image = counts[counts["workload"] == "image"].iloc[0]
        assert (int(text["inferences"]), text["input_tokens"], text["output_tokens"]) == (2, 12, 5)
        assert (int(image["inferences"]), int(image["errors"]), image["images"]) == (1, 1, 1)


def test_lines_are_buffered_until_the_bound_and_flushed_on_close(tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    meter = RequestMeter(open_request_log(path, flush_every=3, flush_interval_s=3600))
    for _ in range(2):
        with meter.request("text"):
            pass
    assert path.read_text() == ""
    with meter.request("text"):
        pass
    assert len(lines(path)) == 3
    with meter.request("text"):
        pass
    meter.close()
    assert len(lines(path)) == 4


def test_threads_share_one_log_without_losing_lines(tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    meter = RequestMeter(open_request_log(path, flush_every=7), workload="text")

    def serve(worker: int) -> None:
        for i in range(250):
            with meter.request() as r:
                r.units(input_tokens=worker * 1000 + i)

    threads = [threading.Thread(target=serve, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    meter.close()
    got = sorted(g["input_tokens"] for g in lines(path))
    assert got == sorted(w * 1000 + i for w in range(4) for i in range(250))


class CountingEnergy:
    """Any object with energy_mj() will do; this one advances 1500 mJ per reading."""

    def __init__(self) -> None:
        self.mj = 10_000.0

    def energy_mj(self) -> float:
        self.mj += 1500.0
        return self.mj


def test_energy_per_request_window_from_a_counter(tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    meter = RequestMeter(open_request_log(path), workload="text", energy=CountingEnergy())
    with meter.request():
        pass
    meter.close()
    assert lines(path)[0]["energy_j"] == pytest.approx(1.5)  # one 1500 mJ step between reads


def test_decorator_sync_and_async_with_units(tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    meter = RequestMeter(open_request_log(path), workload="text")

    @meter.measure(units_of=lambda out: {"output_tokens": len(out)})
    def generate(prompt: str) -> str:
        current_request().units(input_tokens=len(prompt))
        return "abcd"

    @meter.measure("image", units_of=lambda out: {"images": out})
    async def draw(n: int) -> int:
        return n

    assert generate("hello") == "abcd"
    assert asyncio.run(draw(2)) == 2
    assert current_request() is None
    meter.close()
    got = lines(path)
    assert (got[0]["input_tokens"], got[0]["output_tokens"]) == (5, 4)
    assert (got[1]["workload"], got[1]["images"]) == ("image", 2)


def test_wrong_units_are_refused(tmp_path: Path) -> None:
    meter = RequestMeter(open_request_log(tmp_path / "r.jsonl"))
    with pytest.raises(BadInput, match="unknown unit 'tokens'"), meter.request("text") as r:
        r.units(tokens=3)
    with pytest.raises(BadInput, match="must be a finite number >= 0"), meter.request("text") as r:
        r.units(output_tokens=-1)
    for bad in (float("inf"), float("nan")):
        with pytest.raises(BadInput, match="must be a finite number"), meter.request("text") as r:
            r.units(output_tokens=bad)
    meter.close()
    # Every block raised, so every call is still logged, as an error, in strict JSON.
    text = (tmp_path / "r.jsonl").read_text(encoding="utf-8")
    assert "Infinity" not in text and "NaN" not in text
    assert [g["status"] for g in lines(tmp_path / "r.jsonl")] == ["error"] * 4
    with pytest.raises(BadInput, match=r"\.jsonl"):
        open_request_log(tmp_path / "r.txt")


def test_non_finite_readings_are_left_out_of_the_line() -> None:
    from harness.metering.request_log import RequestRecord

    record = RequestRecord(timestamp_s=0.0, workload="text", instance=None,
                           units={"output_tokens": 3}, wall_s=0.5, gpu_s=float("inf"),
                           energy_j=float("nan"), status="ok", error=None)  # fmt: skip
    fields = record.log_fields()
    assert "gpu_s" not in fields and "energy_j" not in fields
    assert fields["wall_s"] == 0.5


def test_timestamps_are_utc_iso_with_microseconds() -> None:
    assert iso_timestamp(1_793_577_599.9) == "2026-11-01T23:59:59.900000+00:00"
    assert iso_timestamp(1_793_577_600.1) == "2026-11-02T00:00:00.100000+00:00"


def test_prometheus_sink_counts_requests_and_units(tmp_path: Path) -> None:
    prometheus_client = pytest.importorskip("prometheus_client")
    from harness.metering.prometheus import prometheus_sink

    registry = prometheus_client.CollectorRegistry()
    meter = RequestMeter([open_request_log(tmp_path / "r.jsonl"), prometheus_sink(registry)])
    run_calls(meter)
    meter.close()

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("gpucost_requests_total", workload="", status="ok") == 2
    assert value("gpucost_requests_total", workload="image", status="error") == 1
    assert value("gpucost_units_total", workload="", unit="output_tokens") == 5
    assert value("gpucost_request_wall_seconds_count", workload="") == 2
    assert len(lines(tmp_path / "r.jsonl")) == 3


def test_prometheus_missing_gives_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.metering.prometheus import prometheus_sink

    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # import now fails
    with pytest.raises(BadInput, match=r"pip install 'gpucost\[prometheus\]'"):
        prometheus_sink()


def test_metering_imports_neither_torch_nor_pandas_without_a_cuda_device(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from harness.metering import RequestMeter, open_request_log\n"
        f"m = RequestMeter(open_request_log({str(tmp_path / 'r.jsonl')!r}), workload='text')\n"
        "with m.request() as r:\n"
        "    r.units(output_tokens=1)\n"
        "m.close()\n"
        "print('torch' in sys.modules, 'pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"  # a service pays for neither


@pytest.mark.gpu
def test_gpu_time_from_cuda_events(tmp_path: Path) -> None:
    import torch

    path = tmp_path / "requests.jsonl"
    with RequestMeter(open_request_log(path), workload="text", cuda_device="cuda:0") as meter:
        a = torch.randn(2048, 2048, device="cuda:0")
        with meter.request():
            for _ in range(20):
                a = a @ a
                a = a / a.norm()
            a.cpu()
    got = lines(path)[0]
    assert 0 < got["gpu_s"] <= got["wall_s"] * 1.05
