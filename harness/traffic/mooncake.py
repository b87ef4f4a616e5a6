"""Mooncake traces (kvcache-ai/Mooncake, FAST'25 release): JSON Lines with `timestamp`
(milliseconds from the trace start), `input_length`, `output_length` and `hash_ids`, one id per
512-token block of the prompt; equal ids are the same prompt block."""

from __future__ import annotations

from typing import Any

from harness.traffic.base import (
    BLOCK_TOKENS_DEFAULT,
    JsonLinesTraceReader,
    LineError,
    RawRequest,
    json_object,
    number_text,
    parse_float,
    parse_int,
)


def _number(record: dict[str, Any], key: str) -> Any:
    if key not in record:
        raise LineError(f"no {key!r}")
    return number_text(record[key], key)


def _hash_ids(value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(item, int) and not isinstance(item, bool) and item >= 0 for item in value
    ):
        raise LineError("hash_ids is not a list of non-negative integers")
    return tuple(value)


class MooncakeReader(JsonLinesTraceReader):
    format_name = "mooncake"
    description = "Mooncake JSON Lines (timestamp ms, input_length, output_length, hash_ids)"
    block_tokens = BLOCK_TOKENS_DEFAULT

    @classmethod
    def sniff(cls, first_line: str) -> bool:
        record = json_object(first_line)
        return record is not None and "input_length" in record and "timestamp" in record

    def request(self, record: dict[str, Any], line: int) -> RawRequest:
        output = record.get("output_length")
        return RawRequest(
            time_s=parse_float(_number(record, "timestamp"), "timestamp") / 1000.0,
            input_len=parse_int(_number(record, "input_length"), "input_length"),
            output_len=None
            if output is None
            else parse_int(_number(record, "output_length"), "output_length"),
            hash_ids=_hash_ids(record.get("hash_ids")),
            line=line,
        )
