"""A request's input as the load generator sends it, and the tokenizer that measures it: shared by
endpoint runs (synthetic prompts, datasets: harness/endpoint/prompts.py) and trace replay."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Prompt:
    text: str
    input_tokens: int | None  # by the tokenizer; None when no tokenizer was available
    output_tokens: int


class Tokenizer:
    """Encode, decode and the ids a prompt may use: the `tokenizers` library reads a folder's
    `tokenizer.json` in milliseconds; other folders go through transformers."""

    def __init__(self, encode: Any, decode: Any, ids: list[int]) -> None:
        self.encode = encode
        self.decode = decode
        self.ids = ids
