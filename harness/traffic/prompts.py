"""Prompts for a replay, built from token blocks so that a prefix cache sees what production saw.

A block is a run of tokens drawn deterministically from a seed and a key: a trace's block hash id
(Mooncake's `hash_ids`), the shared prefix of `--shared-prefix-len`, or the request's own index
for a block no other request has. Equal keys give byte-identical text, so two requests with equal
leading ids share exactly that prefix.

Exact lengths by the tokenizer come from the tokens drawn: only ids whose text is one
space-led word that the tokenizer encodes back to that one id ("safe" ids). A pre-tokenizer
splits text at those spaces, so a string of safe tokens encodes to exactly those tokens, however
the blocks are cut and joined; the count is still checked once per prompt."""

from __future__ import annotations

import random
from collections.abc import Hashable
from functools import lru_cache

from harness.errors import BadInput
from harness.traffic.base import TraceRequest
from harness.traffic.prompt import Prompt, Tokenizer

_FALLBACK_WORDS = tuple(
    f" {a}{b}"
    for a in ("cost", "token", "model", "server", "queue", "price", "batch", "cache")
    for b in ("", "s", "ed", "er")
)
"""Without a tokenizer: whole words, one 'token' each (lengths then unchecked)."""


def safe_token_ids(tokenizer: Tokenizer) -> list[int]:
    """The ids whose text is a space and letters that encode back to the same single id."""
    safe = []
    for token_id in tokenizer.ids:
        text = tokenizer.decode([token_id])
        word = text[1:]
        if (
            text[:1] == " "
            and word.isalpha()
            and word.isascii()
            and tokenizer.encode(text) == [token_id]
        ):
            safe.append(token_id)
    return safe


class BlockPrompts:
    """Deterministic prompts of exact token lengths out of keyed blocks of `block_tokens`."""

    def __init__(self, tokenizer: Tokenizer | None, block_tokens: int, seed: int) -> None:
        if block_tokens < 1:
            raise BadInput(f"block size {block_tokens}: must be >= 1 token")
        self.tokenizer = tokenizer
        self.block_tokens = block_tokens
        self.seed = seed
        if tokenizer is None:
            self._pieces = list(_FALLBACK_WORDS)
        else:
            safe = safe_token_ids(tokenizer)
            if len(safe) < 2:
                raise BadInput(
                    "--tokenizer: too few whole-word tokens to build replay prompts of exact "
                    f"length ({len(safe)} found)"
                )
            self._pieces = [tokenizer.decode([i]) for i in safe]
        self._pieces_of = lru_cache(maxsize=4096)(self._make_block)

    def _make_block(self, key: Hashable) -> tuple[str, ...]:
        rng = random.Random(f"{self.seed}:{key!r}")
        return tuple(rng.choices(self._pieces, k=self.block_tokens))

    def block(self, key: Hashable, length: int) -> str:
        """The text of block `key`, cut to its first `length` tokens (a prompt's last, partial
        block is a prefix of the whole block of the same key)."""
        return "".join(self._pieces_of(key)[:length])

    def text(self, keys: list[Hashable], input_len: int) -> str:
        """`input_len` tokens: the blocks of `keys` in order, the last one cut to fit."""
        parts = []
        left = input_len
        for key in keys:
            if left <= 0:
                break
            take = min(left, self.block_tokens)
            parts.append(self.block(key, take))
            left -= take
        return "".join(parts)

    def count(self, text: str) -> int | None:
        return None if self.tokenizer is None else len(self.tokenizer.encode(text))


def request_block_keys(
    request: TraceRequest, index: int, block_tokens: int, shared_prefix_len: int = 0
) -> list[Hashable]:
    """Block keys for one request: its trace ids where it has them, else its own blocks after an
    optional shared prefix (whole blocks of `block_tokens`; `shared_prefix_len` a multiple)."""
    blocks = -(-request.input_len // block_tokens)
    if request.hash_ids is not None:
        keys: list[Hashable] = [("h", h) for h in request.hash_ids[:blocks]]
        return keys + [("r", index, b) for b in range(len(keys), blocks)]
    shared = min(shared_prefix_len // block_tokens, blocks)
    return [("shared", b) for b in range(shared)] + [("r", index, b) for b in range(shared, blocks)]


def trace_prompts(
    builder: BlockPrompts,
    requests: list[TraceRequest],
    *,
    max_input_len: int | None = None,
    default_output_len: int = 1,
    shared_prefix_len: int = 0,
) -> list[Prompt]:
    """One prompt per request, inputs cut to `max_input_len` where given, outputs as recorded
    (at least 1 token: an API cannot ask for 0; `default_output_len` where none is recorded)."""
    prompts = []
    for index, request in enumerate(requests):
        input_len = (
            request.input_len if max_input_len is None else min(request.input_len, max_input_len)
        )
        keys = request_block_keys(request, index, builder.block_tokens, shared_prefix_len)
        text = builder.text(keys, input_len)
        output_len = request.output_len if request.output_len is not None else default_output_len
        prompts.append(Prompt(text, builder.count(text), max(1, output_len)))
    return prompts


def shared_prefix_prompts(
    tokenizer: Tokenizer | None,
    count: int,
    input_len: int,
    output_len: int,
    shared_prefix_len: int,
    seed: int,
) -> list[Prompt]:
    """Synthetic prompts of `input_len` tokens that all start with the same `shared_prefix_len`
    tokens (one block), the rest each prompt's own."""
    if not 1 <= shared_prefix_len <= input_len:
        raise BadInput(
            f"--shared-prefix-len {shared_prefix_len}: must be between 1 and the input length "
            f"({input_len})"
        )
    builder = BlockPrompts(tokenizer, shared_prefix_len, seed)
    requests = [TraceRequest(0.0, input_len, output_len) for _ in range(count)]
    return trace_prompts(builder, requests, shared_prefix_len=shared_prefix_len)


def multi_turn_prompts(
    tokenizer: Tokenizer | None,
    count: int,
    input_len: int,
    output_len: int,
    turns: int,
    seed: int,
) -> list[Prompt]:
    """Chat traffic: conversations of `turns` turns, in order, each turn resending the
    conversation so far — every earlier user message (`input_len` tokens) and a stand-in for
    every earlier answer (`output_len` tokens; the server's real answer is not known in advance)
    — then its new message. Turn t's input is t × input_len + (t − 1) × output_len tokens, and
    all but its last message is the previous turn's prompt and answer: a prefix cache's case."""
    if turns < 1:
        raise BadInput(f"--turns {turns}: must be >= 1")
    builder = BlockPrompts(tokenizer, max(input_len, output_len), seed)
    prompts: list[Prompt] = []
    conversation = 0
    while len(prompts) < count:
        text = ""
        for turn in range(turns):
            if turn:
                text += builder.block(("answer", conversation, turn - 1), output_len)
            text += builder.block(("user", conversation, turn), input_len)
            prompts.append(Prompt(text, builder.count(text), output_len))
        conversation += 1
    return prompts[:count] if count % turns == 0 else prompts
