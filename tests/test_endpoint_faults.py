"""Endpoint runs against servers that fail: 500s, a stalled stream, a dropped connection, no
server at all, one that never becomes healthy, a port in use, and Ctrl-C. Plus the summariser
on hand-made timestamps."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.endpoint.records import RequestRecord
from harness.endpoint.server import free_port
from harness.endpoint.summary import summarise_level
from tests.cli_helpers import invoke
from tests.endpoint_fakeapp import serve_in_thread

FAKE_APP = Path(__file__).with_name("endpoint_fakeapp.py")



def _only_row(out: Path) -> dict[str, str]:
    (run,) = out.iterdir()
    with open(run / "measurements.csv", newline="", encoding="utf-8") as fh:
        (row,) = csv.DictReader(fh)
    return row


@pytest.fixture
def fake(request: pytest.FixtureRequest):
    server, url = serve_in_thread(request.param)
    yield url
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("fake", "expected"),
    [("error500", "HTTP 500"), ("stall", "timeout"), ("drop", "")],
    indirect=["fake"],
)
def test_failing_requests_make_an_error_row_with_counts(
    fake: str, expected: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    result = invoke("run", "--endpoint", fake, "--concurrency", 2, "--requests", 4,
                    "--warmup-requests", 0, "--request-timeout", 0.5, "--out", tmp_path)  # fmt: skip
    # No request succeeded: the run says so with a non-zero exit, as in-process runs do.
    assert result.exit_code == 1, result.output
    assert "no request succeeded at any level" in result.output
    assert time.monotonic() - started < 15
    row = _only_row(tmp_path)
    (run,) = tmp_path.iterdir()
    meta = json.loads((run / "run.json").read_text())
    assert meta["status"] == "failed" and meta["rows"] == {"error": 1}
    assert row["status"] == "error" and row["error_count"] == "4"
    assert row["requests"] == "" and row["output_tokens"] == ""  # not measured, never 0
    assert "no request succeeded" in row["error"] and expected in row["error"]


@pytest.mark.parametrize("fake", ["ok"], indirect=True)
def test_open_loop_levels_against_a_fast_server(fake: str, tmp_path: Path) -> None:
    result = invoke("run", "--endpoint", fake, "--request-rate", "200,inf", "--requests", 20,
                    "--output-len", 5, "--warmup-requests", 1, "--out", tmp_path)  # fmt: skip
    assert result.exit_code == 0, result.output
    (run,) = tmp_path.iterdir()
    with open(run / "measurements.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["request_rate"] for r in rows] == ["200.0", "inf"]
    for row in rows:
        assert row["status"] == "ok" and int(row["requests"]) == 20
        assert int(row["output_tokens"]) == 100 and row["output_len_honoured"] == "True"
        assert row["energy_j"] == "" and row["gpu_util_mean"] == ""  # no GPU metered here


def test_unreachable_endpoint_is_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = invoke("run", "--endpoint", url, "--requests", 1, "--out", tmp_path)
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert "cannot connect" in line and url in line


def test_bad_load_options_are_refused(tmp_path: Path) -> None:
    for args, message in (
        (("--concurrency", "1,x"), "'x' is not a whole number"),
        (("--request-rate", "0"), "must be > 0"),
        (("--endpoint", "ftp://x"), "expected an http(s) URL"),
        (("--server", "transformers"), "needs --model PATH"),
        (("-w", "image"), "an endpoint run serves one of"),
        (("--endpoint", "", "--concurrency", "4"), "--endpoint '': empty"),
    ):
        base = () if "--endpoint" in args else ("--endpoint", "http://127.0.0.1:1/v1")
        result = invoke("run", *base, *args, "--out", tmp_path)
        assert result.exit_code == 2, result.output
        assert message in result.output


def test_an_endpoint_option_without_an_endpoint_is_refused(tmp_path: Path) -> None:
    result = invoke("run", "--concurrency", "4", "--out", tmp_path)
    assert result.exit_code == 2 and "--concurrency is for endpoint runs" in result.output


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _server_pid(run: Path) -> int:
    # The fake app is started by --server-cmd; its pid is found through /proc by its command.
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if str(FAKE_APP).encode() in cmdline and str(run).encode() in b" ".join(cmdline):
                return int(entry.name)
    raise AssertionError("server process not found")


def test_a_server_that_never_answers_is_stopped(tmp_path: Path) -> None:
    port = free_port()
    marker = tmp_path / "marker"
    cmd = f"{sys.executable} {FAKE_APP} {port} slowhealth {marker}"
    result = invoke("run", "--server-cmd", cmd, "--endpoint", f"http://127.0.0.1:{port}/v1",
                    "--server-timeout", 1.5, "--out", tmp_path / "runs")  # fmt: skip
    assert result.exit_code == 1
    # Progress lines may come first; the error itself is one line.
    (line,) = [ln for ln in result.output.strip().splitlines() if ln.startswith("Error")]
    assert "did not answer" in line and "server.log" in line and "Traceback" not in result.output
    with pytest.raises(AssertionError):
        _server_pid(marker)
    (run,) = (tmp_path / "runs").iterdir()
    assert json.loads((run / "run.json").read_text())["status"] == "failed"


def test_a_port_in_use_is_refused(tmp_path: Path) -> None:
    server, url = serve_in_thread("ok")
    try:
        result = invoke("run", "--server-cmd", "sleep 30", "--endpoint", url, "--out", tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 2
    assert "already in use" in result.output


def _start_run_with_server(mode: str, marker: Path, out: Path) -> subprocess.Popen:
    """`gpucost run --server-cmd` on the fake app in `mode` (it writes its pid to `marker`), a
    one-minute closed loop into `out`, in a session of its own so that it can be signalled."""
    port = free_port()
    cmd = f"{sys.executable} {FAKE_APP} {port} {mode} {marker}"
    return subprocess.Popen(
        [sys.executable, "-m", "harness", "run", "--server-cmd", cmd,
         "--endpoint", f"http://127.0.0.1:{port}/v1", "--concurrency", "1",
         "--duration", "60", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_the_server(stop: signal.Signals, tmp_path: Path) -> None:
    marker, out = tmp_path / "marker", tmp_path / "runs"
    child = _start_run_with_server("ok", marker, out)
    pid = None
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and pid is None:
            time.sleep(0.2)
            with contextlib.suppress(AssertionError):
                pid = _server_pid(marker)
        assert pid is not None, child.stderr.read() if child.poll() is not None else "no server"
        time.sleep(1.0)  # let the level start
        os.kill(child.pid, stop)
        child.wait(timeout=30)
        assert child.returncode == 128 + stop  # 130 for Ctrl-C, 143 for SIGTERM: as in-process
        assert not _group_alive(pid)
        (run,) = out.iterdir()
        meta = json.loads((run / "run.json").read_text())
        assert meta["status"] == "interrupted"
        assert meta.get("stopped_by") == (None if stop == signal.SIGINT else stop.name)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        if pid is not None:  # the server has a group of its own: never leave it behind
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


def _pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_signals_while_stopping_are_ignored_and_a_deaf_server_and_its_daemon_are_killed(
    tmp_path: Path,
) -> None:
    """The server ignores SIGTERM and has forked a setsid daemon; gpucost gets SIGTERM, then
    SIGINT 10 ms later and SIGTERM again while it waits out the grace period."""
    marker, out = tmp_path / "marker", tmp_path / "runs"
    child = _start_run_with_server("ok+deaf+daemon", marker, out)
    daemon_file = Path(str(marker) + ".daemon")
    pid = daemon = None
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (pid is None or not daemon_file.exists()):
            time.sleep(0.2)
            with contextlib.suppress(AssertionError):
                pid = _server_pid(marker)
        assert pid is not None and daemon_file.exists(), "no server"
        daemon = int(daemon_file.read_text())
        time.sleep(1.0)
        os.kill(child.pid, signal.SIGTERM)
        for later in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            time.sleep(0.01)
            os.kill(child.pid, later)
        time.sleep(1.0)
        os.kill(child.pid, signal.SIGINT)  # during the grace period
        _out, err = child.communicate(timeout=40)
        assert child.returncode == 143, err
        assert not _group_alive(pid) and not _pid_alive(daemon)
        (run,) = out.iterdir()
        meta = json.loads((run / "run.json").read_text())
        assert meta["status"] == "interrupted" and meta["stopped_by"] == "SIGTERM"
        assert b"Stopped by SIGTERM" in err and b"Traceback" not in err
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        for group in (pid, daemon):
            if group is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(group, signal.SIGKILL)


def _record(index: int, start: float, first: float, end: float, tokens: int) -> RequestRecord:
    step = (end - first) / (tokens - 1)
    times = [first + i * step for i in range(tokens)]
    return RequestRecord(index, start, end, first, times, 10, tokens, tokens)


def test_summary_from_hand_made_timestamps() -> None:
    records = [_record(0, 0.0, 0.5, 2.5, 5), _record(1, 1.0, 1.2, 4.0, 5)]
    failed = RequestRecord(2, 1.0, None, error="timeout after 1 s")
    row = summarise_level([*records, failed], "text")
    assert row["window_s"] == 4.0
    assert row["requests"] == 2 and row["error_count"] == 1
    assert row["error_rate"] == pytest.approx(1 / 3)
    assert row["output_tokens"] == 10 and row["input_tokens"] == 20
    assert row["output_tokens_per_s"] == pytest.approx(10 / 4.0)
    assert row["ttft_s_p50"] == pytest.approx((0.5 + 0.2) / 2)
    assert row["tpot_s_p50"] == pytest.approx((0.5 + 0.7) / 2)
    assert row["e2e_s_p99"] == pytest.approx(2.5 + 0.99 * 0.5)
    assert row["itl_s_p50"] == pytest.approx(0.6)  # four gaps of 0.5, four of 0.7
    assert "1× timeout after 1 s" in row["error"]
