"""Request-log readers (CSV, JSON Lines, gzip, SQLite), UTC periods, bad lines, and streaming."""

from __future__ import annotations

import csv
import gzip
import json
import sqlite3
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.errors import BadInput
from harness.reconcile.periods import (
    NAT,
    iso_utc,
    parse_timestamps_ns,
    period_end_ns,
    period_starts_ns,
)
from harness.reconcile.requests import read_requests

LINES = [
    {
        "timestamp": "2026-11-01T23:59:59.9Z",
        "workload": "text",
        "input_tokens": 100,
        "output_tokens": 10,
    },
    {
        "timestamp": "2026-11-02T00:00:00.1Z",
        "workload": "text",
        "input_tokens": 200,
        "output_tokens": 20,
        "status": "error",
    },
    # 01:00 at +02:00 is 23:00 UTC on Nov 1.
    {
        "timestamp": "2026-11-02T01:00:00+02:00",
        "workload": "text",
        "input_tokens": 300,
        "output_tokens": 30,
    },
    # Epoch seconds: 1793577600 is 2026-11-02T00:00:00Z.
    {"timestamp": 1793577600.5, "workload": "text", "input_tokens": 400, "output_tokens": 40},
]


def by_day(result) -> dict[str, tuple[int, int, float, float]]:
    return {
        iso_utc(int(r.period_start_ns))[:10]: (
            int(r.inferences),
            int(r.errors),
            r.input_tokens,
            r.output_tokens,
        )
        for r in result.counts.itertuples()
    }


# Nov 1: lines 1 and 3 → 2 requests, 400 in, 40 out. Nov 2: lines 2 and 4 → 600 in, 60 out, 1 error.
EXPECTED_DAYS = {"2026-11-01": (2, 0, 400.0, 40.0), "2026-11-02": (2, 1, 600.0, 60.0)}


def write_jsonl(path: Path, records: list[dict]) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record) + "\n")
    return path


def write_csv(path: Path, records: list[dict]) -> Path:
    names = list(dict.fromkeys(k for r in records for k in r))
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, names)
        writer.writeheader()
        writer.writerows(records)
    return path


def write_sqlite(path: Path, records: list[dict]) -> Path:
    names = ["timestamp", "workload", "input_tokens", "output_tokens", "status"]
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE requests ({', '.join(names)})")
        db.executemany(
            f"INSERT INTO requests VALUES ({', '.join('?' * len(names))})",
            [tuple(r.get(n) for n in names) for r in records],
        )
    db.close()
    return path


@pytest.mark.parametrize(
    ("name", "writer"),
    [
        ("log.jsonl", write_jsonl),
        ("log.ndjson.gz", write_jsonl),
        ("log.csv", write_csv),
        ("log.sqlite", write_sqlite),
    ],
)
def test_every_log_kind_splits_days_at_utc_midnight(tmp_path: Path, name: str, writer) -> None:
    result = read_requests(writer(tmp_path / name, LINES), "day", chunk_rows=3)
    assert by_day(result) == EXPECTED_DAYS
    assert result.lines_read == 4
    assert result.bad_lines.total == 0


def test_timestamps_parse_to_utc_nanoseconds() -> None:
    stamps = parse_timestamps_ns(
        pd.Series(
            [
                "2026-11-01T23:59:59.9Z",
                "2026-11-02 00:00:00.1",
                "1793577600",
                1793577600.25,
                "x",
                None,
            ],
            dtype=object,
        )
    )
    assert stamps[0] == 1_793_577_599_900_000_000
    assert stamps[1] == 1_793_577_600_100_000_000  # no offset: taken as UTC
    assert stamps[2] == 1_793_577_600_000_000_000
    assert stamps[3] == 1_793_577_600_250_000_000
    assert list(stamps[4:]) == [NAT, NAT]


def test_week_and_month_periods() -> None:
    # 2026-11-01 is a Sunday, 2026-11-02 a Monday; 2026-11-30 is the last day of the month.
    stamps = parse_timestamps_ns(
        pd.Series(
            [
                "2026-11-01T12:00:00Z",
                "2026-11-02T00:00:00Z",
                "2026-11-30T23:59:59Z",
                "2026-12-01T00:00:00Z",
            ]
        )
    )
    weeks = [iso_utc(int(s))[:10] for s in period_starts_ns(stamps, "week")]
    months = [iso_utc(int(s))[:10] for s in period_starts_ns(stamps, "month")]
    assert weeks == ["2026-10-26", "2026-11-02", "2026-11-30", "2026-11-30"]
    assert months == ["2026-11-01", "2026-11-01", "2026-11-01", "2026-12-01"]
    november = int(period_starts_ns(stamps[:1], "month")[0])
    assert iso_utc(period_end_ns(november, "month")) == "2026-12-01T00:00:00+00:00"
    february = int(parse_timestamps_ns(pd.Series(["2028-02-01T00:00:00Z"]))[0])
    assert iso_utc(period_end_ns(february, "month")) == "2028-03-01T00:00:00+00:00"  # leap year


