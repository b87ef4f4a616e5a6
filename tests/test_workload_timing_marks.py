"""Built-in workloads mark their timing points where the measurement expects them and describe
the architecture the roofline reads (tied presets say so)."""

from __future__ import annotations

from typing import Any

from tests.workload_helpers import RecordingStopwatch, build, run_iteration
from workloads.base import WorkloadContext

# -- workloads ------------------------------------------------------------------------------------


def test_text_marks_first_token_once_and_every_token_after() -> None:
    workload = build("text", options={"input_len": 8, "output_len": 4})
    stopwatch = run_iteration(workload, 2)
    assert stopwatch.order == ["start", "first_token", *["last_token"] * 4, "end"]


def test_text_records_the_tiny_architecture_the_roofline_uses() -> None:
    from tests.report_helpers import TINY_TEXT_ARCH

    assert build("text").describe()["architecture"] == TINY_TEXT_ARCH


def test_tied_text_presets_say_so() -> None:
    from workloads.text import TextWorkload

    settings = TextWorkload.settings_for("qwen2.5-0.5b", {})
    workload = TextWorkload(
        settings, WorkloadContext(preset="qwen2.5-0.5b", device="meta", dtype="bf16")
    )
    workload.load()
    arch = workload.architecture()
    assert arch["tie_word_embeddings"] is True
    assert arch["num_kv_heads"] == 2 and arch["num_attention_heads"] == 14
    assert arch["params"] == 494_032_768  # Qwen2.5-0.5B's published count


def test_retrieval_searches_after_the_embedded_mark() -> None:
    workload = build("retrieval", options={"corpus_size": 100, "top_k": 3})
    seen: dict[str, Any] = {}

    class Probe(RecordingStopwatch):
        def mark(self, name: str) -> None:
            super().mark(name)
            seen[name] = workload.last_result

    workload.prepare(2)
    probe = Probe()
    probe.mark("start")
    workload.run_once(probe)
    probe.mark("end")
    assert seen["embedded"] is None and seen["end"] is not None
