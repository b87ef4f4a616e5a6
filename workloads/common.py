"""Torch helpers the workloads share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from harness.errors import BadInput
from workloads.base import WorkloadContext

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def torch_dtype(name: str) -> torch.dtype:
    try:
        return DTYPES[name]
    except KeyError:
        raise BadInput(f"unknown --dtype {name!r} (valid: {', '.join(DTYPES)})") from None


def generator(device: str, seed: int) -> torch.Generator:
    """A seeded generator on the device, so synthetic inputs are the same every run."""
    return torch.Generator(device=torch.device(device)).manual_seed(seed)


def param_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def load_local_config(model_path: Path, workload: str, accepted: tuple[str, ...]):
    """The transformers config of a local folder, refused when it is not one of `accepted` types."""
    from transformers import AutoConfig

    if not (Path(model_path) / "config.json").is_file():
        raise BadInput(f"--model {model_path}: not a model folder (no config.json)")
    try:
        config = AutoConfig.from_pretrained(model_path, local_files_only=True)
    except (OSError, ValueError) as err:
        raise BadInput(f"--model {model_path}: cannot read its config ({err})") from None
    if accepted and config.model_type not in accepted:
        raise BadInput(
            f"--model {model_path}: a {config.model_type!r} model does not fit the {workload!r} "
            f"workload (expected {', '.join(accepted)})"
        )
    return config


def load_model(
    ctx: WorkloadContext, pretrained: Any, build: Callable[[], torch.nn.Module]
) -> torch.nn.Module:
    """The `--model` folder's weights (`pretrained.from_pretrained`), else `build()` with random
    weights made on the device; seeded, in the run's dtype, in eval mode."""
    dtype = torch_dtype(ctx.dtype)
    device = torch.device(ctx.device)
    torch.manual_seed(ctx.seed)
    if ctx.model_path is not None:
        model = pretrained.from_pretrained(
            Path(ctx.model_path), dtype=dtype, local_files_only=True
        ).to(device)
    else:
        with device, default_dtype(dtype):
            model = build()
    return model.eval()


@contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """Build modules straight in `dtype`: no fp32 copy first, which would double the load
    memory and leave the fp32 blocks in the CUDA cache, inflating the memory figures."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def with_architecture(described: dict[str, Any], architecture: dict[str, Any]) -> dict[str, Any]:
    """A workload's run.json description with its model's architecture and parameter count."""
    return {**described, "model_params": architecture["params"], "architecture": architecture}
