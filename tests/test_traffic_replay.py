"""Trace replay against a server written here that records each request's arrival time and
prompt: arrivals follow the trace, lengths are exact by the tokenizer, equal block ids give
byte-identical prompt blocks, and cached tokens the server reports reach the row."""

from __future__ import annotations

import csv
import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.endpoint.client import RequestShape
from harness.endpoint.prompts import load_tokenizer
from harness.endpoint.replay import replay_schedule, run_schedule
from harness.stats import percentile
from harness.traffic.replay import load_replay
from tests.endpoint_server import build_tiny_llama

TRACES = Path(__file__).parent / "data" / "traces"
AZURE = TRACES / "azure_conv_head200.csv"
MOONCAKE = TRACES / "mooncake_conv_head200.jsonl"
BLOCK = 512


class Recorder(BaseHTTPRequestHandler):
    """Streams `max_tokens` one-word chunks at once and reports usage: prompt tokens by the
    tokenizer, and as cached the whole 512-token blocks of the prompt seen before (a prefix cache
    whose truth is known)."""

    protocol_version = "HTTP/1.1"
    log: ClassVar[list[dict]] = []
    encode = None
    seen_blocks: ClassVar[set[tuple[int, ...]]] = set()
    lock = threading.Lock()
    serial_s = 0.0
    """> 0: one request at a time, each taking this long (latency then grows with the load)"""
    serial = threading.Lock()

    def log_message(self, *_args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = json.dumps({"data": [{"id": "recorder"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        arrived = time.perf_counter()
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ids = type(self).encode(body["prompt"])
        cached = 0
        with self.lock:
            prefix_known = True
            for start in range(0, len(ids) - len(ids) % BLOCK, BLOCK):
                block = tuple(ids[: start + BLOCK])
                if prefix_known and block in self.seen_blocks:
                    cached += BLOCK
                else:
                    prefix_known = False
                self.seen_blocks.add(block)
            self.log.append(
                {"t": arrived, "prompt": body["prompt"], "max_tokens": body["max_tokens"]}
            )
        if self.serial_s:
            with self.serial:
                time.sleep(self.serial_s)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        n = body["max_tokens"]
        chunks = [{"choices": [{"text": " a"}]} for _ in range(n)]
        chunks.append(
            {
                "choices": [],
                "usage": {
                    "prompt_tokens": len(ids),
                    "completion_tokens": n,
                    "prompt_tokens_details": {"cached_tokens": cached},
                },
            }
        )
        out = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        self.wfile.write(out.encode())


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default backlog (5) resets a burst of simultaneous connects


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def tokenizer_folder(model_folder: Path) -> Path:
    """The tokenizer alone: no config.json, so no context limit (the recorder has none)."""
    folder = model_folder.parent / "tokenizer"
    folder.mkdir(exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (model_folder / name).is_file():
            shutil.copy(model_folder / name, folder / name)
    return folder


@pytest.fixture
def recorder(tokenizer_folder: Path):
    tokenizer = load_tokenizer(str(tokenizer_folder))
    assert tokenizer is not None
    Recorder.log = []
    Recorder.seen_blocks = set()
    Recorder.serial_s = 0.0
    Recorder.encode = staticmethod(tokenizer.encode)
    server = _Server(("127.0.0.1", 0), Recorder)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", tokenizer
    finally:
        server.shutdown()
        server.server_close()


def test_arrivals_follow_the_trace_and_lengths_are_exact(recorder) -> None:
    import asyncio

    url, tokenizer = recorder
    replay = load_replay(str(AZURE), None, tokenizer, seed=0, max_requests=40, max_output_len=4)
    schedule = replay_schedule(replay.arrivals_s, replay.prompts, speedup=20.0)
    result = asyncio.run(
        run_schedule(url, RequestShape("completions", "recorder"), schedule,
                     warmup_requests=0, timeout_s=10.0)
    )  # fmt: skip
    assert len(Recorder.log) == 40 and all(r.ok for r in result.records)
    # The server's threads log in the order they run: match each entry by its prompt (each
    # request of a trace without block ids has its own).
    arrived = {entry["prompt"]: entry for entry in Recorder.log}
    assert len(arrived) == 40
    errors = [
        arrived[planned.prompt.text]["t"] - (result.started_s + planned.send_s)
        for planned in schedule
    ]
    # Same clock (one process): every error is a lateness, small next to the trace's gaps.
    # Bounds for a busy 2-core box (benchmarks/replay_accuracy.py measures the real error):
    # a replay sent all at once, or not sped up, misses them by seconds.
    sends = {r.index: r.start_s for r in result.records}
    lags = [sends[i] - (result.started_s + p.send_s) for i, p in enumerate(schedule)]
    assert min(lags) >= 0 and percentile(lags, 50) < 0.025
    assert min(errors) > -0.001
    assert percentile(errors, 50) < 0.05
    assert max(errors) < 0.25
    for planned, request in zip(schedule, replay.requests, strict=True):
        entry = arrived[planned.prompt.text]
        assert len(tokenizer.encode(entry["prompt"])) == request.input_len
        assert entry["max_tokens"] == min(request.output_len, 4)


def test_equal_block_ids_give_byte_identical_blocks(recorder) -> None:
    _, tokenizer = recorder
    replay = load_replay(str(MOONCAKE), None, tokenizer, seed=3, max_requests=30)
    first_blocks: dict[int, str] = {}
    second_blocks: dict[tuple[int, int], str] = {}
    for request, prompt in zip(replay.requests, replay.prompts, strict=True):
        ids = tokenizer.encode(prompt.text)
        assert len(ids) == request.input_len == prompt.input_tokens
        assert request.hash_ids is not None
        block = tokenizer.decode(ids[:BLOCK])
        assert prompt.text.startswith(block)
        first_blocks.setdefault(request.hash_ids[0], block)
        assert first_blocks[request.hash_ids[0]] == block
        if len(request.hash_ids) > 1:
            key = request.hash_ids[:2]
            two = tokenizer.decode(ids[: 2 * BLOCK])
            assert second_blocks.setdefault(key, two) == two
    # the trace's first requests all start with block 0, then their own blocks
    assert len(first_blocks) == 1 and len(set(second_blocks.values())) == len(second_blocks) > 5
    again = load_replay(str(MOONCAKE), None, tokenizer, seed=3, max_requests=30)
    assert [p.text for p in again.prompts] == [p.text for p in replay.prompts]
    other_seed = load_replay(str(MOONCAKE), None, tokenizer, seed=4, max_requests=1)
    assert other_seed.prompts[0].text != replay.prompts[0].text


def _rows(run: Path) -> list[dict[str, str]]:
    with (run / "measurements.csv").open() as f:
        return list(csv.DictReader(f))


def test_cli_replay_rows_carry_the_mix_the_trace_and_cached_tokens(
    recorder, tokenizer_folder: Path, tmp_path: Path
) -> None:
    url, tokenizer = recorder
    result = CliRunner().invoke(
        main,
        ["run", "--endpoint", url, "--tokenizer", str(tokenizer_folder), "--trace", str(MOONCAKE),
         "--trace-requests", "20", "--trace-speedup", "50,100", "--max-output-len", "3",
         "--warmup-requests", "0", "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (run,) = tmp_path.iterdir()
    rows = _rows(run)
    assert "Trace mooncake_conv_head200.jsonl (mooncake): 20 requests over" in result.output
    assert json.loads((run / "run.json").read_text())["trace"]["requests"] == 20
    with (run / "iterations.csv").open() as f:
        failed = [r["error"] for r in csv.DictReader(f) if r["error"]]
    assert failed == []
    assert [float(r["trace_speedup"]) for r in rows] == [50.0, 100.0]
    replay = load_replay(str(MOONCAKE), None, tokenizer, seed=0, max_requests=20)
    inputs = [r.input_len for r in replay.requests]
    outputs = [r.output_len for r in replay.requests]
    for row in rows:
        assert int(float(row["requests"])) == 20
        assert int(float(row["input_tokens"])) == sum(inputs)
        assert int(float(row["output_tokens"])) == sum(min(n, 3) for n in outputs)
        assert float(row["input_len_p50"]) == pytest.approx(percentile(inputs, 50))
        assert float(row["output_len_p99"]) == 3
        assert int(float(row["trace_clamped_requests"])) == sum(n > 3 for n in outputs) > 10
        assert row["input_len"] == "" and row["output_len"] == ""
        settings = json.loads(row["settings"])
        assert settings["trace"] == MOONCAKE.name
        assert settings["trace_format"] == "mooncake"
        assert settings["trace_sha256"] == replay.content_sha256
        assert settings["max_output_len"] == 3
    # Requests sharing block ids hit the recorder's cache: the first level has every shared
    # block after its first sight; the second level, the same prompts again, all of them.
    cached = [int(float(r["cached_input_tokens"])) for r in rows]
    full_blocks = sum(n - n % BLOCK for n in inputs)
    assert 0 < cached[0] < full_blocks
    assert cached[1] == full_blocks
    assert float(rows[1]["cache_hit_rate"]) == pytest.approx(full_blocks / sum(inputs))


def test_lengths_beyond_the_models_context_are_refused_before_any_request(
    recorder, model_folder: Path, tmp_path: Path
) -> None:
    url, _ = recorder
    result = CliRunner().invoke(
        main,
        ["run", "--endpoint", url, "--tokenizer", str(model_folder), "--trace", str(AZURE),
         "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "requests need more than the model's context of 512 tokens (largest input + output:" in (
        result.output
    )
    assert Recorder.log == []
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trace-speedup", "0"], "--trace-speedup"),
        (["--trace-speedup", "nan"], "--trace-speedup"),
        (["--trace-requests", "0"], "--trace-requests must be >= 1"),
        (["--concurrency", "4"], "--concurrency and --trace"),
        (["--trace-format", "parquet"], "unknown; formats"),
        (["--trace-start", "99999", "--trace-duration", "1"], "no requests in the window"),
    ],
)
def test_bad_replay_options_are_one_line(recorder, tokenizer_folder, tmp_path, args, message):
    url, _ = recorder
    result = CliRunner().invoke(
        main,
        ["run", "--endpoint", url, "--tokenizer", str(tokenizer_folder), "--trace", str(AZURE),
         *args, "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert Recorder.log == []


def test_trace_options_without_a_trace_are_refused(recorder, tmp_path):
    url, _ = recorder
    result = CliRunner().invoke(
        main, ["run", "--endpoint", url, "--trace-speedup", "2", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "add --trace FILE" in result.output


def test_find_max_load_searches_the_speedup(
    recorder, tokenizer_folder: Path, tmp_path: Path
) -> None:
    # 30 requests, one at a time for 20 ms each: at the recorded rate nothing queues; at a
    # thousand times it, they all do, and e2e p99 grows past the target.
    url, _ = recorder
    Recorder.serial_s = 0.02
    result = CliRunner().invoke(
        main,
        ["run", "--endpoint", url, "--tokenizer", str(tokenizer_folder), "--trace", str(AZURE),
         "--trace-requests", "30", "--max-output-len", "2", "--trace-speedup", "1,2000",
         "--slo", "e2e_p99=0.3", "--find-max-load", "--max-search-levels", "3",
         "--warmup-requests", "0", "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "trace speed-up" in result.output and "highest level that meets the SLO" in result.output
    (run,) = tmp_path.iterdir()
    rows = _rows(run)
    speeds = [float(r["trace_speedup"]) for r in rows]
    assert speeds[:2] == [1.0, 2000.0] and len(rows) == 5
    best = [r for r in rows if r["slo_max_load"] == "True"]
    assert len(best) == 1 and best[0]["slo_met"] == "True"
    assert 1 <= float(best[0]["trace_speedup"]) < 2000
    assert all(
        r["slo_met"] == "False"
        for r in rows
        if float(r["trace_speedup"]) > float(best[0]["trace_speedup"])
    )


def test_turns_resend_the_conversation_and_hit_the_cache(
    recorder, tokenizer_folder: Path, tmp_path: Path
) -> None:
    url, tokenizer = recorder
    result = CliRunner().invoke(
        main,
        ["run", "--endpoint", url, "--tokenizer", str(tokenizer_folder), "--turns", "3",
         "--input-len", "600", "--output-len", "2", "--requests", "6", "--concurrency", "1",
         "--warmup-requests", "0", "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    prompts = [entry["prompt"] for entry in Recorder.log[1:]]  # the first is the probe
    assert [len(tokenizer.encode(p)) for p in prompts] == [600, 1202, 1804] * 2
    for earlier, later in ((0, 1), (1, 2), (3, 4), (4, 5)):
        assert prompts[later].startswith(prompts[earlier])
    assert not prompts[3].startswith(prompts[0][:100])
    (run,) = tmp_path.iterdir()
    (row,) = _rows(run)
    assert json.loads(row["settings"])["turns"] == 3
    # whole 512-token blocks of the prompt sent before (the recorder's rule): the probe sent
    # prompt 0 already (its one full block); each later turn reuses the full blocks of the turn
    # before (600 tokens hold 1, 1202 hold 2); a new conversation reuses nothing
    assert int(float(row["cached_input_tokens"])) == 512 + 512 + 1024 + 0 + 512 + 1024


def test_shared_prefix_len_gives_every_prompt_the_same_start(
    recorder, tokenizer_folder: Path, tmp_path: Path
) -> None:
    url, tokenizer = recorder
    result = CliRunner().invoke(
        main,
        ["run", "--endpoint", url, "--tokenizer", str(tokenizer_folder), "--shared-prefix-len",
         "512", "--input-len", "700", "--output-len", "2", "--requests", "4", "--concurrency",
         "1", "--warmup-requests", "0", "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    prompts = [entry["prompt"] for entry in Recorder.log]
    ids = [tokenizer.encode(p) for p in prompts]
    assert all(len(i) == 700 for i in ids)
    prefix = tokenizer.decode(ids[0][:512])
    assert all(p.startswith(prefix) for p in prompts)
    # the probe's prompt, then 4 measured prompts: the same start, each its own rest
    assert len(prompts) == 5 and len({p[len(prefix) :] for p in prompts[1:]}) == 4


def test_bad_lines_and_disorder_are_said_and_the_rest_replayed(
    recorder, tokenizer_folder: Path, tmp_path: Path
) -> None:
    url, _ = recorder
    trace = tmp_path / "trace.jsonl"
    trace.write_text(
        '{"timestamp": 0, "input_length": 20, "output_length": 2}\n'
        "not json\n"
        '{"timestamp": 300, "input_length": 30, "output_length": 2}\n'
        '{"timestamp": 100, "input_length": -4, "output_length": 2}\n'
        '{"timestamp": 200, "input_length": 40, "output_length": 2}\n'
    )
    args = ["run", "--endpoint", url, "--tokenizer", str(tokenizer_folder), "--trace", str(trace),
            "--warmup-requests", "0", "--out", str(tmp_path / "runs")]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "1 unparseable line(s) (lines 2" in result.output
    assert "1 refused for impossible lengths (lines 4" in result.output
    assert "1 out of order (sorted by arrival)" in result.output
    assert [len(e["prompt"].split()) for e in Recorder.log[1:]] == [20, 40, 30]
    strict = CliRunner().invoke(main, [*args, "--trace-strict"])
    assert strict.exit_code == 2 and "line 2: not JSON (--strict)" in strict.output
