"""BurstGPT traces (HPMLL/BurstGPT): CSV with `Timestamp` (seconds from the trace start),
`Model`, `Request tokens`, `Response tokens`, `Total tokens`, `Log Type`. A failed request is
logged with 0 response tokens: skipped and counted, not replayed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from harness.traffic.base import (
    CsvTraceReader,
    LineError,
    RawRequest,
    TraceTally,
    csv_rows,
    parse_float,
    parse_int,
)


class BurstGptReader(CsvTraceReader):
    format_name = "burstgpt"
    description = "BurstGPT CSV (Timestamp, Model, Request tokens, Response tokens, ...)"
    columns = ("timestamp", "request tokens", "response tokens")

    def requests(self, stream: IO[str], tally: TraceTally) -> Iterator[RawRequest]:
        (at_time, at_in, at_out), rows = csv_rows(stream, self.columns, tally)
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
