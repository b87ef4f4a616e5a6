"""Torch helpers the workloads share."""

from __future__ import annotations

from pathlib import Path

import torch

from harness.errors import BadInput

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
