"""Azure LLM inference traces (Azure/AzurePublicDataset, 2023 and 2024): CSV with the columns
`TIMESTAMP, ContextTokens, GeneratedTokens`, one line per request, wall-clock timestamps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from harness.traffic.base import (
    CsvTraceReader,
    LineError,
    RawRequest,
    TraceTally,
    csv_rows,
    parse_int,
)
from harness.traffic.timestamps import epoch_seconds


class AzureReader(CsvTraceReader):
    format_name = "azure"
    description = "Azure LLM inference trace CSV (TIMESTAMP, ContextTokens, GeneratedTokens)"
    columns = ("timestamp", "contexttokens", "generatedtokens")

    def requests(self, stream: IO[str], tally: TraceTally) -> Iterator[RawRequest]:
        (at_time, at_in, at_out), rows = csv_rows(stream, self.columns, tally)
        for line, row in rows:
            try:
                yield RawRequest(
                    time_s=epoch_seconds(row[at_time], "TIMESTAMP"),
                    input_len=parse_int(row[at_in], "ContextTokens"),
                    output_len=parse_int(row[at_out], "GeneratedTokens"),
                    hash_ids=None,
                    line=line,
                )
            except LineError as err:
                tally.note_unparseable(line, str(err))
