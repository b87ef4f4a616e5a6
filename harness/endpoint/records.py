"""One request's own timestamps: everything a level's summary is computed from."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field


@dataclass
class RequestRecord:
    """Times are `time.perf_counter()` seconds. `token_times_s` holds the arrival of every
    streamed chunk that carried content (first one = first token)."""

    index: int
    start_s: float
    end_s: float | None = None
    first_token_s: float | None = None
    token_times_s: list[float] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None
    requested_output_tokens: int | None = None
    cached_input_tokens: int | None = None
    """`usage.prompt_tokens_details.cached_tokens` where the server reports it (prefix cache)"""
    status_code: int | None = None
    error: str | None = None
    usage_rejected: str | None = None
    """Why the server's `usage` counts were not taken (the stream's or tokenizer's count was)."""

    def sent_at(self, sent_s: float) -> None:
        """The request's headers left the client at `sent_s`: latencies count from there, not
        from when it was handed to the client (a burst queued in the client's own event loop is
        the client's time, not the server's; open-loop lateness is `send_lag_s_p99`)."""
        self.start_s = sent_s

    @property
    def ok(self) -> bool:
        return self.error is None and self.end_s is not None

    @property
    def e2e_s(self) -> float | None:
        return None if self.end_s is None else self.end_s - self.start_s

    @property
    def ttft_s(self) -> float | None:
        return None if self.first_token_s is None else self.first_token_s - self.start_s

    @property
    def tpot_s(self) -> float | None:
        """(end − first token) / (output tokens − 1): the vLLM definition."""
        if self.first_token_s is None or self.end_s is None or not self.output_tokens:
            return None
        if self.output_tokens < 2:
            return None
        return (self.end_s - self.first_token_s) / (self.output_tokens - 1)

    def itl_s(self) -> list[float]:
        t = self.token_times_s
        return [b - a for a, b in itertools.pairwise(t)]
