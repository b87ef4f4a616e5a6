"""Text embedding: a BERT-family encoder + pooling + L2 normalisation over fixed-length sequences.

Every sequence has exactly `seq_len` tokens (no padding), so every iteration does the same work.
Presets are listed in `workloads.encoders` (tiny, minilm-l6, bge-base, bge-large); `--model PATH`
loads a local BERT/RoBERTa/MPNet/... folder with its tokenizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from workloads.base import Stopwatch, WorkloadSettings, require_positive
from workloads.encoders import EncoderWorkload


@dataclass(frozen=True)
class EmbeddingSettings(WorkloadSettings):
    seq_len: int = 128

    def validate(self) -> None:
        require_positive("seq_len", self.seq_len)


class EmbeddingWorkload(EncoderWorkload):
    name: ClassVar[str] = "embedding"
    settings_type = EmbeddingSettings
    preset_settings: ClassVar[dict[str, dict[str, Any]]] = {"tiny": {"seq_len": 32}}
    gpu_default_preset = "bge-base"
    gpu_default_batch_sizes = (1, 32, 256)
    cpu_default_batch_sizes = (1, 2)
    unit_columns = ("input_tokens", "sequences")
    length_setting = "seq_len"

    settings: EmbeddingSettings

    def run_once(self, stopwatch: Stopwatch) -> None:
        assert self.encoder is not None and self.inputs is not None, "prepare() first"
        with torch.inference_mode():
            self.encoder.embed(*self.inputs)

    def units(self, batch_size: int) -> dict[str, float]:
        return {"input_tokens": batch_size * self.settings.seq_len, "sequences": batch_size}

    def row_extras(self, batch_size: int) -> dict[str, Any]:
        return {"seq_len": self.settings.seq_len}
