"""BurstGPT traces (HPMLL/BurstGPT): CSV with `Timestamp` (seconds from the trace start),
`Model`, `Request tokens`, `Response tokens`, `Total tokens`, `Log Type`. A failed request is
logged with 0 response tokens: skipped and counted, not replayed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from harness.traffic.base import (
    LineError,
    RawRequest,
    TraceReader,
    TraceTally,
    csv_rows,
    header_names,
    parse_float,
    parse_int,
)

_COLUMNS = ("timestamp", "request tokens", "response tokens")


class BurstGptReader(TraceReader):
    format_name = "burstgpt"
    description = "BurstGPT CSV (Timestamp, Model, Request tokens, Response tokens, ...)"

    @classmethod
    def sniff(cls, first_line: str) -> bool:
        header = header_names(first_line.strip().split(","))
        return all(name in header for name in _COLUMNS)

    def requests(self, stream: IO[str], tally: TraceTally) -> Iterator[RawRequest]:
        (at_time, at_in, at_out), rows = csv_rows(stream, _COLUMNS, tally)
        for line, row in rows:
            try:
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
