"""A real `transformers serve --continuous-batching` on 127.0.0.1 for endpoint tests, serving the
folder `gpucost model init` writes (tiny preset, random weights, tokenizer trained offline)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from harness.endpoint.server import Server, free_port
from workloads.model_folder import init_model_folder

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def build_tiny_llama(folder: Path, **shape: int) -> Path:
    """The tiny preset with random weights and an offline-trained tokenizer, as `gpucost model
    init` writes it; a short context keeps the server's memory small."""
    init_model_folder(folder, "tiny", **{"max_position_embeddings": 512, **shape})
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
