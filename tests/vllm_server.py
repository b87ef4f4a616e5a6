"""vLLM's CPU build on 127.0.0.1 for endpoint tests, from the interpreter named by
GPUCOST_VLLM_PYTHON (a venv of its own: vLLM pins its own torch and transformers; `.ci/run`
builds it). The model is a tiny random Llama with head_dim 64 (vLLM's CPU attention needs 64 or
more) whose output layer can only pick printable tokens, so streamed text is valid UTF-8 and
vLLM sends it as it comes."""

from __future__ import annotations

import os
from pathlib import Path

from harness.endpoint.server import Server, free_port
from tests.endpoint_server import OFFLINE_ENV, build_tiny_llama

VLLM_PYTHON_ENV = "GPUCOST_VLLM_PYTHON"


def vllm_python() -> str | None:
    path = os.environ.get(VLLM_PYTHON_ENV)
    return path if path and Path(path).is_file() else None


def build_printable_llama(folder: Path) -> Path:
    """hidden 256, 4 heads (head_dim 64), 2 KV heads, 2 layers (~5 MB); the output rows of tokens
    that do not decode to printable ASCII are zeroed, so greedy decoding never picks them."""
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import AutoTokenizer

    build_tiny_llama(
        folder, hidden_size=256, intermediate_size=512, num_attention_heads=4,
        num_key_value_heads=2, num_hidden_layers=2,
    )  # fmt: skip
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    weights_file = folder / "model.safetensors"
    weights = load_file(weights_file)
    head = weights["lm_head.weight"]
    for token in range(head.shape[0]):
        text = tokenizer.decode([token])
        if not text or not (text.isascii() and text.isprintable()):
            head[token] = 0
    weights["lm_head.weight"] = head.contiguous()
    save_file(weights, weights_file, metadata={"format": "pt"})
    del torch
    return folder


def vllm_command(python: str, model: Path, port: int, *extra: str) -> list[str]:
    return [
        python, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model),
        "--host", "127.0.0.1", "--port", str(port), "--max-model-len", "512",
        "--dtype", "float32", "--enforce-eager", "--enable-prefix-caching", *extra,
    ]  # fmt: skip


def start_vllm(
    python: str, model: Path, log: Path, timeout_s: float = 240.0, extra: tuple[str, ...] = ()
) -> Server:
    """`extra`: more server options, e.g. `--enable-prompt-tokens-details` (cached tokens in
    each response's usage)."""
    port = free_port()
    env = {**os.environ, **OFFLINE_ENV, "VLLM_TARGET_DEVICE": "cpu", "VLLM_CPU_KVCACHE_SPACE": "1"}
    env.pop("PYTHONPATH", None)  # vLLM's venv imports its own packages only
    server = Server(vllm_command(python, model, port, *extra), f"http://127.0.0.1:{port}/v1", log, env=env)
    server.start(timeout_s)
    return server