def test_bad_lines_are_counted_with_line_numbers_then_skipped_or_fatal(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    texts = [
        json.dumps(LINES[0]),
        "",
        json.dumps({**LINES[1], "timestamp": "soon"}),
        "{not json",
        json.dumps({**LINES[2], "output_tokens": -3}),
        json.dumps(LINES[3]),
    ]
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    result = read_requests(path, "day", chunk_rows=2)
    assert result.bad_lines.counts == {
        "no readable timestamp": 1,
        "no JSON object": 1,
        "output_tokens not a number >= 0": 1,
    }
    message = result.bad_lines.describe(path)
    assert "3 line(s) skipped" in message
    assert "(line 3)" in message and "(line 4)" in message and "(line 5)" in message
    # Kept: line 1 (Nov 1, 100 in) and line 6 (Nov 2, 400 in).
    assert by_day(result) == {"2026-11-01": (1, 0, 100.0, 10.0), "2026-11-02": (1, 0, 400.0, 40.0)}
    with pytest.raises(BadInput, match=r"line 3.*--strict"):
        read_requests(path, "day", strict=True)


def test_lists_objects_and_booleans_are_bad_lines_not_a_crash(tmp_path: Path) -> None:
    records = [
        LINES[0],
        {**LINES[1], "workload": ["text"]},
        {**LINES[2], "instance": {"a": 1}},
        {**LINES[1], "status": True},
        {**LINES[2], "output_tokens": True},
        {**LINES[1], "timestamp": True},
        {**LINES[3], "instance": 42},  # a number is read as text
    ]
    path = write_jsonl(tmp_path / "log.jsonl", records)
    for chunk_rows in (2, 100):
        result = read_requests(path, "day", chunk_rows=chunk_rows)
        assert result.bad_lines.counts == {
            "no readable timestamp": 1,
            "workload not text": 1,
            "instance not text": 1,
            "status not text": 1,
            "output_tokens not a number >= 0": 1,
        }
        assert result.bad_lines.examples["output_tokens not a number >= 0"] == [5]
        assert by_day(result) == {
            "2026-11-01": (1, 0, 100.0, 10.0),
            "2026-11-02": (1, 0, 400.0, 40.0),
        }
        assert set(result.counts["instance"]) == {"", "42"}
    with pytest.raises(BadInput, match=r"workload not text \(line 2\).*--strict"):
        read_requests(path, "day", strict=True)


def test_csv_text_columns_stay_text_and_a_boolean_count_is_refused(tmp_path: Path) -> None:
    records = [{**LINES[0], "status": "true", "instance": "007"}, {**LINES[2], "status": "false"}]
    result = read_requests(write_csv(tmp_path / "log.csv", records), "day")
    assert result.bad_lines.total == 0
    assert set(result.counts["instance"]) == {"007", ""}
    assert int(result.counts["errors"].sum()) == 2  # "true" and "false" are not "ok"
    flags = [{**LINES[0], "output_tokens": "true"}, {**LINES[2], "output_tokens": "false"}]
    refused = read_requests(write_csv(tmp_path / "flags.csv", flags), "day")
    assert refused.bad_lines.counts == {"output_tokens not a number >= 0": 2}


def test_workload_filter_units_never_given_stay_empty(tmp_path: Path) -> None:
    records = [*LINES, {"timestamp": "2026-11-01T10:00:00Z", "workload": "image", "images": 2}]
    result = read_requests(write_jsonl(tmp_path / "log.jsonl", records), "month", workload="image")
    row = result.counts.iloc[0]
    assert len(result.counts) == 1 and row["images"] == 2 and int(row["inferences"]) == 1
    assert np.isnan(row["input_tokens"]) and np.isnan(row["audio_s"])


def test_unknown_log_kind_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    path.write_text("x\n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"\.csv, \.jsonl"):
        read_requests(path, "day")
    with pytest.raises(BadInput, match="does not exist"):
        read_requests(tmp_path / "none.jsonl", "day")
    with pytest.raises(BadInput, match="no table 'requests'"):
        sqlite3.connect(tmp_path / "empty.sqlite").close()
        read_requests(tmp_path / "empty.sqlite", "day")


def test_a_large_log_streams_in_bounded_memory(tmp_path: Path) -> None:
    lines = 80_000
    path = tmp_path / "big.jsonl"
    start = 1_793_491_200  # 2026-11-01T00:00:00Z; one request every 5 s spans 400,000 s ≈ 4.6 days
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(lines):
            fh.write(
                f'{{"timestamp":{start + 5 * i},"workload":"text","input_tokens":{i % 7},'
                f'"output_tokens":3,"wall_s":0.5,"status":"ok"}}\n'
            )
    # Warm up first so one-time imports and caches are not counted as the read's memory.
    read_requests(write_jsonl(tmp_path / "one.jsonl", LINES[:1]), "day")
    tracemalloc.start()
    try:
        result = read_requests(path, "day", chunk_rows=5_000)
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert int(result.counts["inferences"].sum()) == lines
    assert result.counts["output_tokens"].sum() == 3 * lines
    assert result.counts["input_tokens"].sum() == sum(i % 7 for i in range(lines))
    assert len(result.counts) == 5  # 17,280 lines a day: Nov 1..4 whole, Nov 5 partial
    # Read whole, this log peaks near 75 MiB of Python objects; a 5k-line chunk near 7 MiB.
    assert peak_bytes < 24 * 2**20, f"peak {peak_bytes / 2**20:.1f} MiB"
