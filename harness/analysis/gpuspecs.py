"""Datasheet figures of the GPUs the rate cards name, keyed by the same canonical GPU keys.

Datasheet rates are upper bounds a chip never quite reaches: prefer the ceilings `gpucost
calibrate` measures on the machine itself. Tensor-core TFLOPS are dense (without sparsity); fp32
is the plain (non-TF32) rate, which is what PyTorch uses for fp32 matrix products by default.
Bandwidth and TFLOPS are decimal (1 TB/s = 1e12 bytes/s); memory is the capacity in the product
name, in GiB as the driver reports it. Figures listed in `unverified` still need a better source
than the spec sites they were copied from (see docs: reference GPU figures). Board power lives
in `harness.money.gpus.MAX_POWER_W`, beside the full list of keys the rate cards may name.
"""

from __future__ import annotations

from dataclasses import dataclass

TERA = 1e12
GIB = 2**30


@dataclass(frozen=True)
class GpuSpec:
    key: str
    bf16_dense_tflops: float | None
    fp16_dense_tflops: float | None
    fp32_tflops: float | None
    memory_bw_bytes_per_s: float
    memory_bytes: int
    unverified: frozenset[str] = frozenset()
    """Names of the fields whose figures are not yet confirmed by a datasheet."""

    def peak_flops_per_s(self, dtype: str) -> float | None:
        """Datasheet peak for matrix products in `dtype` (bf16, fp16, fp32); None if unknown."""
        tflops = {
            "bf16": self.bf16_dense_tflops,
            "fp16": self.fp16_dense_tflops,
            "fp32": self.fp32_tflops,
        }.get(dtype)
        return None if tflops is None else tflops * TERA

    @property
    def ridge_flops_per_byte(self) -> float | None:
        """Arithmetic intensity (FLOPs per byte) above which bf16 work is compute-bound."""
        peak = self.peak_flops_per_s("bf16") or self.peak_flops_per_s("fp16")
        return None if peak is None else peak / self.memory_bw_bytes_per_s


_FP32 = frozenset({"fp32_tflops"})

GPU_SPECS: dict[str, GpuSpec] = {
    spec.key: spec
    for spec in (
        GpuSpec("H100-SXM-80GB", 989, 989, 67, 3.35 * TERA, 80 * GIB, _FP32),
        GpuSpec(
            "H100-PCIE-80GB",
            756,
            756,
            51,
            2.0 * TERA,
            80 * GIB,
            _FP32 | {"bf16_dense_tflops", "fp16_dense_tflops"},
        ),
        GpuSpec("H200-SXM-141GB", 989, 989, 67, 4.8 * TERA, 141 * GIB, _FP32),
        GpuSpec("A100-SXM-80GB", 312, 312, 19.5, 2.039 * TERA, 80 * GIB, _FP32),
        GpuSpec("A100-SXM-40GB", 312, 312, 19.5, 1.555 * TERA, 40 * GIB, _FP32),
        GpuSpec("A100-PCIE-80GB", 312, 312, 19.5, 1.935 * TERA, 80 * GIB, _FP32),
        GpuSpec("L40S", 362, 362, 91.6, 0.864 * TERA, 48 * GIB, _FP32),
        GpuSpec("L4", 121, 121, 30.3, 0.300 * TERA, 24 * GIB, _FP32),
        # AWS does not publish A10G rates; these are the A10's.
        GpuSpec(
            "A10G",
            125,
            125,
            31.2,
            0.6 * TERA,
            24 * GIB,
            frozenset(
                {
                    "bf16_dense_tflops",
                    "fp16_dense_tflops",
                    "fp32_tflops",
                    "memory_bw_bytes_per_s",
                }
            ),
        ),
        # Turing has no bf16 tensor cores.
        GpuSpec("T4", None, 65, 8.1, 0.320 * TERA, 16 * GIB, _FP32),
    )
}


def gpu_spec(key: str | None) -> GpuSpec | None:
    """The datasheet figures of a canonical GPU key; None for CPU or a GPU not in the table."""
    return GPU_SPECS.get(key) if key else None
