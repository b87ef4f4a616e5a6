"""How much of a trace's input a prefix cache could reuse: the share of input tokens in blocks
(`hash_ids`) an earlier request already sent, over the whole trace (an unbounded cache; a real
cache that evicts reuses less)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from harness.traffic.base import TraceRequest


@dataclass(frozen=True)
class PrefixReuse:
    requests: int
    input_tokens: int
    reused_tokens: int
    """tokens in blocks seen before, anywhere in the prompt"""
    leading_reused_tokens: int
    """tokens in the leading run of blocks seen before: what a prefix cache serves"""

    @property
    def reuse_share(self) -> float | None:
        return self.reused_tokens / self.input_tokens if self.input_tokens else None

    @property
    def leading_reuse_share(self) -> float | None:
        return self.leading_reused_tokens / self.input_tokens if self.input_tokens else None


def prefix_reuse(requests: Iterable[TraceRequest], block_tokens: int) -> PrefixReuse:
    """Streams the requests once, holding only the set of block ids seen."""
    seen: set[int] = set()
    count = total = reused = leading = 0
    for request in requests:
        count += 1
        total += request.input_len
        if not request.hash_ids:
            continue
        in_lead = True
        for position, block in enumerate(request.hash_ids):
            size = min(block_tokens, request.input_len - position * block_tokens)
            if size <= 0:
                break
            if block in seen:
                reused += size
                if in_lead:
                    leading += size
            else:
                in_lead = False
                seen.add(block)
    return PrefixReuse(count, total, reused, leading)
