"""Roofline efficiency: model FLOPs and minimum bytes per batch, MFU and MBU per measurement row.

Text generation (a decoder-only transformer with a KV cache), from the shapes run.json records
(`meta["workloads"]["text"]["architecture"]`) and the row's input length S, output length T and
batch size B. Let d = hidden_size, L = num_layers, H = num_attention_heads, K = num_kv_heads,
h = head_dim, V = vocab_size, P = params, and e = bytes per element of the row's dtype.

    head  = V·d                                   the output projection (logits)
    body  = P − V·d·(1 if tied embeddings else 2)  every other weight (the input embedding is a
                                                   lookup, not a product)
    W     = (body + head)·e                        bytes of weights one forward pass reads
    kv    = 2·L·K·h·e                              KV-cache bytes per token
    pair  = 4·L·H·h                                attention FLOPs per (query, key) pair:
                                                   Q·Kᵀ and A·V, 2 FLOPs per multiply-add

    prefill FLOPs = B·(2·body·S + 2·head + pair·S(S+1)/2)    causal; logits for the last token
    prefill bytes = W + B·S·kv                                 weights once + the cache written
    decode FLOPs  = Σ_{j=1..T−1} B·(2·body + 2·head + pair·(S+j))
    decode bytes  = Σ_{j=1..T−1} (W + B·(S+j)·kv)              weights once per step + the cache
                                                               read so far and the new entry

The first output token comes from prefill, so decode runs T − 1 steps (the results contract's
prefill and decode phases). Activations are left out: these are the least bytes any
implementation must move, so MBU is a lower bound on real traffic.

Encoders (embedding; retrieval's query encoder) with `params`, `hidden_size`, `num_layers`,
`vocab_size` and a sequence length s: FLOPs = 2·(P − V·d)·tokens + 4·L·d·s²·sequences
(bidirectional attention), bytes = (P − V·d)·e (the position table stays in P − V·d: a small
overcount). Retrieval adds the exact search, 2·rows·dim FLOPs per query and the whole corpus
read once (`corpus` in run.json). Other workloads (image, asr, tts) take the FLOPs the runner
counted in one untimed iteration (`counted_flops`, torch's FlopCounterMode: matrix products,
convolutions, attention) and get MFU only: no formula gives their least bytes moved.
`flops_source` says which (`formula` or `counted`).

MFU = FLOPs / wall_s_p50 / peak FLOP/s and MBU = bytes / wall_s_p50 / peak bytes/s, against the
ceilings `gpucost calibrate` measured when the run carries them (`meta["calibration"]`), else
the datasheet (`ceiling_source`). CPU rows and GPUs missing from the spec table stay empty.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.gpus import TERA, canonical_gpu, gpu_spec
from harness.money.units import workload_spec

if TYPE_CHECKING:
    import pandas as pd

DTYPE_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}

EFFICIENCY_COLUMNS = (
    "gpu_key",
    "model_flops",
    "flops_source",
    "min_bytes",
    "arithmetic_intensity",
    "prefill_flops",
    "prefill_bytes",
    "decode_flops",
    "decode_bytes",
    "peak_flops_per_s",
    "peak_bytes_per_s",
    "ceiling_source",
    "mfu",
    "mbu",
    "prefill_mfu",
    "prefill_mbu",
    "decode_mfu",
    "decode_mbu",
    "bound",
)


@dataclass(frozen=True)
class Work:
    """FLOPs and least bytes moved by one batch, or by one phase of it."""

    flops: float
    min_bytes: float


@dataclass(frozen=True)
class DecoderShape:
    params: int
    hidden_size: int
    num_layers: int
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    tie_word_embeddings: bool

    @classmethod
    def from_architecture(cls, arch: Mapping[str, Any]) -> DecoderShape | None:
        """The shape from run.json's architecture dict; None when a number is missing."""
        names = (
            "params",
            "hidden_size",
            "num_layers",
            "num_attention_heads",
            "num_kv_heads",
            "head_dim",
            "vocab_size",
        )
        if any(number(arch.get(n)) is None for n in names):
            return None
        values = {n: int(arch[n]) for n in names}
        return cls(**values, tie_word_embeddings=bool(arch.get("tie_word_embeddings", False)))


