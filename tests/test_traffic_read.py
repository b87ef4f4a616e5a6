"""Trace readers: the real Azure and Mooncake slices, every format, detection, windows, and
hostile files (bad lines, impossible lengths, disorder, gzip, a long file streamed, empty)."""

from __future__ import annotations

import gzip
import itertools
import json
import sqlite3
import tracemalloc
from pathlib import Path

import pytest

from harness.errors import BadInput
from harness.metering.request_log import RequestRecord, open_request_log
from harness.traffic import read_trace, trace_formats

TRACES = Path(__file__).parent / "data" / "traces"
AZURE = TRACES / "azure_conv_head200.csv"
MOONCAKE = TRACES / "mooncake_conv_head200.jsonl"


def test_azure_slice_reads_every_request_in_order():
    trace = read_trace(AZURE)
    requests = trace.read_all()
    assert trace.format_name == "azure"
    assert len(requests) == 200
    assert requests[0].arrival_s == 0.0
    assert (requests[0].input_len, requests[0].output_len) == (374, 44)
    # 2023-11-16 18:15:50.9951690 - 18:15:46.6805900
    assert requests[1].arrival_s == pytest.approx(4.314579, abs=1e-6)
    assert all(a.arrival_s <= b.arrival_s for a, b in itertools.pairwise(requests))
    assert trace.tally.summary() == ""
    assert trace.content_sha256 and len(trace.content_sha256) == 64


def test_mooncake_slice_keeps_block_ids():
    trace = read_trace(MOONCAKE)
    requests = trace.read_all()
    assert trace.format_name == "mooncake" and trace.block_tokens == 512
    assert len(requests) == 200
    first = requests[0]
    assert (first.input_len, first.output_len) == (6758, 500)
    assert first.hash_ids == tuple(range(14))
    assert requests[-1].arrival_s == pytest.approx(72.0)


def test_window_and_request_cap(tmp_path):
    full = read_trace(AZURE).read_all()
    window = read_trace(AZURE, start_s=10, duration_s=20).read_all()
    expected = [r for r in full if 10 <= r.arrival_s < 30]
    assert len(window) == len(expected) > 0
    assert window[0].arrival_s == pytest.approx(expected[0].arrival_s - 10)
    assert len(read_trace(AZURE, max_requests=7).read_all()) == 7
    with pytest.raises(BadInput, match="no requests in the window"):
        read_trace(AZURE, start_s=1e6, duration_s=5).read_all()


def test_content_hash_tells_traces_and_windows_apart():
    a = read_trace(AZURE)
    a.read_all()
    b = read_trace(AZURE, max_requests=199)
    b.read_all()
    again = read_trace(AZURE)
    again.read_all()
    assert a.content_sha256 == again.content_sha256 != b.content_sha256


def test_gzip_is_read_and_detected(tmp_path):
    packed = tmp_path / "trace.jsonl.gz"
    packed.write_bytes(gzip.compress(MOONCAKE.read_bytes()))
    trace = read_trace(packed)
    assert trace.format_name == "mooncake"
    assert len(trace.read_all()) == 200


def test_burstgpt_skips_and_counts_failed_lines(tmp_path):
    path = tmp_path / "burst.csv"
    path.write_text(
        "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
        "5,ChatGPT,472,18,490,Conversation log\n"
        "45,ChatGPT,1087,0,1087,Conversation log\n"
        "118,GPT-4,417,276,693,API log\n"
    )
    trace = read_trace(path)
    requests = trace.read_all()
    assert trace.format_name == "burstgpt"
    assert [(r.arrival_s, r.input_len, r.output_len) for r in requests] == [
        (0.0, 472, 18),
        (113.0, 417, 276),
    ]
    assert trace.tally.skipped == {"failed request: 0 response tokens": 1}


def _write_log(path: Path) -> None:
    sink = open_request_log(path)
    for i, (n_in, n_out, status) in enumerate([(10, 5, "ok"), (20, 7, "error"), (30, 9, "ok")]):
        sink.write(
            RequestRecord(
                timestamp_s=1_800_000_000 + 0.25 * i,
                workload="text",
                units={"input_tokens": n_in, "output_tokens": n_out},
                wall_s=0.1,
                gpu_s=None,
                energy_j=None,
                status=status,
                error=None if status == "ok" else "boom",
                instance=None,
            )
        )
    sink.close()


@pytest.mark.parametrize(
    ("suffix", "fmt"), [(".jsonl", "request-log"), (".db", "request-log-sqlite")]
)
def test_gpucost_request_log_replays(tmp_path, suffix, fmt):
    path = tmp_path / f"requests{suffix}"
    _write_log(path)
    trace = read_trace(path)
    requests = trace.read_all()
    assert trace.format_name == fmt
    assert [(r.arrival_s, r.input_len, r.output_len) for r in requests] == [
        (0.0, 10, 5),
        (pytest.approx(0.5), 30, 9),
    ]
    assert trace.tally.skipped == {"status error": 1}


def test_named_format_overrides_detection_and_unknown_is_one_line():
    assert read_trace(MOONCAKE, "mooncake").format_name == "mooncake"
    with pytest.raises(BadInput, match="unknown; formats: "):
        read_trace(MOONCAKE, "parquet")
    assert {"azure", "mooncake", "burstgpt", "request-log", "request-log-sqlite"} <= set(
        trace_formats()
    )


