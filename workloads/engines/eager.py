"""The eager engine: transformers' `generate` with its default dynamic KV cache."""

from __future__ import annotations

from typing import Any

import torch

from workloads.base import Stopwatch
from workloads.engines.base import TextEngine


class _MarkTokens:
    """A logits processor that marks the first and the latest token's logits on the stopwatch."""

    def __init__(self) -> None:
        self.stopwatch: Stopwatch | None = None
        self.calls = 0

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if self.stopwatch is not None:
            if self.calls == 0:
                self.stopwatch.mark("first_token")
            self.stopwatch.mark("last_token")
        self.calls += 1
        return scores


class EagerTextEngine(TextEngine):
    name = "eager"

    def __init__(self, model: Any, input_len: int, output_len: int) -> None:
        super().__init__(model, input_len, output_len)
        self.inputs: dict[str, torch.Tensor] = {}
        self._marker = _MarkTokens()

    def prepare(self, input_ids: torch.Tensor) -> None:
        self.inputs = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}

    def _generation_config(self) -> Any:
        from transformers import GenerationConfig

        n = self.output_len
        # min = max new tokens and no EOS: every run does the same work whatever the weights say.
        return GenerationConfig(
            max_new_tokens=n,
            min_new_tokens=n,
            do_sample=False,
            num_beams=1,
            eos_token_id=None,
            pad_token_id=0,
            use_cache=True,
        )

    def generate(self, stopwatch: Stopwatch) -> torch.Tensor:
        from transformers import LogitsProcessorList

        self._marker.stopwatch = stopwatch
        self._marker.calls = 0
        try:
            with torch.inference_mode():
                out = self.model.generate(
                    **self.inputs,
                    generation_config=self._generation_config(),
                    logits_processor=LogitsProcessorList([self._marker]),
                )
        finally:
            self._marker.stopwatch = None
        produced = out.shape[1] - self.input_len
        # One logits call per new token; any other count would shift the prefill/decode marks.
        if produced != self.output_len or self._marker.calls != produced:
            raise RuntimeError(
                f"generate produced {produced} tokens in {self._marker.calls} steps "
                f"instead of {self.output_len}"
            )
        return out[:, self.input_len :]

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "cache_implementation": "dynamic", "compile_mode": None}

    def release(self) -> None:
        self.inputs = {}
