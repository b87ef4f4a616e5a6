"""Out-of-memory: recognising it and giving the memory back."""

from __future__ import annotations

import gc

import torch


def is_out_of_memory(err: BaseException) -> bool:
    if isinstance(err, torch.OutOfMemoryError):
        return True
    message = str(err).lower()
    return isinstance(err, RuntimeError) and (
        "out of memory" in message or "not enough memory" in message
    )


def free_device_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
