"""Test isolation: offline Hugging Face, a private config folder, and `gpu` tests skipped without CUDA."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parent.parent


def _has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _skip_vllm_without_it(items)
    if _has_cuda():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def _skip_vllm_without_it(items: list[pytest.Item]) -> None:
    """`vllm` tests need GPUCOST_VLLM_PYTHON (vLLM's own venv); CI sets GPUCOST_REQUIRE_VLLM, and
    there a missing vLLM fails the tests instead of skipping them."""
    from tests.vllm_server import vllm_python

    if vllm_python() is not None or os.environ.get("GPUCOST_REQUIRE_VLLM"):
        return
    skip = pytest.mark.skip(reason="needs vLLM's CPU build: set GPUCOST_VLLM_PYTHON")
    for item in items:
        if item.get_closest_marker("vllm") is not None:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def isolated_user_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Keep tests away from the user's own config and cards."""
    config_dir = tmp_path_factory.mktemp("gpucost-config")
    monkeypatch.setenv("GPUCOST_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("HF_HOME", str(config_dir / "hf"))
    return config_dir


@pytest.fixture
def cli():
    """Runs `gpucost ARGS...` in this process (tests/cli_helpers.py: invoke)."""
    from tests.cli_helpers import invoke

    return invoke


@pytest.fixture
def test_plugin(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test workloads (noop, flaky, sleepy) installed as a plugin on sys.path and PYTHONPATH."""
    from tests.plugins import install_test_plugin

    folder = install_test_plugin(tmp_path_factory.mktemp("plugin"))
    monkeypatch.syspath_prepend(str(folder))
    existing = os.environ.get("PYTHONPATH")
    paths = [str(folder), str(REPO_ROOT)] + ([existing] if existing else [])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    return folder


@pytest.fixture(scope="module")
def tiny_llama_server(tmp_path_factory: pytest.TempPathFactory):
    """A tiny random Llama served by `transformers serve --continuous-batching` on 127.0.0.1,
    one per test module: (model folder, base URL). Stopped when the module's tests end."""
    from tests.endpoint_server import build_tiny_llama, start_server

    folder = tmp_path_factory.mktemp("served")
    model = build_tiny_llama(folder / "tiny-llama")
    server = start_server(model, folder / "server.log")
    try:
        yield model, server.base_url
    finally:
        server.stop()