# --- hostile input ---------------------------------------------------------------------------


def _mooncake_lines(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def _row(t: float, n_in: int = 600, n_out: int = 5, ids: list[int] | None = None) -> dict:
    blocks = -(-n_in // 512) if n_in > 0 else 0
    return {
        "timestamp": t,
        "input_length": n_in,
        "output_length": n_out,
        "hash_ids": ids if ids is not None else list(range(blocks)),
    }


def test_unparseable_lines_are_counted_with_line_numbers_and_strict_stops(tmp_path):
    path = _mooncake_lines(
        tmp_path / "t.jsonl",
        [
            _row(0),
            "{not json",
            _row(10),
            '{"timestamp": "soon", "input_length": 3}',
            "[1,2]",
            _row(20),
        ],
    )
    trace = read_trace(path)
    assert len(trace.read_all()) == 3
    assert trace.tally.unparseable == 3
    assert trace.tally.unparseable_lines == [2, 4, 5]
    assert "3 unparseable line(s) (lines 2, 4, 5" in trace.tally.summary()
    with pytest.raises(BadInput, match=r"line 2: not JSON \(--strict\)"):
        read_trace(path, strict=True).read_all()


def test_impossible_lengths_are_refused_and_counted(tmp_path):
    path = _mooncake_lines(
        tmp_path / "t.jsonl",
        [
            _row(0),
            _row(1, n_in=-5),
            _row(2, n_out=-1),
            _row(3, n_in=10**9, ids=[0]),
            _row(4, n_in=2000, ids=[1]),
            _row(5, n_in=0),
        ],
    )
    trace = read_trace(path)
    assert len(trace.read_all()) == 1
    assert trace.tally.refused == 5
    assert trace.tally.refused_lines == [2, 3, 4, 5, 6]
    assert "first: line 2: input length -5 outside" in trace.tally.summary()


def test_out_of_order_arrivals_are_sorted_and_said(tmp_path):
    path = _mooncake_lines(tmp_path / "t.jsonl", [_row(0), _row(3000), _row(1000), _row(2000)])
    trace = read_trace(path)
    assert [r.arrival_s for r in trace.read_all()] == [0.0, 1.0, 2.0, 3.0]
    assert trace.tally.out_of_order == 2
    assert "2 out of order (sorted by arrival)" in trace.tally.summary()


def test_azure_bad_rows(tmp_path):
    path = tmp_path / "az.csv"
    path.write_text(
        "TIMESTAMP,ContextTokens,GeneratedTokens\r\n"
        "2023-11-16 18:15:46.6805900,374,44\r\n"
        "yesterday,10,10\r\n"
        "2023-11-16 18:15:47.0,12.5,3\r\n"
        "2023-11-16 18:15:48.0,1,2,3\r\n"
        "2023-11-16 18:15:49.0,nan,3\r\n"
        "2023-11-16 18:15:50.0,100,7\r\n"
    )
    trace = read_trace(path)
    assert [(r.arrival_s, r.input_len) for r in trace.read_all()] == [
        (0.0, 374),
        (pytest.approx(3.31941), 100),
    ]
    assert trace.tally.unparseable_lines == [3, 4, 5, 6]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\n\n", "empty"),
        (b"hello,world\n1,2\n", "format not recognised"),
        (b"\x1f\x8b\x08garbage", "cannot read"),
        (b"\xff\xfe\x00\x01binary", "format not recognised"),
    ],
)
def test_unreadable_files_are_one_line(tmp_path, content, message):
    path = tmp_path / "x.trace"
    path.write_bytes(content)
    with pytest.raises(BadInput, match=message):
        read_trace(path).read_all()


def test_missing_file_and_bad_window_options(tmp_path):
    with pytest.raises(BadInput, match="no such file"):
        read_trace(tmp_path / "nope.csv")
    for kwargs in (
        {"start_s": -1},
        {"duration_s": float("nan")},
        {"duration_s": 0},
        {"max_requests": 0},
    ):
        with pytest.raises(BadInput):
            read_trace(AZURE, **kwargs)


def test_header_only_and_all_bad_lines_say_why(tmp_path):
    path = tmp_path / "az.csv"
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\nbad,1,1\n")
    with pytest.raises(BadInput, match=r"no requests \(1 unparseable"):
        read_trace(path).read_all()


def test_sqlite_without_the_table_is_one_line(tmp_path):
    path = tmp_path / "x.db"
    sqlite3.connect(path).execute("CREATE TABLE other (a)").connection.commit()
    with pytest.raises(BadInput, match="no table 'requests'"):
        read_trace(path).read_all()


def test_a_long_gzip_trace_streams_in_bounded_memory(tmp_path, monkeypatch):
    # 30,000 lines held whole would take ~5 MB of Python objects; streamed with a 1,000-request
    # reorder buffer the reader's peak stays a small fraction of that (10 million lines alike).
    monkeypatch.setattr("harness.traffic.read.REORDER_WINDOW", 1000)
    path = tmp_path / "long.jsonl.gz"
    line = '{"timestamp": %d, "input_length": 600, "output_length": 5, "hash_ids": [1, 2]}\n'
    with gzip.open(path, "wt", compresslevel=1) as out:
        out.write("".join(line % i for i in range(30_000)))
    trace = read_trace(path)
    tracemalloc.start()
    count = sum(1 for _ in trace)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 30_000
    assert peak < 2**20
