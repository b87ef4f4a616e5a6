"""The requests' inputs: synthetic prompts of an exact token length, or a JSON Lines dataset."""

from __future__ import annotations

import json
import random
from pathlib import Path

from harness.errors import BadInput
from harness.traffic.prompt import Prompt, Tokenizer


def load_tokenizer(folder: str | None) -> Tokenizer | None:
    """A tokenizer from a local folder (offline), or None when no folder is given."""
    if folder is None:
        return None
    path = Path(folder)
    if not path.is_dir():
        raise BadInput(f"--tokenizer {folder}: not a folder")
    try:
        if (path / "tokenizer.json").is_file():
            from tokenizers import Tokenizer as FastTokenizer

            fast = FastTokenizer.from_file(str(path / "tokenizer.json"))
            special = {i for i, t in fast.get_added_tokens_decoder().items() if t.special}
            return Tokenizer(
                lambda text: fast.encode(text, add_special_tokens=False).ids,
                fast.decode,
                [i for i in range(fast.get_vocab_size()) if i not in special],
            )
        from transformers import AutoTokenizer

        slow = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except Exception as err:  # any failure to read the folder is the same one-line answer
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise BadInput(f"--tokenizer {folder}: cannot load a tokenizer ({first})") from None
    special = set(getattr(slow, "all_special_ids", []) or [])
    return Tokenizer(
        lambda text: slow.encode(text, add_special_tokens=False),
        slow.decode,
        [i for i in range(len(slow)) if i not in special],
    )


def synthetic_prompt(
    tokenizer: Tokenizer | None, n_tokens: int, rng: random.Random
) -> tuple[str, int | None]:
    """A text that `tokenizer` encodes to exactly `n_tokens` tokens (without special tokens)
    where it can be found in a few tries; the count it really has is returned beside it."""
    if tokenizer is None:
        return " ".join(rng.choice(_WORDS) for _ in range(n_tokens)), None
    vocab = tokenizer.ids
    ids = [rng.choice(vocab) for _ in range(n_tokens)]
    text = tokenizer.decode(ids)
    for _ in range(8):
        encoded = tokenizer.encode(text)
        if len(encoded) == n_tokens:
            return text, n_tokens
        if len(encoded) > n_tokens:
            encoded = encoded[:n_tokens]
        else:
            encoded = encoded + [rng.choice(vocab) for _ in range(n_tokens - len(encoded))]
        text = tokenizer.decode(encoded)
    return text, len(tokenizer.encode(text))


def text_ids(tokenizer: Tokenizer) -> list[int]:
    """The ids that decode to printable text which encodes back to that one id.

    A prompt of arbitrary ids decodes to fragments of UTF-8 (bytes of a split character) and
    text that encodes to other ids; some servers (vLLM) then serve it differently, holding back
    the stream and taking longer, so a synthetic prompt is built from whole tokens only."""
    keep = []
    for token in tokenizer.ids:
        piece = tokenizer.decode([token])
        if not piece or "\ufffd" in piece or not piece.isprintable():
            continue
        if tokenizer.encode(piece) == [token]:
            keep.append(token)
    return keep or list(tokenizer.ids)


def synthetic_prompts(
    tokenizer: Tokenizer | None, count: int, input_len: int, output_len: int, seed: int
) -> list[Prompt]:
    if tokenizer is not None:
        tokenizer = Tokenizer(tokenizer.encode, tokenizer.decode, text_ids(tokenizer))
    rng = random.Random(seed)
    prompts = []
    for _ in range(count):
        text, n = synthetic_prompt(tokenizer, input_len, rng)
        prompts.append(Prompt(text, n, output_len))
    return prompts


MAX_DATASET_BYTES = 256 << 20
MAX_OUTPUT_TOKENS = 1 << 20


def load_dataset(path: str, default_output_len: int) -> list[Prompt]:
    """JSON Lines, one object a line: `{"prompt": "...", "output_tokens": 64}`
    (`output_tokens` optional, `max_tokens` accepted for it)."""
    file = Path(path)
    try:
        # A FIFO or a device (/dev/zero) would block or never end: only a regular file is read.
        if not file.is_file():
            raise BadInput(f"--dataset {path}: not a regular file")
        if file.stat().st_size > MAX_DATASET_BYTES:
            raise BadInput(
                f"--dataset {path}: larger than {MAX_DATASET_BYTES >> 20} MiB "
                "(a load test cycles through its prompts: a sample is enough)"
            )
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise BadInput(f"--dataset {path}: cannot read ({err})") from None
    prompts = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as err:
            raise BadInput(f"--dataset {path}: line {number}: not JSON ({err.msg})") from None
        except RecursionError:
            raise BadInput(f"--dataset {path}: line {number}: nested too deep") from None
        if not isinstance(item, dict) or not isinstance(item.get("prompt"), str):
            raise BadInput(
                f'--dataset {path}: line {number}: expected an object with a "prompt" string'
            )
        out = item.get("output_tokens", item.get("max_tokens", default_output_len))
        if not isinstance(out, int) or isinstance(out, bool) or not 1 <= out <= MAX_OUTPUT_TOKENS:
            raise BadInput(
                f"--dataset {path}: line {number}: output_tokens {str(out)[:40]!r} is not a "
                f"whole number from 1 to {MAX_OUTPUT_TOKENS}"
            )
        prompts.append(Prompt(item["prompt"], None, out))
    if not prompts:
        raise BadInput(f"--dataset {path}: no prompts")
    return prompts


_WORDS = tuple(
    [
        "the",
        "cost",
        "of",
        "serving",
        "a",
        "model",
        "depends",
        "on",
        "how",
        "many",
        "tokens",
        "it",
        "reads",
        "and",
        "writes",
        "each",
        "second",
        "while",
        "requests",
        "wait",
        "in",
        "a",
        "queue",
        "for",
        "their",
        "turn",
        "on",
        "the",
        "accelerator",
    ]
)
