"""What a text-generation engine does for the `text` workload, whichever way it runs the model.

An engine is built once per loaded model, prepared once per batch size (untimed: a compiled engine
compiles and warms up there), then generates one batch per timed iteration. It marks
`first_token` when the first new token's logits exist and `last_token` after every later one, so
prefill and decode are timed inside the one call.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch

from workloads.base import Stopwatch

ENGINE_NAMES = ("eager", "compiled")


class TextEngine(ABC):
    """Greedy generation of exactly `output_len` new tokens after prompts of `input_len`."""

    name: ClassVar[str]

    def __init__(self, model: Any, input_len: int, output_len: int) -> None:
        self.model = model
        self.input_len = input_len
        self.output_len = output_len
        self.compile_s: float | None = None
        """Seconds the latest `prepare` spent in its first compiled call(s); None when the
        engine compiles nothing."""

    @abstractmethod
    def prepare(self, input_ids: torch.Tensor) -> None:
        """Take the prompts of one batch size (untimed)."""

    @abstractmethod
    def generate(self, stopwatch: Stopwatch) -> torch.Tensor:
        """The new token ids of the prepared batch, shape (batch, output_len)."""

    def settings(self) -> dict[str, Any]:
        """How this engine runs the model, as recorded in run.json."""
        return {"name": self.name, "torch_version": torch.__version__}

    def release(self) -> None:
        """Drop what the prepared batch holds."""

    def close(self) -> None:
        """Drop everything the engine holds besides the model."""
        self.release()
