"""Roofline work of tied-embedding decoders, and calibration ceilings applied only to the GPU
they were measured on. Hand-computed answers."""

from __future__ import annotations

from pathlib import Path

import pytest

# -- roofline -------------------------------------------------------------------------------------


def test_tied_embeddings_count_the_output_projection_once() -> None:
    from harness.analysis.roofline import DecoderShape, text_work
    from tests.report_helpers import TINY_TEXT_ARCH

    # Tied: the same body with one V·d matrix fewer (205,120 − 1024·64 = 139,584 parameters).
    tied = DecoderShape.from_architecture(
        {**TINY_TEXT_ARCH, "params": 139_584, "tie_word_embeddings": True}
    )
    prefill, decode = text_work(tied, batch_size=2, input_len=64, output_len=32, dtype_bytes=2)
    assert (prefill.flops, prefill.min_bytes) == (21_348_352, 311_936)
    assert (decode.flops, decode.min_bytes) == (19_847_936, 9_923_968)


def test_calibration_of_another_gpu_is_not_used(tmp_path: Path) -> None:
    from harness.analysis.roofline import efficiency
    from harness.results.runs import load_run
    from tests.report_helpers import text_row, write_run

    calibration = {
        "gpu_key": "A100-SXM-80GB",
        "matmul_tflops": 250.0,
        "matmul_dtype": "bf16",
        "copy_bytes_per_s": 1.8e12,
    }
    run = load_run(write_run(tmp_path, "r", [text_row(2, 0.1)], calibration=calibration))
    row = efficiency(run.measurements, run.meta).iloc[0]
    assert row["ceiling_source"] == "datasheet"
    assert row["peak_flops_per_s"] == pytest.approx(989e12)
    assert row["peak_bytes_per_s"] == pytest.approx(3.35e12)
