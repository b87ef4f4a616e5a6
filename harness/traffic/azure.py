"""Azure LLM inference traces (Azure/AzurePublicDataset, 2023 and 2024): CSV with the columns
`TIMESTAMP, ContextTokens, GeneratedTokens`, one line per request, wall-clock timestamps."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO

from harness.traffic.base import LineError, RawRequest, TraceReader, TraceTally, parse_int
from harness.traffic.timestamps import epoch_seconds

_COLUMNS = ("timestamp", "contexttokens", "generatedtokens")


def _header(line: str) -> list[str]:
    return [name.strip().strip('"').lower() for name in line.strip().split(",")]


class AzureReader(TraceReader):
    format_name = "azure"
    description = "Azure LLM inference trace CSV (TIMESTAMP, ContextTokens, GeneratedTokens)"

    @classmethod
    def sniff(cls, first_line: str) -> bool:
        return all(name in _header(first_line) for name in _COLUMNS)

    def requests(self, stream: IO[str], tally: TraceTally) -> Iterator[RawRequest]:
        rows = csv.reader(stream)
        header = [name.strip().lower() for name in next(rows, [])]
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
                yield RawRequest(
                    time_s=epoch_seconds(row[at_time], "TIMESTAMP"),
                    input_len=parse_int(row[at_in], "ContextTokens"),
                    output_len=parse_int(row[at_out], "GeneratedTokens"),
                    hash_ids=None,
                    line=line,
                )
            except LineError as err:
                tally.note_unparseable(line, str(err))
