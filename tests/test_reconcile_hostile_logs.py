"""Request logs past the header: damage deep in a file is a bad line with its own number, never
merged with a neighbour, and impossible values (inf, NaN, huge integers, garbage dates) are
refused, not summed."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from harness.errors import BadInput
from harness.reconcile.requests import read_requests

GOOD = {"timestamp": "2026-11-01T10:00:00Z", "workload": "text", "output_tokens": 10}


def line(**changes: object) -> str:
    return json.dumps({**GOOD, **changes})


@pytest.mark.parametrize("chunk_rows", [3, 100_000])
def test_each_kind_of_damage_is_a_bad_line_with_its_own_number(
    tmp_path: Path, chunk_rows: int
) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    texts = [
        line(),  # 1
        line() + line(),  # 2: two objects on one line
        line()[:-1] + ",",  # 3: a record split over two lines ...
        '"input_tokens": 5}',  # 4: ... and its end
        deep,  # 5: deep nesting
        line(output_tokens=10**400),  # 6: an integer no float holds
        line(output_tokens=float("inf")),  # 7: json.dumps writes Infinity
        line(wall_s=float("nan")),  # 8: NaN
        line(timestamp="2026"),  # 9: a year is no date
        line(timestamp="5"),  # 10: nor is 5 seconds after 1970
        line(timestamp="9999-12-31T00:00:00Z"),  # 11: far future
        line(),  # 12
        # 13 and 14 together parse as two valid objects if joined with a comma: they are not.
        '{"timestamp": "2026-11-01T10:00:00Z", "workload": "text", "output_tokens": [1',
        "2]}",
        line(),  # 15
    ]
    raw = ("\n".join(texts) + "\n").encode()
    raw += b'{"timestamp": "2026-11-01T10:00:00Z", "workload": "te\xe9xt"}\n'  # 16: not UTF-8
    raw += (line() + "\n").encode()  # 17
    path = tmp_path / "log.jsonl"
    path.write_bytes(raw)
    result = read_requests(path, "day", chunk_rows=chunk_rows)
    bad = result.bad_lines
    assert bad.examples["no JSON object"] == [2, 3, 4, 5, 13, 14, 16]
    assert bad.examples["no readable timestamp"] == [9, 10, 11]
    assert bad.examples["output_tokens not a number >= 0"] == [6]
    assert bad.examples["output_tokens not finite"] == [7]
    assert bad.examples["wall_s not a number >= 0"] == [8]
    assert bad.total == 13
    assert result.lines_read == 17
    kept = result.counts  # lines 1, 12, 15 and 17
    assert int(kept["inferences"].sum()) == 4
    assert float(kept["output_tokens"].sum()) == 40.0
    with pytest.raises(BadInput, match=r"line 2.*--strict"):
        read_requests(path, "day", strict=True)


def test_csv_logs_refuse_infinite_counts_and_sqlite_needs_its_columns(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(
        "timestamp,workload,output_tokens,wall_s\n"
        "2026-11-01T10:00:00Z,text,10,0.5\n"
        "2026-11-01T10:00:01Z,text,inf,0.5\n"
        "2026-11-01T10:00:02Z,text,10,nan\n"
        "2026-11-01T10:00:03Z,text,10,-inf\n",
        encoding="utf-8",
    )
    result = read_requests(path, "day")
    assert result.bad_lines.examples == {
        "output_tokens not finite": [3],
        "wall_s not a number >= 0": [4],
        "wall_s not finite": [5],
    }
    assert int(result.counts["inferences"].sum()) == 1
    db = tmp_path / "log.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE requests (id INTEGER, payload TEXT)")
        con.execute("INSERT INTO requests VALUES (1, 'x')")
    with pytest.raises(
        BadInput, match=r"table 'requests' has no 'timestamp' column \(columns: id, payload\)"
    ):
        read_requests(db, "day")


@pytest.mark.parametrize("period", ["day", "week", "month"])
def test_the_fast_path_and_the_line_reader_agree_on_a_clean_log(
    tmp_path: Path, period: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import random

    import pandas as pd

    from harness.reconcile import requests_sql

    rng = random.Random(7)
    records = []
    for i in range(3000):
        stamp: object = 1_793_491_200 + rng.randrange(0, 40 * 86_400) + rng.random()
        if i % 3:
            stamp = pd.Timestamp(stamp, unit="s", tz="UTC").isoformat()
        record = {"timestamp": stamp, "workload": rng.choice(["text", "embedding", " text "])}
        if i % 5:
            record["instance"] = rng.choice(["g5.xlarge", "g6.xlarge"])
        if i % 7:
            record["output_tokens"] = rng.randrange(0, 500)
        record["wall_s"] = rng.random()
        record["status"] = rng.choice(["ok", "OK", "error", ""])
        records.append(record)
    records.append({**GOOD, "timestamp": "2026-11-30T23:59:59.999999+00:00"})
    records.append({**GOOD, "timestamp": "2026-12-01T00:00:00-01:00"})
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    calls = []
    real = requests_sql.read_jsonl_sql
    monkeypatch.setattr(requests_sql, "read_jsonl_sql", lambda *a: calls.append(1) or real(*a))
    fast = read_requests(path, period, workload="text")
    assert calls == [1] and fast.lines_read == len(records) and fast.bad_lines.total == 0
    monkeypatch.setattr(requests_sql, "read_jsonl_sql", lambda *a: None)
    slow = read_requests(path, period, workload="text")
    assert slow.lines_read == fast.lines_read
    pd.testing.assert_frame_equal(
        fast.counts.reset_index(drop=True),
        slow.counts.reset_index(drop=True),
        check_exact=False,
        check_dtype=False,
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("true", "output_tokens not a number >= 0"),
        ("NaN", "output_tokens not a number >= 0"),
        ('"many"', "output_tokens not a number >= 0"),
        ("-1", "output_tokens not a number >= 0"),
        ("1e400", "output_tokens not finite"),
    ],
)
def test_a_well_formed_log_with_one_impossible_count_is_not_summed(
    tmp_path: Path, value: str, reason: str
) -> None:
    path = tmp_path / "log.jsonl"
    bad = f'{{"timestamp": "2026-11-01T10:00:00Z", "workload": "text", "output_tokens": {value}}}'
    path.write_text("\n".join([line(), line(), bad, line()]) + "\n", encoding="utf-8")
    result = read_requests(path, "day")
    assert result.bad_lines.examples == {reason: [3]}
    assert float(result.counts["output_tokens"].sum()) == 30.0
