"""Retrieval: embed the queries, then exact top-k search over an in-memory corpus on the device.

The corpus holds `corpus_size` L2-normalised random vectors of the encoder's width, kept on the
device in the run's dtype (1M × 768 in fp16 = 1.5 GB). Search is a brute-force inner product
(= cosine similarity on normalised vectors) and `torch.topk`, the exact baseline that
approximate indexes are measured against. The encoder and its presets are shared with the
embedding workload (`workloads.encoders`). Phases: embed (start → queries embedded) and search.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from harness.errors import BadInput
from workloads.base import Phase, Stopwatch, WorkloadContext, WorkloadSettings, require_positive
from workloads.common import generator, torch_dtype
from workloads.encoders import EncoderWorkload

# Rows generated at a time when building the corpus, to bound the float32 scratch memory.
_CORPUS_CHUNK_ROWS = 65536


@dataclass(frozen=True)
class RetrievalSettings(WorkloadSettings):
    query_len: int = 32
    corpus_size: int = 1_000_000
    top_k: int = 10

    def validate(self) -> None:
        require_positive("query_len", self.query_len)
        require_positive("corpus_size", self.corpus_size)
        require_positive("top_k", self.top_k)
        if self.top_k > self.corpus_size:
            raise BadInput(f"--top-k {self.top_k} is larger than --corpus-size {self.corpus_size}")


def random_corpus(rows: int, dim: int, device: str, dtype: torch.dtype, seed: int) -> torch.Tensor:
    """`rows` L2-normalised random vectors of width `dim`, the same for a given seed."""
    gen = generator(device, seed)
    corpus = torch.empty(rows, dim, device=device, dtype=dtype)
    for start in range(0, rows, _CORPUS_CHUNK_ROWS):
        stop = min(start + _CORPUS_CHUNK_ROWS, rows)
        chunk = torch.randn(stop - start, dim, device=device, generator=gen)
        corpus[start:stop] = torch.nn.functional.normalize(chunk, dim=-1).to(dtype)
    return corpus


def exact_top_k(
    queries: torch.Tensor, corpus: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores and corpus row indices of the k best matches of each query, best first."""
    scores = queries.to(corpus.dtype) @ corpus.T
    return torch.topk(scores, k, dim=1, largest=True, sorted=True)


class RetrievalWorkload(EncoderWorkload):
    name: ClassVar[str] = "retrieval"
    settings_type = RetrievalSettings
    preset_settings: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"query_len": 16, "corpus_size": 10_000}
    }
    gpu_default_preset = "bge-base"
    gpu_default_batch_sizes = (1, 16, 64)
    cpu_default_batch_sizes = (1, 2)
    unit_columns = ("queries", "input_tokens")
    phases = (Phase("embed", "start", "embedded"), Phase("search", "embedded", "end"))
    length_setting = "query_len"

    settings: RetrievalSettings

    def __init__(self, settings: WorkloadSettings, ctx: WorkloadContext) -> None:
        super().__init__(settings, ctx)
        self.corpus: torch.Tensor | None = None
        self.last_result: tuple[torch.Tensor, torch.Tensor] | None = None

    def load(self) -> None:
        super().load()
        assert self.encoder is not None
        self.corpus = random_corpus(
            self.settings.corpus_size,
            self.encoder.hidden_size,
            self.ctx.device,
            torch_dtype(self.ctx.dtype),
            self.ctx.seed + 1,
        )

    def run_once(self, stopwatch: Stopwatch) -> None:
        assert self.encoder is not None and self.inputs is not None, "prepare() first"
        assert self.corpus is not None
        with torch.inference_mode():
            queries = self.encoder.embed(*self.inputs)
            stopwatch.mark("embedded")
            self.last_result = exact_top_k(queries, self.corpus, self.settings.top_k)

    def units(self, batch_size: int) -> dict[str, float]:
        return {"queries": batch_size, "input_tokens": batch_size * self.settings.query_len}

    def row_extras(self, batch_size: int) -> dict[str, Any]:
        return {
            "query_len": self.settings.query_len,
            "corpus_size": self.settings.corpus_size,
            "top_k": self.settings.top_k,
        }

    def describe(self) -> dict[str, Any]:
        assert self.corpus is not None, "load() first"
        return {
            **super().describe(),
            "corpus": {
                "rows": int(self.corpus.shape[0]),
                "dim": int(self.corpus.shape[1]),
                "bytes": self.corpus.numel() * self.corpus.element_size(),
                "search": "exact inner product + topk",
            },
        }

    def release(self) -> None:
        super().release()
        self.last_result = None

    def close(self) -> None:
        self.corpus = None
        super().close()
