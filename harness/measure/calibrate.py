"""Measure this machine's achievable ceilings: a large bf16 matrix product and a large copy.

Datasheet peaks are never reached; rooflines against what the chip really does here say more.
The matrix product counts 2·m·n·k FLOPs; the device-to-device copy counts the bytes read plus the
bytes written. Each is timed with CUDA events around single launches after a warm-up, and the
median of the repeats is kept. Only `gpucost calibrate` imports this module (it imports torch).
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.errors import BadInput, MeterUnavailable
from harness.gpus import canonical_gpu
from harness.results.store import write_json

MATMUL_DTYPES = ("bf16", "fp16", "fp32")


@dataclass(frozen=True)
class Ceilings:
    matmul_tflops: float
    copy_bytes_per_s: float
    matmul_shape: tuple[int, int, int]
    matmul_dtype: str
    copy_bytes: int
    """Bytes one copy moves: read plus written."""
    repeats: int
    gpu_name: str | None
    gpu_key: str | None
    measured_at: str

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["matmul_shape"] = list(self.matmul_shape)
        return data


def measure_ceilings(
    device: str = "cuda:0",
    matmul_size: int = 8192,
    matmul_dtype: str = "bf16",
    copy_buffer_bytes: int = 2**30,
    repeats: int = 10,
    warmup: int = 3,
) -> Ceilings:
    """Median matmul TFLOP/s and copy bytes/s on `device` (a CUDA device)."""
    import torch

    if not torch.cuda.is_available():
        raise MeterUnavailable("calibrate needs a CUDA GPU (torch finds none on this machine)")
    if not device.startswith("cuda"):
        raise BadInput(f"--device {device}: calibrate needs a CUDA device such as cuda:0")
    if matmul_dtype not in MATMUL_DTYPES:
        raise BadInput(f"--dtype {matmul_dtype!r}: valid are {', '.join(MATMUL_DTYPES)}")
    if repeats < 1 or warmup < 0 or matmul_size < 1 or copy_buffer_bytes < 1:
        raise BadInput("calibrate: repeats, size and buffer must be positive")
    try:
        dev = torch.device(device)
        torch.cuda.get_device_properties(dev)
    except (RuntimeError, AssertionError, ValueError) as err:
        raise BadInput(f"--device {device}: {str(err).splitlines()[0]}") from None
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[matmul_dtype]

    n = matmul_size
    matmul_s = _time_matmul(n, dtype, dev, repeats, warmup)
    elements = copy_buffer_bytes // 4
    copy_s = _time_copy(elements, dev, repeats, warmup)
    moved_bytes = 2 * elements * 4
    torch.cuda.empty_cache()

    name = torch.cuda.get_device_name(dev)
    return Ceilings(
        matmul_tflops=2 * n**3 / matmul_s / 1e12,
        copy_bytes_per_s=moved_bytes / copy_s,
        matmul_shape=(n, n, n),
        matmul_dtype=matmul_dtype,
        copy_bytes=moved_bytes,
        repeats=repeats,
        gpu_name=name,
        gpu_key=canonical_gpu(name),
        measured_at=datetime.now(timezone.utc).isoformat(),
    )


def _time_matmul(n: int, dtype: Any, dev: Any, repeats: int, warmup: int) -> float:
    import torch

    a = torch.randn(n, n, device=dev, dtype=dtype)
    b = torch.randn(n, n, device=dev, dtype=dtype)
    c = torch.empty(n, n, device=dev, dtype=dtype)
    return _median_seconds(lambda: torch.matmul(a, b, out=c), dev, repeats, warmup)


def _time_copy(elements: int, dev: Any, repeats: int, warmup: int) -> float:
    import torch

    src = torch.ones(elements, device=dev, dtype=torch.float32)
    dst = torch.empty_like(src)
    return _median_seconds(lambda: dst.copy_(src), dev, repeats, warmup)


def _median_seconds(launch: Callable[[], Any], dev: Any, repeats: int, warmup: int) -> float:
    import torch

    with torch.cuda.device(dev):
        for _ in range(warmup):
            launch()
        torch.cuda.synchronize(dev)
        seconds = []
        for _ in range(repeats):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            launch()
            end.record()
            end.synchronize()
            seconds.append(start.elapsed_time(end) / 1000.0)
    return statistics.median(seconds)


def default_output(ceilings: Ceilings, results_dir: Path = Path("results")) -> Path:
    label = ceilings.gpu_key or (ceilings.gpu_name or "gpu").replace(" ", "-")
    return results_dir / f"calibration-{label}.json"


def write_ceilings(ceilings: Ceilings, path: Path) -> None:
    """Write the ceilings as JSON, atomically."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, ceilings.as_dict())
    except OSError as err:
        raise BadInput(f"--out {path}: cannot write ({err.strerror or err})") from None


def read_run_meta(run_dir: Path) -> dict[str, Any]:
    """run.json of a run folder, or BadInput naming the folder."""
    path = run_dir / "run.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"--run {run_dir}: not a gpucost run folder (no run.json)") from None
    except (OSError, ValueError) as err:
        raise BadInput(f"--run {run_dir}: cannot read run.json ({err})") from None
    if not isinstance(meta, dict) or "run_id" not in meta:
        raise BadInput(f"--run {run_dir}: run.json has no run_id")
    return meta


def attach_to_run(run_dir: Path, ceilings: Ceilings) -> None:
    """Store the ceilings under run.json's `calibration` key (rewritten atomically).

    Refused when the run was measured on another kind of GPU: its ceilings would not apply.
    """
    meta = read_run_meta(run_dir)
    run_gpu = (meta.get("device") or {}).get("gpu_name")
    if (canonical_gpu(run_gpu) or run_gpu) != (ceilings.gpu_key or ceilings.gpu_name):
        raise BadInput(
            f"--run {run_dir}: measured on {run_gpu or 'a CPU'}, not on this {ceilings.gpu_name}; "
            "its ceilings do not apply"
        )
    meta["calibration"] = ceilings.as_dict()
    write_json(run_dir / "run.json", meta)
