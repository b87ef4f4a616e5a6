"""Text embedding: a BERT-family encoder + pooling + L2 normalisation over fixed-length sequences.

Every sequence has exactly `seq_len` tokens (no padding), so every iteration does the same work.
Presets are listed in `workloads.encoders` (tiny, minilm-l6, bge-base, bge-large); `--model PATH`
loads a local BERT/RoBERTa/MPNet/... folder with its tokenizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from harness.errors import BadInput
from workloads.base import Stopwatch, Workload, WorkloadContext, WorkloadSettings, require_positive
from workloads.encoders import ENCODER_PRESETS, Encoder, load_encoder, max_tokens


@dataclass(frozen=True)
class EmbeddingSettings(WorkloadSettings):
    seq_len: int = 128

    def validate(self) -> None:
        require_positive("seq_len", self.seq_len)


class EmbeddingWorkload(Workload):
    name: ClassVar[str] = "embedding"
    settings_type = EmbeddingSettings
    presets = ENCODER_PRESETS
    preset_settings: ClassVar[dict[str, dict[str, Any]]] = {"tiny": {"seq_len": 32}}
    gpu_default_preset = "bge-base"
    gpu_default_batch_sizes = (1, 32, 256)
    cpu_default_batch_sizes = (1, 2)
    unit_columns = ("input_tokens", "sequences")

    settings: EmbeddingSettings

    def __init__(self, settings: WorkloadSettings, ctx: WorkloadContext) -> None:
        super().__init__(settings, ctx)
        self.encoder: Encoder | None = None
        self.inputs: tuple[torch.Tensor, torch.Tensor] | None = None

    @classmethod
    def check(cls, settings: WorkloadSettings, ctx: WorkloadContext) -> None:
        super().check(settings, ctx)
        assert isinstance(settings, EmbeddingSettings)
        limit = max_tokens(ctx, cls.name)
        if settings.seq_len > limit:
            raise BadInput(
                f"--seq-len {settings.seq_len} exceeds the encoder's limit of {limit} tokens"
            )

    def load(self) -> None:
        self.encoder = load_encoder(self.ctx)

    def prepare(self, batch_size: int) -> None:
        assert self.encoder is not None, "load() first"
        self.inputs = self.encoder.token_batch(batch_size, self.settings.seq_len)

    def run_once(self, stopwatch: Stopwatch) -> None:
        assert self.encoder is not None and self.inputs is not None, "prepare() first"
        with torch.inference_mode():
            self.encoder.embed(*self.inputs)

    def units(self, batch_size: int) -> dict[str, float]:
        return {"input_tokens": batch_size * self.settings.seq_len, "sequences": batch_size}

    def row_extras(self, batch_size: int) -> dict[str, Any]:
        return {"seq_len": self.settings.seq_len}

    def describe(self) -> dict[str, Any]:
        assert self.encoder is not None, "load() first"
        architecture = self.encoder.describe()
        return {
            **super().describe(),
            "model_params": architecture["params"],
            "architecture": architecture,
        }

    def release(self) -> None:
        self.inputs = None

    def close(self) -> None:
        self.inputs = None
        if self.encoder is not None:
            self.encoder.close()
        self.encoder = None
