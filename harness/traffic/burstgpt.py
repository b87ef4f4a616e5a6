"""BurstGPT traces (HPMLL/BurstGPT): CSV with `Timestamp` (seconds from the trace start),
`Model`, `Request tokens`, `Response tokens`, `Total tokens`, `Log Type`. A failed request is
logged with 0 response tokens: skipped and counted, not replayed."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO

from harness.traffic.base import (
    LineError,
    RawRequest,
    TraceReader,
    TraceTally,
    parse_float,
    parse_int,
)

_COLUMNS = ("timestamp", "request tokens", "response tokens")


def _names(row: list[str]) -> list[str]:
    return [name.strip().strip('"').lower() for name in row]


class BurstGptReader(TraceReader):
    format_name = "burstgpt"
    description = "BurstGPT CSV (Timestamp, Model, Request tokens, Response tokens, ...)"

    @classmethod
    def sniff(cls, first_line: str) -> bool:
        header = _names(first_line.strip().split(","))
        return all(name in header for name in _COLUMNS)

    def requests(self, stream: IO[str], tally: TraceTally) -> Iterator[RawRequest]:
        rows = csv.reader(stream)
        header = _names(next(rows, []))
        missing = [name for name in _COLUMNS if name not in header]
        if missing:
            raise LineError(f"header has no column(s) {', '.join(missing)}")
        at_time, at_in, at_out = (header.index(name) for name in _COLUMNS)
        width = len(header)
        for line, row in enumerate(rows, start=2):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            try:
                if len(row) != width:
                    raise LineError(f"{len(row)} fields, the header has {width}")
                output_len = parse_int(row[at_out], "Response tokens")
                time_s = parse_float(row[at_time], "Timestamp")
                input_len = parse_int(row[at_in], "Request tokens")
            except LineError as err:
                tally.note_unparseable(line, str(err))
                continue
            if output_len == 0:
                tally.note_skipped("failed request: 0 response tokens")
                continue
            yield RawRequest(time_s, input_len, output_len, None, line)
