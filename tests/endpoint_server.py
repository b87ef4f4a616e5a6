"""A real `transformers serve --continuous-batching` on 127.0.0.1 for endpoint tests: a tiny
random Llama saved with save_pretrained and a BPE tokenizer trained offline."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from harness.endpoint.server import Server, free_port

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
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


def build_tiny_llama(folder: Path, vocab_size: int | None = None, **shape: int) -> Path:
    """Save a random Llama (default: 2 layers, hidden 64; `shape` overrides LlamaConfig fields)
    and its tokenizer in `folder`; `vocab_size` pads the tokenizer with added tokens."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )  # fmt: skip
    bpe.train_from_iterator(SENTENCES, trainer)
    from tokenizers import decoders

    bpe.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    if vocab_size is not None and vocab_size > len(tokenizer):
        tokenizer.add_tokens([f"<x{i}>" for i in range(vocab_size - len(tokenizer))])
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    fields = dict(
        hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=512,
    )  # fmt: skip
    fields.update(shape)
    config = LlamaConfig(
        vocab_size=len(tokenizer), bos_token_id=1, eos_token_id=2, pad_token_id=0, **fields
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def serve_command(model: Path, port: int) -> list[str]:
    exe = Path(sys.executable).with_name("transformers")
    return [
        str(exe), "serve", str(model), "--host", "127.0.0.1", "--port", str(port),
        "--device", "cpu", "--continuous-batching",
        # Without a size the KV cache takes a share of the machine's RAM (gigabytes on CPU).
        "--cb-num-blocks", "64", "--cb-block-size", "32", "--cb-max-batch-tokens", "256",
    ]  # fmt: skip


def start_server(model: Path, log: Path, timeout_s: float = 120.0) -> Server:
    port = free_port()
    env = {**os.environ, **OFFLINE_ENV}
    server = Server(serve_command(model, port), f"http://127.0.0.1:{port}/v1", log, env=env)
    server.start(timeout_s)
    return server
