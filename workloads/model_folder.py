"""`gpucost model init DIR`: a model folder for the endpoint examples and tests, made offline.

The weights are random in a text preset's shape (workloads/text.py PRESETS); the tokenizer is a
real one copied from a local folder, or a small byte-level BPE trained here on a few built-in
sentences and padded with added tokens to the preset's vocabulary size. Nothing is downloaded.
A server (`transformers serve`, vLLM) loads the folder like any other; the margins it yields
mean nothing about a real model (every output that prices it says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import BadInput

SENTENCES = [
    "the quick brown fox jumps over the lazy dog",
    "a server answers many requests at once when it batches them continuously",
    "cost per token falls as throughput rises on the same accelerator",
    "every request has a prompt and a number of tokens to generate",
    "tokens per second per user is what a person waiting for an answer sees",
] * 20
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n"
    "{% endfor %}assistant:"
)
TRAINED_VOCAB = 400
"""Merges the built-in sentences support; the rest of a preset's vocabulary is added tokens."""
DTYPES = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class ModelFolder:
    path: Path
    preset: str
    params: int
    vocab_size: int
    tokenizer_source: str
    """"trained offline" or the folder it was copied from."""


def check_request(folder: Path, preset: str, dtype: str | None, tokenizer_from: Path | None) -> str:
    """Everything checkable before torch loads; returns the dtype to write. The folder is new
    or empty: a model folder is never written over another one."""
    from workloads.text import PRESETS

    if preset not in PRESETS:
        raise BadInput(f"--preset {preset!r}: not a text preset (known: {', '.join(PRESETS)})")
    dtype = dtype or ("fp32" if preset == "tiny" else "bf16")
    if dtype not in DTYPES:
        raise BadInput(f"--dtype {dtype!r}: expected one of {', '.join(DTYPES)}")
    if tokenizer_from is not None and not tokenizer_from.is_dir():
        raise BadInput(f"--tokenizer {tokenizer_from}: no tokenizer there (not a folder)")
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BadInput(f"model init {folder}: exists and is not an empty folder (pick a new one)")
    if not folder.parent.is_dir():
        raise BadInput(f"model init {folder}: folder {folder.parent} does not exist")
    return dtype


def _trained_tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=TRAINED_VOCAB,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator(SENTENCES, trainer)
    bpe.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _local_tokenizer(source: Path) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise BadInput(f"--tokenizer {source}: no tokenizer there ({first})") from None


def init_model_folder(
    folder: Path,
    preset: str = "tiny",
    *,
    tokenizer_from: Path | None = None,
    dtype: str | None = None,
    seed: int = 0,
    **shape: Any,
) -> ModelFolder:
    """Write `folder`: a preset's config with random weights and a tokenizer. `shape` overrides
    config fields (the tests use a short `max_position_embeddings`); `dtype` defaults to fp32
    for tiny and bf16 otherwise (half the disk)."""
    from workloads.text import PRESETS

    dtype = check_request(folder, preset, dtype, tokenizer_from)
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    tokenizer = _local_tokenizer(tokenizer_from) if tokenizer_from else _trained_tokenizer()
    spec = {**PRESETS[preset], **shape}
    vocab_size = int(spec.pop("vocab_size"))
    if tokenizer_from is None and vocab_size > len(tokenizer):
        # Padding, so that the output layer has the preset's real cost per token.
        tokenizer.add_tokens([f"<x{i}>" for i in range(vocab_size - len(tokenizer))])
    vocab_size = max(vocab_size, len(tokenizer))
    special = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id
        if tokenizer.pad_token_id is not None
        else tokenizer.eos_token_id,
    }
    config = AutoConfig.for_model(spec.pop("model_type"), vocab_size=vocab_size, **special, **spec)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model = model.to({"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype])
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)
    return ModelFolder(
        path=folder,
        preset=preset,
        params=sum(p.numel() for p in model.parameters()),
        vocab_size=vocab_size,
        tokenizer_source=str(tokenizer_from) if tokenizer_from else "trained offline",
    )
