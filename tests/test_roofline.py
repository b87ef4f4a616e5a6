"""Roofline figures against hand counts for the tiny text preset, ceilings, and projection."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from harness.analysis.projection import project
from harness.analysis.roofline import DecoderShape, efficiency, row_work, text_work
from harness.errors import BadInput
from harness.gpus import datasheet_keys, gpu_spec
from harness.results.runs import load_run
from tests.report_helpers import TINY_TEXT_ARCH, text_row, write_run

# Hand count of the tiny preset (2-layer Llama, hidden 64, 4 heads of 16, 2 KV heads, FFN 128,
# vocab 1024, untied output projection), from its matrices:
LAYER_MATMUL_WEIGHTS = 64 * 64 + 64 * 32 + 64 * 32 + 64 * 64 + 3 * 64 * 128  # q k v o, gate up down
NORM_WEIGHTS = 2 * 2 * 64 + 64  # two RMSNorms per layer + the final one
BODY = 2 * LAYER_MATMUL_WEIGHTS + NORM_WEIGHTS  # the formula counts norms as body weights
HEAD = 1024 * 64  # output projection; the input embedding (another 1024·64) is a lookup
PAIR = 2 * 4 * (2 * 16 + 2 * 16)  # per (query, key): Q·Kᵀ and A·V, 4 heads, 2 layers
KV_BYTES_PER_TOKEN = 2 * 2 * 2 * 16 * 2  # K and V, 2 layers, 2 KV heads, 16 wide, bf16
B, S, T = 2, 64, 32


def test_tiny_params_match_the_hand_count() -> None:
    assert BODY + HEAD + 1024 * 64 == TINY_TEXT_ARCH["params"] == 205_120


def test_text_flops_and_bytes_match_a_hand_count() -> None:
    shape = DecoderShape.from_architecture(TINY_TEXT_ARCH)
    assert shape is not None
    prefill, decode = text_work(shape, batch_size=B, input_len=S, output_len=T, dtype_bytes=2)

    causal_pairs = sum(range(1, S + 1))  # query i sees keys 1..i
    hand_prefill_flops = B * (2 * BODY * S + 2 * HEAD + PAIR * causal_pairs)
    assert prefill.flops == hand_prefill_flops == 21_348_352
    weights = (BODY + HEAD) * 2
    assert prefill.min_bytes == weights + B * S * KV_BYTES_PER_TOKEN == 311_936

    steps = range(1, T)  # the first output token comes from prefill
    keys = sum(S + j for j in steps)  # step j attends to the S inputs and j generated tokens
    hand_decode_flops = sum(B * (2 * BODY + 2 * HEAD) for _ in steps) + B * PAIR * keys
    assert decode.flops == hand_decode_flops == 19_847_936
    hand_decode_bytes = sum(weights + B * (S + j) * KV_BYTES_PER_TOKEN for j in steps)
    assert decode.min_bytes == hand_decode_bytes == 9_923_968


def test_decoder_shape_needs_every_number() -> None:
    partial = {k: v for k, v in TINY_TEXT_ARCH.items() if k != "head_dim"}
    assert DecoderShape.from_architecture(partial) is None


def _efficiency(tmp_path, rows, **kwargs) -> pd.DataFrame:
    run = load_run(write_run(tmp_path, "r1", rows, **kwargs))
    return efficiency(run.measurements, run.meta)


def test_mfu_and_mbu_against_the_datasheet(tmp_path) -> None:
    eff = _efficiency(tmp_path, [text_row(2, wall_s=0.1, prefill_share=0.2)])
    row = eff.iloc[0]
    flops, nbytes = 21_348_352 + 19_847_936, 311_936 + 9_923_968
    assert row["gpu_key"] == "H100-SXM-80GB"
    assert row["ceiling_source"] == "datasheet"
    assert row["model_flops"] == flops and row["min_bytes"] == nbytes
    assert row["mfu"] == pytest.approx(flops / 0.1 / 989e12)
    assert row["mbu"] == pytest.approx(nbytes / 0.1 / 3.35e12)
    assert row["prefill_mfu"] == pytest.approx(21_348_352 / 0.02 / 989e12)
    assert row["decode_mbu"] == pytest.approx(9_923_968 / (0.1 * 0.8 * 0.99) / 3.35e12)
    assert row["bound"] == "memory"


def test_measured_ceilings_replace_the_datasheet(tmp_path) -> None:
    calibration = {
        "gpu_key": "H100-SXM-80GB",
        "matmul_tflops": 798.0,
        "matmul_dtype": "bf16",
        "copy_bytes_per_s": 3.0e12,
    }
    rows = [text_row(2, 0.1), text_row(1, 0.1, dtype="fp32")]
    eff = _efficiency(tmp_path, rows, calibration=calibration)
    bf16, fp32 = eff.iloc[0], eff.iloc[1]
    assert bf16["ceiling_source"] == "measured"
    assert bf16["peak_flops_per_s"] == pytest.approx(798e12)
    assert bf16["peak_bytes_per_s"] == 3.0e12
    # A bf16 matmul says nothing about fp32: that ceiling stays the datasheet's.
    assert fp32["ceiling_source"] == "measured bandwidth, datasheet flops"
    assert fp32["peak_flops_per_s"] == pytest.approx(67e12)


def test_cpu_and_unknown_gpus_have_work_but_no_efficiency(tmp_path) -> None:
    eff = _efficiency(
        tmp_path, [text_row(1, 0.5, gpu_name=None), text_row(2, 0.5, gpu_name="Radeon X")]
    )
    assert eff["model_flops"].notna().all()
    for column in ("mfu", "mbu", "peak_flops_per_s", "ceiling_source"):
        assert eff[column].isna().all(), column


def test_rows_without_shapes_stay_empty(tmp_path) -> None:
    eff = _efficiency(
        tmp_path,
        [text_row(1, 0.1), text_row(2, 0.1, status="oom")],
        architecture={"params": 205_120},
    )
    assert eff["model_flops"].isna().all() and eff["mfu"].isna().all()


def test_projection_scales_memory_bound_rows_by_bandwidth(tmp_path) -> None:
    eff = _efficiency(tmp_path, [text_row(2, wall_s=0.1, prefill_share=0.2, energy_j=50.0)])
    projected, notes = project(eff, "L4")
    assert notes == []
    row = projected.iloc[0]
    ratio = 3.35 / 0.300
    prefill, decode = 0.02, 0.1 * 0.8 * 0.99
    host = 0.1 - prefill - decode
    assert row["projected"] and row["projected_from"] == "H100-SXM-80GB"
    assert row["projection_bound"] == "memory"
    assert row["gpu_name"] == "L4"
    assert row["prefill_s_p50"] == pytest.approx(prefill * ratio)
    assert row["tpot_s_p50"] == pytest.approx(decode * ratio / 31)
    assert row["wall_s_p50"] == pytest.approx((prefill + decode) * ratio + host)
    assert row["wall_s_p99"] == pytest.approx(0.11 * row["wall_s_p50"] / 0.1)
    assert row["energy_j"] is None or math.isnan(row["energy_j"])
    assert row["mbu"] == pytest.approx(eff.iloc[0]["min_bytes"] / row["wall_s_p50"] / 0.3e12)


def test_projection_scales_compute_bound_phases_by_flops(tmp_path) -> None:
    eff = _efficiency(tmp_path, [text_row(32, wall_s=1.0, prefill_share=0.3)])
    assert eff.iloc[0]["prefill_flops"] / eff.iloc[0]["prefill_bytes"] > 989 / 3.35
    row = project(eff, "A100-SXM-80GB")[0].iloc[0]
    assert row["projection_bound"] == "prefill compute, decode memory"
    assert row["prefill_s_p50"] == pytest.approx(0.3 * 989 / 312)
    assert row["decode_s_p50"] == pytest.approx(0.7 * 0.99 * 3.35 / 2.039)


def test_projection_leaves_out_what_it_cannot_scale(tmp_path) -> None:
    rows = [text_row(1, 0.1, gpu_name=None), text_row(2, 0.1, dtype="bf16")]
    eff = _efficiency(tmp_path, rows)
    projected, notes = project(eff, "T4")
    assert projected.empty
    assert "nothing to scale from" in notes[0]
    assert "T4 has no bf16 rate" in notes[1]
    with pytest.raises(BadInput, match="no datasheet figures"):
        project(eff, "B200")


def test_spec_table_covers_the_rate_card_keys() -> None:
    for key in (
        "H100-SXM-80GB",
        "H100-PCIE-80GB",
        "H200-SXM-141GB",
        "A100-SXM-80GB",
        "A100-SXM-40GB",
        "A100-PCIE-80GB",
        "L40S",
        "L4",
        "A10G",
        "T4",
    ):
        assert key in datasheet_keys()
    h100 = gpu_spec("H100-SXM-80GB")
    assert h100 is not None and h100.ridge_flops_per_byte == pytest.approx(989 / 3.35)
    assert gpu_spec("none") is None and gpu_spec(None) is None


def test_encoder_and_search_work_match_a_hand_count(tmp_path) -> None:
    arch = {"params": 66_368, "hidden_size": 32, "num_layers": 2, "vocab_size": 1024}
    body = 66_368 - 1024 * 32  # the token embedding is a lookup
    row = {
        "workload": "embedding",
        "dtype": "fp32",
        "batch_size": 4,
        "sequences": 4,
        "settings": '{"seq_len":32}',
    }
    work = row_work(row, {"workloads": {"embedding": {"architecture": arch}}})
    assert work is not None
    # 2 FLOPs per weight per token, plus Q·Kᵀ and A·V over all 32×32 pairs of each layer.
    assert work["batch"].flops == 2 * body * 32 * 4 + 2 * 2 * (2 * 32) * 32 * 32 * 4
    assert work["batch"].min_bytes == body * 4
    corpus = {"rows": 10_000, "dim": 32, "bytes": 1_280_000}
    meta = {"workloads": {"retrieval": {"architecture": arch, "corpus": corpus}}}
    query = {
        **row,
        "workload": "retrieval",
        "sequences": None,
        "queries": 4,
        "settings": '{"query_len":16,"corpus_size":10000}',
    }
    search = row_work(query, meta)
    assert search is not None
    encode = 2 * body * 16 * 4 + 2 * 2 * (2 * 32) * 16 * 16 * 4
    assert search["batch"].flops == encode + 2 * 10_000 * 32 * 4
    assert search["batch"].min_bytes == body * 4 + 1_280_000
    assert row_work({**row, "workload": "image"}, meta) is None


def test_workloads_without_a_formula_take_the_counted_flops(tmp_path) -> None:
    image = {**text_row(2, 0.5), "workload": "image", "settings": "{}", "counted_flops": 4.0e13}
    image["prefill_s_p50"] = image["decode_s_p50"] = None
    rows = [image, {**text_row(2, 0.1), "counted_flops": 1.0}]
    eff = _efficiency(tmp_path, rows)
    counted, formula = eff.iloc[0], eff.iloc[1]
    assert (counted["flops_source"], counted["model_flops"]) == ("counted", 4.0e13)
    # 4e13 FLOPs in 0.5 s against the H100's 989 TFLOP/s datasheet bf16 peak.
    assert counted["mfu"] == pytest.approx(4.0e13 / 0.5 / 989e12)
    assert pd.isna(counted["mbu"]) and pd.isna(counted["min_bytes"])
    # A row the formula covers keeps the formula, whatever was counted.
    assert formula["flops_source"] == "formula"
    assert formula["model_flops"] == 21_348_352 + 19_847_936
