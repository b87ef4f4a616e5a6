"""gpucost's own request log (`harness/metering/request_log.py`: what `RequestMeter` writes), as
JSON Lines or a SQLite `requests` table: `timestamp` (ISO, the request's start), `input_tokens`,
`output_tokens`, `status`. Replaying it puts last week's production traffic on a candidate
instance. Failed requests and lines without input tokens (not text) are skipped and counted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.errors import BadInput
from harness.reconcile.requests import SQLITE_TABLE, open_sqlite_log
from harness.traffic.base import (
    JsonLinesTraceReader,
    LineError,
    LineSkipped,
    RawRequest,
    TraceReader,
    TraceTally,
    json_object,
    number_text,
    parse_int,
)
from harness.traffic.timestamps import epoch_seconds

SQLITE_MAGIC = b"SQLite format 3\x00"


def _count(value: Any, what: str) -> int:
    return parse_int(number_text(value, what), what)


def _request(fields: dict[str, Any], line: int) -> RawRequest:
    status = fields.get("status")
    if status not in (None, "ok"):
        raise LineSkipped(f"status {str(status)[:20]}")
    stamp = fields.get("timestamp")
    if not isinstance(stamp, str):
        raise LineError("no ISO 'timestamp'")
    if fields.get("input_tokens") is None:
        raise LineSkipped("no input_tokens")
    output = fields.get("output_tokens")
    return RawRequest(
        time_s=epoch_seconds(stamp),
        input_len=_count(fields["input_tokens"], "input_tokens"),
        output_len=None if output is None else _count(output, "output_tokens"),
        hash_ids=None,
        line=line,
    )


class RequestLogReader(JsonLinesTraceReader):
    format_name = "request-log"
    description = "gpucost request log, JSON Lines (timestamp, input_tokens, output_tokens)"

    @classmethod
    def sniff(cls, first_line: str) -> bool:
        record = json_object(first_line)
        return (
            record is not None
            and isinstance(record.get("timestamp"), str)
            and "input_length" not in record
            and ("workload" in record or "wall_s" in record or "input_tokens" in record)
        )

    def request(self, record: dict[str, Any], line: int) -> RawRequest:
        return _request(record, line)


class RequestLogSqliteReader(TraceReader):
    format_name = "request-log-sqlite"
    description = "gpucost request log, SQLite table 'requests'"
    binary_magic = SQLITE_MAGIC

    @classmethod
    def sniff(cls, first_line: str) -> bool:
        return first_line.startswith(SQLITE_MAGIC.decode("latin-1"))

    def requests_from_path(self, path: Path, tally: TraceTally) -> Iterator[RawRequest]:
        with open_sqlite_log(path, "trace") as (connection, names):
            if "timestamp" not in names or "input_tokens" not in names:
                raise BadInput(
                    f"trace {path}: no table '{SQLITE_TABLE}' with 'timestamp' and "
                    f"'input_tokens' columns"
                )
            wanted = [
                n for n in ("timestamp", "input_tokens", "output_tokens", "status") if n in names
            ]
            columns = ", ".join(f'"{n}"' for n in wanted)
            cursor = connection.execute(
                f"SELECT rowid, {columns} FROM {SQLITE_TABLE} ORDER BY rowid"
            )
            for row in cursor:
                fields = dict(zip(wanted, row[1:], strict=True))
                try:
                    yield _request(fields, row[0])
                except LineSkipped as why:
                    tally.note_skipped(str(why))
                except LineError as err:
                    tally.note_unparseable(row[0], str(err))
