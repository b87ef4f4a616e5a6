"""A trace made ready to replay against an endpoint: its window read and checked, lengths cut to
`max_input_len` where asked, refused when beyond the model's context (before any request is
sent), and one exact-length prompt per request from keyed token blocks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import BadInput
from harness.stats import percentile
from harness.traffic.base import BLOCK_TOKENS_DEFAULT, TraceRequest
from harness.traffic.prompt import Prompt, Tokenizer
from harness.traffic.prompts import BlockPrompts, trace_prompts
from harness.traffic.read import read_trace


@dataclass
class TraceReplay:
    requests: list[TraceRequest]
    prompts: list[Prompt]
    name: str
    format_name: str
    content_sha256: str
    max_input_len: int | None
    max_output_len: int | None
    clamped_requests: int
    notes: list[str] = field(default_factory=list)

    @property
    def arrivals_s(self) -> list[float]:
        return [r.arrival_s for r in self.requests]

    @property
    def span_s(self) -> float:
        return self.requests[-1].arrival_s if self.requests else 0.0

    def settings(self) -> dict[str, Any]:
        """What makes two replays the same work: the trace, its exact content, the clamps."""
        return {
            "trace": self.name,
            "trace_format": self.format_name,
            "trace_sha256": self.content_sha256,
            "max_input_len": self.max_input_len,
            "max_output_len": self.max_output_len,
        }

    def describe(self) -> dict[str, Any]:
        """For run.json: what was replayed and what was left out or changed."""
        return {
            **self.settings(),
            "requests": len(self.requests),
            "span_s": self.span_s,
            "clamped_requests": self.clamped_requests,
            "notes": self.notes,
        }

    def summary_line(self) -> str:
        line = (
            f"Trace {self.name} ({self.format_name}): {len(self.requests)} requests over "
            f"{self.span_s:.0f} s of trace time"
        )
        if self.clamped_requests:
            line += f"; {self.clamped_requests} cut to --max-input-len/--max-output-len"
        return line + "".join(f"; {note}" for note in self.notes)


def model_context_tokens(folder: str | None) -> int | None:
    """`max_position_embeddings` of a local model folder's config.json, where there is one."""
    if folder is None:
        return None
    path = Path(folder) / "config.json"
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("max_position_embeddings")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and value > 0 else None


def load_replay(
    path: str,
    fmt: str | None,
    tokenizer: Tokenizer | None,
    *,
    seed: int,
    strict: bool = False,
    start_s: float | None = None,
    duration_s: float | None = None,
    max_requests: int | None = None,
    max_input_len: int | None = None,
    max_output_len: int | None = None,
    context_tokens: int | None = None,
    shared_prefix_len: int = 0,
    default_output_len: int = 1,
) -> TraceReplay:
    trace = read_trace(
        path, fmt, strict=strict, start_s=start_s, duration_s=duration_s, max_requests=max_requests
    )
    requests = trace.read_all()
    assert trace.content_sha256 is not None
    clamped = sum(
        1
        for r in requests
        if (max_input_len is not None and r.input_len > max_input_len)
        or (max_output_len is not None and (r.output_len or 0) > max_output_len)
    )
    if max_output_len is not None:
        requests_sent = [
            r if r.output_len is None or r.output_len <= max_output_len
            else TraceRequest(r.arrival_s, r.input_len, max_output_len, r.hash_ids)
            for r in requests
        ]  # fmt: skip
    else:
        requests_sent = requests
    notes = [trace.tally.summary()] if trace.tally.summary() else []
    if context_tokens is not None:
        over = [
            n
            for r in requests_sent
            if (n := min(r.input_len, max_input_len or r.input_len) + (r.output_len or 0))
            > context_tokens
        ]
        if over:
            raise BadInput(
                f"trace {path}: {len(over)} of {len(requests)} requests need more than the "
                f"model's context of {context_tokens} tokens (largest input + output: "
                f"{max(over)}); cut lengths with --max-input-len/--max-output-len or pick a window"
            )
    builder = BlockPrompts(tokenizer, trace.block_tokens or BLOCK_TOKENS_DEFAULT, seed)
    prompts = trace_prompts(
        builder,
        requests_sent,
        max_input_len=max_input_len,
        shared_prefix_len=shared_prefix_len,
        default_output_len=default_output_len,
    )
    return TraceReplay(
        requests=requests,
        prompts=prompts,
        name=trace.name,
        format_name=trace.format_name,
        content_sha256=trace.content_sha256,
        max_input_len=max_input_len,
        max_output_len=max_output_len,
        clamped_requests=clamped,
        notes=notes,
    )


def mix_columns(records: list[Any]) -> dict[str, Any]:
    """Length percentiles of what was served (completed requests, the server's token counts)."""
    ok = [r for r in records if r.ok]
    columns: dict[str, Any] = {}
    for name, values in (
        ("input_len", [r.input_tokens for r in ok if r.input_tokens is not None]),
        ("output_len", [r.output_tokens for r in ok if r.output_tokens is not None]),
    ):
        for q in (50, 90, 99):
            columns[f"{name}_p{q}"] = percentile(values, q) if values else None
    return columns