def text_work(
    shape: DecoderShape, batch_size: int, input_len: int, output_len: int, dtype_bytes: int
) -> tuple[Work, Work]:
    """(prefill, decode) work of one `generate` batch; formulas in the module docstring."""
    d, e, s, b = shape.hidden_size, dtype_bytes, input_len, batch_size
    head = shape.vocab_size * d
    body = shape.params - head * (1 if shape.tie_word_embeddings else 2)
    weights_bytes = (body + head) * e
    kv_per_token = 2 * shape.num_layers * shape.num_kv_heads * shape.head_dim * e
    pair = 4 * shape.num_layers * shape.num_attention_heads * shape.head_dim
    prefill = Work(
        flops=b * (2 * body * s + 2 * head + pair * s * (s + 1) / 2),
        min_bytes=weights_bytes + b * s * kv_per_token,
    )
    steps = output_len - 1
    keys = steps * s + steps * (steps + 1) / 2  # Σ_{j=1..T−1} (S + j)
    decode = Work(
        flops=b * (steps * (2 * body + 2 * head) + pair * keys),
        min_bytes=steps * weights_bytes + b * keys * kv_per_token,
    )
    return prefill, decode


def encoder_work(
    arch: Mapping[str, Any], sequences: float, seq_len: int, dtype_bytes: int
) -> Work | None:
    """One batch through a bidirectional encoder; None when the shapes are not recorded."""
    values = [number(arch.get(n)) for n in ("params", "hidden_size", "num_layers", "vocab_size")]
    if any(v is None for v in values):
        return None
    params, d, layers, vocab = values
    body = params - vocab * d
    return Work(
        flops=2 * body * seq_len * sequences + 4 * layers * d * seq_len**2 * sequences,
        min_bytes=body * dtype_bytes,
    )


@dataclass(frozen=True)
class Ceiling:
    flops_per_s: float | None
    bytes_per_s: float
    source: str  # "measured", "datasheet", or which part was measured


def ceiling_for(
    gpu_key: str | None, dtype: str, calibration: Mapping[str, Any] | None
) -> Ceiling | None:
    """Measured ceilings when the calibration is of this GPU (and dtype, for FLOPs), else datasheet."""
    spec = gpu_spec(gpu_key)
    if spec is None:
        return None
    flops, bw = spec.peak_flops_per_s(dtype), spec.memory_bw_bytes_per_s
    if not calibration or calibration.get("gpu_key") not in (None, gpu_key):
        return Ceiling(flops, bw, "datasheet")
    measured_bw = number(calibration.get("copy_bytes_per_s"))
    measured_tflops = number(calibration.get("matmul_tflops"))
    flops_measured = measured_tflops is not None and calibration.get("matmul_dtype") == dtype
    if flops_measured:
        flops = measured_tflops * TERA
    if measured_bw is not None:
        bw = measured_bw
    if flops_measured and measured_bw is not None:
        source = "measured"
    elif measured_bw is not None:
        source = "measured bandwidth, datasheet flops"
    elif flops_measured:
        source = "measured flops, datasheet bandwidth"
    else:
        source = "datasheet"
    return Ceiling(flops, bw, source)


def roofline_formula(workload: str) -> str | None:
    """The workload spec's roofline formula; None means MFU/MBU from counted FLOPs only."""
    spec = workload_spec(workload)
    return None if spec is None else spec.roofline


def row_work(row: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Work] | None:
    """Work of one measurement row: {"prefill", "decode"} for text, {"batch"} for encoders."""
    dtype_bytes = DTYPE_BYTES.get(str(row.get("dtype")))
    batch = number(row.get("batch_size"))
    workload = str(row.get("workload"))
    recorded = meta.get("workloads", {}).get(workload, {})
    arch = recorded.get("architecture") or {}
    if dtype_bytes is None or batch is None:
        return None
    settings = _settings(row)
    formula = roofline_formula(workload)
    if formula == "decoder":
        shape = DecoderShape.from_architecture(arch)
        s, t = number(settings.get("input_len")), number(settings.get("output_len"))
        if shape is None or s is None or t is None:
            return None
        prefill, decode = text_work(shape, int(batch), int(s), int(t), dtype_bytes)
        return {"prefill": prefill, "decode": decode}
    if formula == "encoder":
        seq_len, sequences = number(settings.get("seq_len")), number(row.get("sequences"))
    elif formula == "encoder+search":
        seq_len, sequences = number(settings.get("query_len")), number(row.get("queries"))
    else:
        return None
    if seq_len is None or sequences is None:
        return None
    work = encoder_work(arch, sequences, int(seq_len), dtype_bytes)
    if work is None or formula == "encoder":
        return None if work is None else {"batch": work}
    search = search_work(recorded.get("corpus") or {}, sequences)
    if search is None:
        return None
    return {"batch": Work(work.flops + search.flops, work.min_bytes + search.min_bytes)}


def search_work(corpus: Mapping[str, Any], queries: float) -> Work | None:
    """Exact inner-product search: 2·rows·dim FLOPs per query, the whole corpus read once."""
    rows, dim, nbytes = (number(corpus.get(k)) for k in ("rows", "dim", "bytes"))
    if rows is None or dim is None or nbytes is None:
        return None
    return Work(flops=2 * rows * dim * queries, min_bytes=nbytes)


