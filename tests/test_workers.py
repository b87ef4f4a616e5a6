"""A level split over worker processes keeps the load's shape, and every worker is stopped on
every way out (Ctrl-C included)."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.endpoint.client import RequestShape
from harness.endpoint.config import LoadLevel
from harness.endpoint.loadgen import arrival_gaps
from harness.endpoint.prompts import Prompt
from harness.endpoint.workers import default_workers, run_split_level
from tests.known_speed_server import running

SHAPE = RequestShape("completions", "known-speed")
PROMPTS = [Prompt(f"prompt {i}", 2, 4) for i in range(5)]


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running(tmp_path_factory.mktemp("ks") / "log", ttft_ms=20, gap_ms=5) as base_url:
        yield base_url


def _split(url: str, level: LoadLevel, workers: int, **kwargs: object):
    return run_split_level(
        url, SHAPE, PROMPTS, level, workers, asyncio.run, duration_s=None, warmup_requests=2,
        timeout_s=30.0, **kwargs,
    )  # fmt: skip


def test_closed_loop_split_sends_every_request_once_with_all_users(url: str) -> None:
    result = _split(url, LoadLevel(concurrency=5), 2, requests=13)
    assert result.workers == 2 and len(result.loads) == 2
    assert len({r.index for r in result.records}) == 13
    assert all(r.ok and r.output_tokens == 4 for r in result.records)
    assert result.max_in_flight == 5


def test_open_loop_split_keeps_the_one_schedule(url: str) -> None:
    rate, requests, seed = 40.0, 24, 7
    result = _split(url, LoadLevel(request_rate=rate), 3, requests=requests, seed=seed)
    assert len(result.records) == requests
    due, schedule = 0.0, []
    for gap in itertools.islice(arrival_gaps(rate, 1.0, seed), requests):
        due += gap
        schedule.append(due)
    starts = sorted(r.start_s for r in result.records)
    offsets = [s - starts[0] for s in starts]
    # Every arrival went out at its time on the one schedule (to within the box's noise).
    assert max(abs(o - (d - schedule[0])) for o, d in zip(offsets, schedule, strict=True)) < 0.1
    columns = result.client_columns()
    assert columns["client_workers"] == 3 and columns["send_lag_s_p99"] is not None


def test_default_workers_follow_the_level_and_the_cores() -> None:
    assert default_workers(LoadLevel(concurrency=1), 128, cores=16) == 1
    assert default_workers(LoadLevel(concurrency=1000), 128, cores=16) == 5
    assert default_workers(LoadLevel(concurrency=100_000), 128, cores=16) == 16
    assert default_workers(LoadLevel(request_rate=200.0), 256, cores=16) == 6
    assert default_workers(LoadLevel(request_rate=float("inf")), 256, cores=4) == 4


@pytest.mark.parametrize("value", ["0", "-1", "2000", "two"])
def test_bad_workers_is_one_line(value: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", "--endpoint", "http://127.0.0.1:9/v1",
                                       "--workers", value, "--out", str(tmp_path)])  # fmt: skip
    assert result.exit_code != 0
    assert "--workers" in result.output and "Traceback" not in result.output


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_ctrl_c_stops_every_worker(url: str, tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", "--endpoint", url, "--concurrency", "4",
         "--workers", "2", "--duration", "60", "--out", str(tmp_path / "runs")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )  # fmt: skip
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(workers) < 2:
            time.sleep(0.3)
            workers = _children(child.pid)
        assert len(workers) >= 2, "the workers never started"
        time.sleep(1.0)
        os.killpg(child.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole group
        child.wait(timeout=60)
        assert child.returncode == 130, child.stderr.read()
        time.sleep(0.5)
        assert not any(_alive(pid) for pid in workers)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
