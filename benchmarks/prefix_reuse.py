"""Prefix reuse in a trace with block hashes (Mooncake): the share of input tokens in blocks an
earlier request already sent (anywhere, and as a leading prefix: what a prefix cache serves).

    python benchmarks/prefix_reuse.py [TRACE]   (default: the Mooncake conversation trace)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from harness.traffic import read_trace
from harness.traffic.base import BLOCK_TOKENS_DEFAULT
from harness.traffic.reuse import prefix_reuse

DEFAULT = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "traces"
    / "mooncake_conversation_trace.jsonl"
)


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if not path.is_file():
        path = Path("/work/shared/data/traces/mooncake_conversation_trace.jsonl")
    started = time.perf_counter()
    trace = read_trace(path)
    reuse = prefix_reuse(trace, trace.block_tokens or BLOCK_TOKENS_DEFAULT)
    print(
        f"trace: {path.name} ({trace.format_name}), {reuse.requests} requests, "
        f"{reuse.input_tokens:,} input tokens, read in {time.perf_counter() - started:.1f} s"
    )
    print(
        f"input tokens in blocks seen before:          {reuse.reused_tokens:,} "
        f"({reuse.reuse_share:.1%})"
    )
    print(
        f"  of which in the leading prefix (cacheable): {reuse.leading_reused_tokens:,} "
        f"({reuse.leading_reuse_share:.1%})"
    )


if __name__ == "__main__":
    main()
