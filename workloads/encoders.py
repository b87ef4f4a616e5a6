"""BERT-family text encoders, and the workload base that embedding and retrieval share.

An encoder turns fixed-length token sequences into L2-normalised vectors: the transformer, then
pooling (mean over tokens, or the first token for models trained that way, such as bge), then
normalisation. Presets build random weights with the real models' shapes; a local folder loads
real weights (and its tokenizer and sentence-transformers pooling choice when present).

| preset | shape of | layers | hidden | heads | FFN | pooling | params |
| --- | --- | --- | --- | --- | --- | --- | --- |
| tiny | (test model) | 2 | 32 | 2 | 64 | mean | ~0.07M |
| minilm-l6 | sentence-transformers/all-MiniLM-L6-v2 | 6 | 384 | 12 | 1536 | mean | 22.7M |
| bge-base | BAAI/bge-base-en-v1.5 | 12 | 768 | 12 | 3072 | cls | 109M |
| bge-large | BAAI/bge-large-en-v1.5 | 24 | 1024 | 16 | 4096 | cls | 335M |
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from harness.errors import BadInput
from workloads.base import Workload, WorkloadContext, WorkloadSettings
from workloads.common import (
    generator,
    load_local_config,
    load_model,
    param_count,
    with_architecture,
)
from workloads.engines.base import ENGINE_NAMES


@dataclass(frozen=True)
class EncoderPreset:
    num_layers: int
    hidden_size: int
    num_heads: int
    intermediate_size: int
    vocab_size: int = 30522
    max_positions: int = 512
    pooling: str = "mean"  # "mean" or "cls"

    def bert_config(self) -> Any:
        from transformers import BertConfig

        return BertConfig(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_layers,
            num_attention_heads=self.num_heads,
            intermediate_size=self.intermediate_size,
            max_position_embeddings=self.max_positions,
        )


ENCODER_PRESETS: dict[str, EncoderPreset] = {
    "tiny": EncoderPreset(2, 32, 2, 64, vocab_size=1024),
    "minilm-l6": EncoderPreset(6, 384, 12, 1536),
    "bge-base": EncoderPreset(12, 768, 12, 3072, pooling="cls"),
    "bge-large": EncoderPreset(24, 1024, 16, 4096, pooling="cls"),
}

ENCODER_MODEL_TYPES = (
    "bert",
    "roberta",
    "xlm-roberta",
    "distilbert",
    "mpnet",
    "electra",
    "modernbert",
)

# RoBERTa-style models number positions from padding_idx + 1, so two positions are never used.
_POSITION_OFFSET = {"roberta": 2, "xlm-roberta": 2}


def _max_tokens(config: Any) -> int:
    limit = getattr(config, "max_position_embeddings", None) or 512
    return int(limit) - _POSITION_OFFSET.get(config.model_type, 0)


def max_tokens(ctx: WorkloadContext, workload: str) -> int:
    """Longest sequence the encoder accepts; refuses a `--model` folder of another architecture."""
    if ctx.model_path is not None:
        return _max_tokens(load_local_config(Path(ctx.model_path), workload, ENCODER_MODEL_TYPES))
    return ENCODER_PRESETS[ctx.preset].max_positions


def _local_pooling(path: Path) -> str:
    """The sentence-transformers pooling of the folder (1_Pooling/config.json), else mean."""
    pooling_file = path / "1_Pooling" / "config.json"
    if pooling_file.is_file():
        try:
            pooling = json.loads(pooling_file.read_text())
        except (OSError, ValueError) as err:
            raise BadInput(f"--model {path}: cannot read {pooling_file.name} ({err})") from None
        if pooling.get("pooling_mode_cls_token"):
            return "cls"
    return "mean"


def embed_tokens(
    model: Any, pooling: str, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """Normalised vectors of token sequences: the transformer, pooling, L2 normalisation."""
    hidden = model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    if pooling == "cls":
        pooled = hidden[:, 0]
    else:
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1)
    return torch.nn.functional.normalize(pooled, dim=-1)


class Encoder:
    """A loaded encoder on its device: `embed` gives normalised vectors for token ids."""

    def __init__(self, model: Any, pooling: str, tokenizer: Any | None, seed: int) -> None:
        self.model = model
        self.pooling = pooling
        self.tokenizer = tokenizer
        self.seed = seed
        self.config = model.config
        self.hidden_size = int(model.config.hidden_size)
        self.max_tokens = _max_tokens(model.config)
        self.device = next(model.parameters()).device
        self._embed: Callable[..., torch.Tensor] = embed_tokens
        self.compiled: Any = None

    def compile(self) -> None:
        """Run `embed` through torch.compile from now on (static shapes: one graph per shape)."""
        from workloads.engines.compiled import CompiledCall

        self.compiled = CompiledCall(embed_tokens, self.device)
        self._embed = self.compiled

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        vectors = self._embed(self.model, self.pooling, input_ids, attention_mask)
        # A CUDA graph's output is overwritten by its next replay: hand out a copy.
        return vectors.clone() if self.compiled is not None else vectors

    def token_batch(self, batch_size: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Input ids and attention mask of `batch_size` sequences of exactly `length` tokens."""
        ids = None
        if self.tokenizer is not None:
            text = "The quick brown fox jumps over the lazy dog. " * (length // 4 + 8)
            encoded = self.tokenizer(
                [text] * batch_size,
                max_length=length,
                truncation=True,
                padding="max_length",
                return_tensors="pt",
            )
            if encoded.input_ids.shape[1] == length:
                ids = encoded.input_ids
        if ids is None:
            vocab = int(self.config.vocab_size)
            # Low ids are where special tokens usually live.
            low = min(1000, vocab // 2)
            ids = torch.randint(
                low, vocab, (batch_size, length), generator=generator("cpu", self.seed)
            )
        ids = ids.to(self.device)
        return ids, torch.ones_like(ids)

    def describe(self) -> dict[str, Any]:
        c = self.config
        return {
            "model_type": c.model_type,
            "params": param_count(self.model),
            "hidden_size": self.hidden_size,
            "num_layers": int(getattr(c, "num_hidden_layers", 0) or getattr(c, "n_layers", 0)),
            "num_attention_heads": int(
                getattr(c, "num_attention_heads", 0) or getattr(c, "n_heads", 0)
            ),
            "intermediate_size": getattr(c, "intermediate_size", None),
            "vocab_size": int(c.vocab_size),
            "max_tokens": self.max_tokens,
            "pooling": self.pooling,
            "tokenizer": self.tokenizer is not None,
        }

    def close(self) -> None:
        self.model = None


def load_encoder(ctx: WorkloadContext) -> Encoder:
    """Build the preset with random weights, or load the local folder, on the device."""
    from transformers import AutoModel, AutoTokenizer, BertModel

    model = load_model(
        ctx,
        AutoModel,
        lambda: BertModel(ENCODER_PRESETS[ctx.preset].bert_config(), add_pooling_layer=False),
    )
    if ctx.model_path is None:
        return Encoder(model, ENCODER_PRESETS[ctx.preset].pooling, None, ctx.seed)
    path = Path(ctx.model_path)
    tokenizer = None
    if (path / "tokenizer_config.json").is_file():
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    return Encoder(model, _local_pooling(path), tokenizer, ctx.seed)


class EncoderWorkload(Workload):
    """Base of the workloads that run an encoder over fixed-length token sequences: the length
    check against the encoder's limit, the encoder and the batch of token ids."""

    presets = ENCODER_PRESETS
    engines = ENGINE_NAMES
    length_setting: ClassVar[str]
    """The settings field with the tokens per sequence; `--<field>` in messages."""

    def __init__(self, settings: WorkloadSettings, ctx: WorkloadContext) -> None:
        super().__init__(settings, ctx)
        self.encoder: Encoder | None = None
        self.inputs: tuple[torch.Tensor, torch.Tensor] | None = None
        self._compile_s: float | None = None
        self._compiled_batch: int | None = None

    @classmethod
    def sequence_tokens(cls, settings: WorkloadSettings) -> int:
        """Tokens in each sequence of a batch."""
        return int(getattr(settings, cls.length_setting))

    @classmethod
    def check(cls, settings: WorkloadSettings, ctx: WorkloadContext) -> None:
        super().check(settings, ctx)
        tokens = cls.sequence_tokens(settings)
        limit = max_tokens(ctx, cls.name)
        if tokens > limit:
            option = "--" + cls.length_setting.replace("_", "-")
            raise BadInput(f"{option} {tokens} exceeds the encoder's limit of {limit} tokens")

    def load(self) -> None:
        self.encoder = load_encoder(self.ctx)
        if self.ctx.engine == "compiled":
            self.encoder.compile()

    def prepare(self, batch_size: int) -> None:
        assert self.encoder is not None, "load() first"
        self.inputs = self.encoder.token_batch(batch_size, self.sequence_tokens(self.settings))
        if self.encoder.compiled is not None and batch_size != self._compiled_batch:
            self._compile(batch_size)

    def _compile(self, batch_size: int) -> None:
        """Compile the encoder for this batch's shape, outside the timed window."""
        from workloads.engines.compiled import first_call_s, reset_compiled

        assert self.encoder is not None and self.inputs is not None
        if self._compiled_batch is not None:
            # One graph per batch size: drop the previous one rather than pile up graphs.
            reset_compiled()
        self._compiled_batch = None
        inputs = self.inputs
        encoder = self.encoder

        def first() -> None:
            with torch.inference_mode():
                encoder.embed(*inputs)

        self._compile_s = first_call_s(first, encoder.device, "the encoder")
        self._compiled_batch = batch_size

    def compile_s(self) -> float | None:
        return self._compile_s

    def engine_settings(self) -> dict[str, Any]:
        """How the encoder runs, as recorded in run.json."""
        compiled = self.encoder.compiled if self.encoder is not None else None
        if compiled is None:
            return {"name": "eager", "torch_version": torch.__version__, "compile_mode": None}
        return {
            "name": "compiled",
            "torch_version": torch.__version__,
            **compiled.settings(),
            "compiled": "encoder forward + pooling + normalisation",
        }

    def describe(self) -> dict[str, Any]:
        assert self.encoder is not None, "load() first"
        described = with_architecture(super().describe(), self.encoder.describe())
        return {**described, "engine": self.engine_settings()}

    def release(self) -> None:
        self.inputs = None

    def close(self) -> None:
        self.release()
        if self.encoder is not None:
            self.encoder.close()
        self.encoder = None
        if self._compiled_batch is not None:
            from workloads.engines.compiled import reset_compiled

            reset_compiled()
        self._compiled_batch = None