def efficiency(
    measurements: pd.DataFrame, meta: Mapping[str, Any], gpu_key: str | None = None
) -> pd.DataFrame:
    """A copy of `measurements` with EFFICIENCY_COLUMNS added (empty where not computable).

    `gpu_key` overrides the GPU found from each row's `gpu_name` (canonical rate-card key).
    """
    import pandas as pd

    calibration = meta.get("calibration")
    records = []
    for row in measurements.to_dict("records"):
        key = gpu_key or canonical_gpu(row.get("gpu_name"))
        records.append(_row_efficiency(row, meta, key, calibration))
    extra = pd.DataFrame.from_records(records, index=measurements.index, columns=EFFICIENCY_COLUMNS)
    return pd.concat(
        [measurements.drop(columns=list(EFFICIENCY_COLUMNS), errors="ignore"), extra], axis=1
    )


def _row_efficiency(
    row: Mapping[str, Any], meta: Mapping[str, Any], key: str | None, calibration: Any
) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(EFFICIENCY_COLUMNS)
    out["gpu_key"] = key
    if row.get("status") != "ok":
        return out
    phases = row_work(row, meta)
    if phases is None:
        return _counted_efficiency(out, row, key, calibration)
    total = Work(sum(w.flops for w in phases.values()), sum(w.min_bytes for w in phases.values()))
    out.update(model_flops=total.flops, min_bytes=total.min_bytes, flops_source="formula")
    out["arithmetic_intensity"] = total.flops / total.min_bytes if total.min_bytes else None
    for name in ("prefill", "decode"):
        if name in phases:
            out[f"{name}_flops"], out[f"{name}_bytes"] = phases[name].flops, phases[name].min_bytes
    ceiling = ceiling_for(
        key, str(row.get("dtype")), calibration if isinstance(calibration, Mapping) else None
    )
    if ceiling is None or str(row.get("device", "")).startswith("cpu"):
        return out
    out.update(
        peak_flops_per_s=ceiling.flops_per_s,
        peak_bytes_per_s=ceiling.bytes_per_s,
        ceiling_source=ceiling.source,
    )
    out["mfu"], out["mbu"] = utilisation(total, number(row.get("wall_s_p50")), ceiling)
    for name in ("prefill", "decode"):
        if name in phases:
            seconds = number(row.get(f"{name}_s_p50"))
            out[f"{name}_mfu"], out[f"{name}_mbu"] = utilisation(phases[name], seconds, ceiling)
    out["bound"] = bound_of(total, ceiling.flops_per_s, ceiling.bytes_per_s)
    return out


def _counted_efficiency(
    out: dict[str, Any], row: Mapping[str, Any], key: str | None, calibration: Any
) -> dict[str, Any]:
    """MFU from the FLOPs the runner counted, for rows no formula covers."""
    flops = number(row.get("counted_flops"))
    if flops is None:
        return out
    out.update(model_flops=flops, flops_source="counted")
    ceiling = ceiling_for(
        key, str(row.get("dtype")), calibration if isinstance(calibration, Mapping) else None
    )
    seconds = number(row.get("wall_s_p50"))
    if ceiling is None or str(row.get("device", "")).startswith("cpu"):
        return out
    out.update(peak_flops_per_s=ceiling.flops_per_s, ceiling_source=ceiling.source)
    if ceiling.flops_per_s and seconds:
        out["mfu"] = flops / seconds / ceiling.flops_per_s
    return out


def bound_of(work: Work, flops_per_s: float | None, bytes_per_s: float) -> str | None:
    """ "compute" when the work's FLOPs per byte reach the ridge point, else "memory"."""
    if flops_per_s is None or work.min_bytes <= 0:
        return None
    return "compute" if work.flops / work.min_bytes >= flops_per_s / bytes_per_s else "memory"


def utilisation(
    work: Work, seconds: float | None, ceiling: Ceiling
) -> tuple[float | None, float | None]:
    if seconds is None or seconds <= 0:
        return None, None
    mfu = work.flops / seconds / ceiling.flops_per_s if ceiling.flops_per_s else None
    return mfu, work.min_bytes / seconds / ceiling.bytes_per_s


def _settings(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row's settings JSON, with the row's own setting columns filling gaps."""
    parsed: dict[str, Any] = {}
    raw = row.get("settings")
    if _text(raw):
        try:
            loaded = json.loads(str(raw))
        except ValueError:
            loaded = {}
        if isinstance(loaded, dict):
            parsed = loaded
    for name in ("input_len", "output_len", "seq_len", "query_len"):
        if name not in parsed and number(row.get(name)) is not None:
            parsed[name] = row[name]
    return parsed


def number(value: Any) -> float | None:
    """A finite float, or None for empty cells, NaN, infinity, text and booleans."""
    if value is None or isinstance(value, bool):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def _text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""
