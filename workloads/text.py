"""Text generation: a causal LM `generate` call with fixed input and output lengths.

Prefill is start → the first token's logits; decode is first → last token's logits, both marked
inside the same `generate` call by a logits processor (no second call to subtract). TTFT is the
prefill time and TPOT = decode / (output_len − 1), the definition vLLM's benchmarks use.

Engines (`--engine`, in `workloads.engines`): `eager` runs transformers' `generate` with its
dynamic KV cache; `compiled` runs a static KV cache and a `torch.compile`d decode step (CUDA
graphs on CUDA), compiled per batch size outside the timed window. Both decode greedily with the
same exact lengths and give the same token ids.

Presets (random weights, real shapes):
| preset | architecture | params |
| --- | --- | --- |
| tiny | 2-layer Llama, hidden 64 | ~0.2M |
| qwen2.5-0.5b | Qwen2, 24 layers, hidden 896, GQA 14/2 | 0.49B |
| llama-3.2-1b | Llama, 16 layers, hidden 2048, GQA 32/8 | 1.24B |
| llama-3.1-8b | Llama, 32 layers, hidden 4096, GQA 32/8 | 8.0B |
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from harness.errors import BadInput
from workloads.base import (
    Phase,
    Stopwatch,
    Workload,
    WorkloadContext,
    WorkloadSettings,
    require_positive,
)
from workloads.common import generator, load_local_config, param_count, torch_dtype
from workloads.engines.base import ENGINE_NAMES, TextEngine

LLAMA3_ROPE = {"rope_type": "llama3", "low_freq_factor": 1.0, "high_freq_factor": 4.0}

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "model_type": "llama",
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": 1024,
        "max_position_embeddings": 2048,
    },
    "qwen2.5-0.5b": {
        "model_type": "qwen2",
        "hidden_size": 896,
        "intermediate_size": 4864,
        "num_hidden_layers": 24,
        "num_attention_heads": 14,
        "num_key_value_heads": 2,
        "vocab_size": 151936,
        "max_position_embeddings": 32768,
        "rope_theta": 1_000_000.0,
        "rms_norm_eps": 1e-6,
        "tie_word_embeddings": True,
    },
    "llama-3.2-1b": {
        "model_type": "llama",
        "hidden_size": 2048,
        "intermediate_size": 8192,
        "num_hidden_layers": 16,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "head_dim": 64,
        "vocab_size": 128256,
        "max_position_embeddings": 131072,
        "rope_theta": 500_000.0,
        "rope_scaling": {
            **LLAMA3_ROPE,
            "factor": 32.0,
            "original_max_position_embeddings": 8192,
        },
        "rms_norm_eps": 1e-5,
        "tie_word_embeddings": True,
    },
    "llama-3.1-8b": {
        "model_type": "llama",
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "vocab_size": 128256,
        "max_position_embeddings": 131072,
        "rope_theta": 500_000.0,
        "rope_scaling": {**LLAMA3_ROPE, "factor": 8.0, "original_max_position_embeddings": 8192},
        "rms_norm_eps": 1e-5,
        "tie_word_embeddings": False,
    },
}

CAUSAL_LM_TYPES = ("llama", "qwen2", "qwen3", "mistral", "gemma", "gemma2", "phi3", "gpt2", "opt")


@dataclass(frozen=True)
class TextSettings(WorkloadSettings):
    input_len: int = 128
    output_len: int = 256

    def validate(self) -> None:
        require_positive("input_len", self.input_len)
        require_positive("output_len", self.output_len)


class TextWorkload(Workload):
    name: ClassVar[str] = "text"
    settings_type = TextSettings
    presets = PRESETS
    preset_settings: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"input_len": 64, "output_len": 32}
    }
    gpu_default_preset = "llama-3.2-1b"
    gpu_default_batch_sizes = (1, 8, 32)
    cpu_default_batch_sizes = (1, 4)
    unit_columns = ("input_tokens", "output_tokens", "requests")
    engines = ENGINE_NAMES
    slo_metrics = ("ttft", "tpot")
    phases = (
        Phase("prefill", "start", "first_token"),
        Phase("decode", "first_token", "last_token"),
    )

    settings: TextSettings

    def __init__(self, settings: WorkloadSettings, ctx: WorkloadContext) -> None:
        super().__init__(settings, ctx)
        self.model: Any = None
        self.config: Any = None
        self.tokenizer: Any = None
        self.engine: TextEngine | None = None
        self.last_tokens: torch.Tensor | None = None
        """The new token ids of the latest iteration, (batch, output_len)."""

    @classmethod
    def check(cls, settings: WorkloadSettings, ctx: WorkloadContext) -> None:
        super().check(settings, ctx)
        assert isinstance(settings, TextSettings)
        if ctx.model_path is not None:
            config = load_local_config(Path(ctx.model_path), cls.name, CAUSAL_LM_TYPES)
            limit = getattr(config, "max_position_embeddings", None)
        else:
            limit = PRESETS[ctx.preset]["max_position_embeddings"]
        total = settings.input_len + settings.output_len
        if limit is not None and total > limit:
            raise BadInput(
                f"--input-len + --output-len = {total} exceeds the model's context of {limit} tokens"
            )

    def _build_config(self) -> Any:
        from transformers import AutoConfig

        spec = dict(PRESETS[self.ctx.preset])
        return AutoConfig.for_model(spec.pop("model_type"), **spec)

    def load(self) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        dtype = torch_dtype(self.ctx.dtype)
        device = torch.device(self.ctx.device)
        torch.manual_seed(self.ctx.seed)
        if self.ctx.model_path is not None:
            path = Path(self.ctx.model_path)
            self.model = AutoModelForCausalLM.from_pretrained(
                path, dtype=dtype, local_files_only=True
            ).to(device)
            if (path / "tokenizer_config.json").is_file():
                self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        else:
            self.config = self._build_config()
            with device:
                self.model = AutoModelForCausalLM.from_config(self.config, dtype=dtype)
        self.config = self.model.config
        self.model.eval()
        self.engine = self._build_engine()

    def _build_engine(self) -> TextEngine:
        n_in, n_out = self.settings.input_len, self.settings.output_len
        if self.ctx.engine == "compiled":
            from workloads.engines.compiled import CompiledTextEngine

            return CompiledTextEngine(self.model, n_in, n_out)
        from workloads.engines.eager import EagerTextEngine

        return EagerTextEngine(self.model, n_in, n_out)

    def _prompt_ids(self, batch_size: int) -> torch.Tensor:
        n = self.settings.input_len
        if self.tokenizer is not None:
            text = "The quick brown fox jumps over the lazy dog. " * (n // 4 + 8)
            ids = self.tokenizer(text, add_special_tokens=False, return_tensors="pt").input_ids
            ids = ids[:, :n]
            if ids.shape[1] == n:
                return ids.repeat(batch_size, 1).to(self.ctx.device)
        vocab = int(self.config.vocab_size)
        gen = generator("cpu", self.ctx.seed)
        # Stay clear of low ids, where special tokens usually live.
        low = min(16, vocab - 1)
        ids = torch.randint(low, vocab, (batch_size, n), generator=gen)
        return ids.to(self.ctx.device)

    def prepare(self, batch_size: int) -> None:
        assert self.engine is not None, "load() first"
        self.engine.prepare(self._prompt_ids(batch_size))

    def compile_s(self) -> float | None:
        return self.engine.compile_s if self.engine is not None else None

    def run_once(self, stopwatch: Stopwatch) -> None:
        assert self.engine is not None, "load() first"
        self.last_tokens = self.engine.generate(stopwatch)

    def units(self, batch_size: int) -> dict[str, float]:
        return {
            "input_tokens": batch_size * self.settings.input_len,
            "output_tokens": batch_size * self.settings.output_len,
            "requests": batch_size,
        }

    def row_extras(self, batch_size: int) -> dict[str, Any]:
        return {"input_len": self.settings.input_len, "output_len": self.settings.output_len}

    def derived_columns(
        self, batch_size: int, wall_s_p50: float | None, phases_s_p50: dict[str, float | None]
    ) -> dict[str, Any]:
        latencies = self.request_latencies(batch_size, phases_s_p50)
        return {"ttft_s_p50": latencies["ttft"], "tpot_s_p50": latencies["tpot"]}

    def request_latencies(
        self, batch_size: int, phases_s: dict[str, float | None]
    ) -> dict[str, float | None]:
        # The whole batch is one generate call: every request gets its first token when
        # prefill ends and the rest at the decode steps' pace.
        prefill, decode = phases_s.get("prefill"), phases_s.get("decode")
        steps = self.settings.output_len - 1
        return {
            "ttft": prefill,
            "tpot": decode / steps if decode is not None and steps > 0 else None,
        }

    def architecture(self) -> dict[str, Any]:
        c = self.config
        heads = int(c.num_attention_heads)
        head_dim = getattr(c, "head_dim", None) or int(c.hidden_size) // heads
        return {
            "model_type": c.model_type,
            "params": param_count(self.model),
            "hidden_size": int(c.hidden_size),
            "num_layers": int(c.num_hidden_layers),
            "num_attention_heads": heads,
            "num_kv_heads": int(getattr(c, "num_key_value_heads", None) or heads),
            "head_dim": int(head_dim),
            "intermediate_size": int(getattr(c, "intermediate_size", 0) or 0) or None,
            "vocab_size": int(c.vocab_size),
            "tie_word_embeddings": bool(getattr(c, "tie_word_embeddings", False)),
        }

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "architecture": self.architecture(),
            "tokenizer": self.tokenizer is not None,
            "engine": self.engine.settings() if self.engine is not None else None,
        }

    def release(self) -> None:
        self.last_tokens = None
        if self.engine is not None:
            self.engine.release()

    def close(self) -> None:
        self.release()
        if self.engine is not None:
            self.engine.close()
        self.engine = None
        self.model = None
