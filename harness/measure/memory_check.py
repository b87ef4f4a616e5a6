"""Will the model fit? Parameters × bytes per dtype against the device's free memory, before any
model is built, so a model too big for the machine is one clear line instead of an OOM kill.

Presets are counted by building them on PyTorch's `meta` device (shapes only, no memory);
a `--model` folder is counted from its safetensors headers, or from its weight files' sizes.
The estimate covers weights only: activations, KV cache and inputs come on top, so a model
that passes can still meet out-of-memory at a large batch size (that row is then `oom`).
"""

from __future__ import annotations

import dataclasses
import json
import struct
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from harness.errors import BadInput
from harness.measure.plan import WorkloadPlan

BYTES_PER_DTYPE = {"bf16": 2, "fp16": 2, "fp32": 4}
_SAFETENSORS_BYTES = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2,
                      "BF16": 2, "I16": 2, "U16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I8": 1,
                      "U8": 1, "BOOL": 1}  # fmt: skip
_WEIGHT_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")
_MAX_HEADER_BYTES = 100 * 2**20


def count_preset_params(plan: WorkloadPlan) -> int | None:
    """Parameters of the plan's model, built on the meta device; None when it cannot be."""
    workload = plan.workload_type(plan.settings, dataclasses.replace(plan.context, device="meta"))
    alive: weakref.WeakValueDictionary[int, torch.nn.Parameter] = weakref.WeakValueDictionary()

    def seen(module: torch.nn.Module, name: str, param: torch.nn.Parameter | None) -> None:
        if param is not None:
            alive[id(param)] = param

    hook = torch.nn.modules.module.register_module_parameter_registration_hook(seen)
    try:
        # A workload that also runs its model while loading fails on meta tensors: the
        # parameters it built before that still count.
        workload.load()
    except Exception:
        pass
    finally:
        hook.remove()
    total = sum(p.numel() for p in list(alive.values()))
    del workload
    return total or None


def count_folder_params(folder: Path) -> tuple[int | None, int | None]:
    """(parameters, bytes on disk) of a model folder's weights, each None when not known."""
    params = 0
    other_bytes = 0
    for path in sorted(folder.rglob("*")):
        if path.suffix == ".safetensors" and path.is_file():
            counted = _safetensors_params(path)
            if counted is None:
                other_bytes += path.stat().st_size
            else:
                params += counted
        elif path.suffix in _WEIGHT_SUFFIXES and path.is_file():
            other_bytes += path.stat().st_size
    return (params or None), (other_bytes or None)


def _safetensors_params(path: Path) -> int | None:
    try:
        with open(path, "rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            if size > _MAX_HEADER_BYTES:
                return None
            header = json.loads(fh.read(size))
    except (OSError, struct.error, ValueError):
        return None
    total = 0
    for name, entry in header.items():
        if name == "__metadata__" or not isinstance(entry, dict):
            continue
        shape = entry.get("shape")
        if not isinstance(shape, list) or not all(isinstance(d, int) for d in shape):
            return None
        count = 1
        for dim in shape:
            count *= dim
        total += count
    return total


def free_memory_bytes(device: str) -> int | None:
    """Memory a new model can take on `device`: CUDA's free memory, or on the CPU what the
    kernel reports available, capped by the cgroup (container) limit. None when unknown."""
    if device.startswith("cuda"):
        try:
            free, _ = torch.cuda.mem_get_info(torch.device(device))
        except RuntimeError:
            return None
        return int(free)
    candidates = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                candidates.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
        if limit != "max":
            candidates.append(max(0, int(limit) - int(used)))
    except (OSError, ValueError):
        pass
    return min(candidates) if candidates else None


def weight_bytes(plan: WorkloadPlan) -> tuple[int | None, str]:
    """Bytes the plan's weights take once loaded in the run's dtype, and how that was found."""
    per = BYTES_PER_DTYPE.get(plan.context.dtype, 4)
    if plan.context.model_path is not None:
        params, other = count_folder_params(Path(plan.context.model_path))
        if params is None and other is None:
            return None, ""
        total = (params or 0) * per + (other or 0)
        how = f"{_count(params)} parameters × {per} bytes" if params else "its weight files"
        return total, how
    params = count_preset_params(plan)
    if params is None:
        return None, ""
    return params * per, f"{_count(params)} parameters × {per} bytes in {plan.context.dtype}"


def _count(params: int) -> str:
    return f"{params / 1e9:.2f} B" if params >= 1e9 else f"{params / 1e6:.1f} M"


def check_memory(
    plans: Sequence[WorkloadPlan],
    device: str,
    free_bytes: Callable[[str], int | None] = free_memory_bytes,
) -> None:
    """BadInput, in one line, for the first plan whose weights alone exceed free memory."""
    free = free_bytes(device)
    if free is None:
        return
    for plan in plans:
        need, how = weight_bytes(plan)
        if need is not None and need > free:
            model = plan.context.model_path or plan.context.preset
            raise BadInput(
                f"{plan.name} ({model}) needs {need / 2**30:.1f} GiB for its weights alone "
                f"({how}) but {device} has {free / 2**30:.1f} GiB free: choose a smaller "
                f"--preset, a 16-bit --dtype, or a machine with more memory"
            )
