"""Speech recognition: a Whisper-style encoder-decoder on fixed-length synthetic audio.

Whisper reads audio in 30-second windows of log-mel features (100 frames a second, 3000 frames
a window) and pads shorter audio to a full window, so 5 s of audio costs the encoder as much as
30 s. Longer audio is cut into ceil(audio_seconds / 30) windows, each encoded and transcribed
on its own (chunked long-form transcription): cost grows in steps of one window. The features
are random (cost does not depend on the sound).

Decoding is greedy with a KV cache and a fixed length: the 4-token task prompt
(start-of-transcript, language, task, no-timestamps), then `output_len` tokens per window, EOS
ignored. Phases: encode (start → encoder output) and decode (→ last token).

| preset | shape of | encoder / decoder layers | d_model | heads | mel bins | params |
| --- | --- | --- | --- | --- | --- | --- |
| tiny | (test model) | 1 / 1 | 32 | 2 | 80 | ~0.1M |
| whisper-base | openai/whisper-base | 6 / 6 | 512 | 8 | 80 | 72.6M |
| whisper-large-v3 | openai/whisper-large-v3 | 32 / 32 | 1280 | 20 | 128 | 1.54B |
| whisper-large-v3-turbo | openai/whisper-large-v3-turbo | 32 / 4 | 1280 | 20 | 128 | 809M |
"""

from __future__ import annotations

import inspect
import math
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
from workloads.common import (
    generator,
    load_local_config,
    load_model,
    param_count,
    torch_dtype,
    with_architecture,
)

MEL_FRAMES_PER_S = 100  # Whisper's feature extractor: 16 kHz audio, hop of 160 samples
DECODER_PROMPT_TOKENS = 4

_WHISPER_COMMON = {"max_source_positions": 1500, "max_target_positions": 448}
_LARGE_V3 = {
    "vocab_size": 51866,
    "num_mel_bins": 128,
    "d_model": 1280,
    "encoder_layers": 32,
    "encoder_attention_heads": 20,
    "decoder_attention_heads": 20,
    "encoder_ffn_dim": 5120,
    "decoder_ffn_dim": 5120,
    "decoder_start_token_id": 50258,
    **_WHISPER_COMMON,
}

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "vocab_size": 1024,
        "num_mel_bins": 80,
        "d_model": 32,
        "encoder_layers": 1,
        "decoder_layers": 1,
        "encoder_attention_heads": 2,
        "decoder_attention_heads": 2,
        "encoder_ffn_dim": 64,
        "decoder_ffn_dim": 64,
        "decoder_start_token_id": 1,
        "pad_token_id": 0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        **_WHISPER_COMMON,
    },
    "whisper-base": {
        "vocab_size": 51865,
        "num_mel_bins": 80,
        "d_model": 512,
        "encoder_layers": 6,
        "decoder_layers": 6,
        "encoder_attention_heads": 8,
        "decoder_attention_heads": 8,
        "encoder_ffn_dim": 2048,
        "decoder_ffn_dim": 2048,
        "decoder_start_token_id": 50258,
        **_WHISPER_COMMON,
    },
    "whisper-large-v3": {**_LARGE_V3, "decoder_layers": 32},
    "whisper-large-v3-turbo": {**_LARGE_V3, "decoder_layers": 4},
}


def window_s(max_source_positions: int) -> float:
    """Seconds of audio in one encoder window (two stride-2 convs: 2 mel frames per position)."""
    return 2 * max_source_positions / MEL_FRAMES_PER_S


@dataclass(frozen=True)
class AsrSettings(WorkloadSettings):
    audio_seconds: float = 30.0
    output_len: int = 64

    def validate(self) -> None:
        require_positive("audio_seconds", self.audio_seconds)
        require_positive("output_len", self.output_len)


class AsrWorkload(Workload):
    name: ClassVar[str] = "asr"
    settings_type = AsrSettings
    presets = PRESETS
    preset_settings: ClassVar[dict[str, dict[str, Any]]] = {"tiny": {"output_len": 8}}
    gpu_default_preset = "whisper-large-v3-turbo"
    gpu_default_batch_sizes = (1, 8, 32)
    cpu_default_batch_sizes = (1, 2)
    unit_columns = ("audio_s", "output_tokens", "requests")
    phases = (Phase("encode", "start", "encoded"), Phase("decode", "encoded", "end"))

    settings: AsrSettings

    def __init__(self, settings: WorkloadSettings, ctx: WorkloadContext) -> None:
        super().__init__(settings, ctx)
        self.model: Any = None
        self.features: torch.Tensor | None = None
        self.prompt_ids: torch.Tensor | None = None
        self.window_s = window_s(_WHISPER_COMMON["max_source_positions"])
        self.cache_keyword = "past_key_values"

    @classmethod
    def check(cls, settings: WorkloadSettings, ctx: WorkloadContext) -> None:
        super().check(settings, ctx)
        assert isinstance(settings, AsrSettings)
        if ctx.model_path is not None:
            config = load_local_config(Path(ctx.model_path), cls.name, ("whisper",))
            limit = int(config.max_target_positions)
        else:
            limit = int(PRESETS[ctx.preset]["max_target_positions"])
        if DECODER_PROMPT_TOKENS + settings.output_len > limit:
            raise BadInput(
                f"--output-len {settings.output_len} + the {DECODER_PROMPT_TOKENS}-token prompt "
                f"exceeds the decoder's limit of {limit} tokens"
            )

    @property
    def windows(self) -> int:
        """Encoder windows per request: audio shorter than a window is padded to one."""
        return max(1, math.ceil(self.settings.audio_seconds / self.window_s - 1e-9))

    def load(self) -> None:
        from transformers import WhisperConfig, WhisperForConditionalGeneration

        self.model = load_model(
            self.ctx,
            WhisperForConditionalGeneration,
            lambda: WhisperForConditionalGeneration(WhisperConfig(**PRESETS[self.ctx.preset])),
        )
        self.window_s = window_s(int(self.model.config.max_source_positions))
        # Newer transformers call the KV cache argument `cache`; older ones `past_key_values`.
        forward_params = inspect.signature(self.model.forward).parameters
        self.cache_keyword = "cache" if "cache" in forward_params else "past_key_values"

    def prepare(self, batch_size: int) -> None:
        assert self.model is not None, "load() first"
        config = self.model.config
        rows = batch_size * self.windows
        frames = round(self.window_s * MEL_FRAMES_PER_S)
        gen = generator("cpu", self.ctx.seed)
        features = torch.randn(rows, int(config.num_mel_bins), frames, generator=gen)
        self.features = features.to(self.ctx.device, torch_dtype(self.ctx.dtype))
        start = int(config.decoder_start_token_id)
        self.prompt_ids = torch.full(
            (rows, DECODER_PROMPT_TOKENS), start, dtype=torch.long, device=self.ctx.device
        )

    def run_once(self, stopwatch: Stopwatch) -> None:
        from transformers.cache_utils import DynamicCache, EncoderDecoderCache

        assert self.features is not None and self.prompt_ids is not None, "prepare() first"
        with torch.inference_mode():
            encoded = self.model.model.encoder(self.features).last_hidden_state
            stopwatch.mark("encoded")
            # The cache object is updated in place by every decoder call.
            cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
            ids = self.prompt_ids
            for _ in range(self.settings.output_len):
                logits = self.model(
                    encoder_outputs=(encoded,),
                    decoder_input_ids=ids,
                    use_cache=True,
                    **{self.cache_keyword: cache},
                ).logits
                ids = logits[:, -1:].argmax(dim=-1)

    def units(self, batch_size: int) -> dict[str, float]:
        return {
            "audio_s": batch_size * self.settings.audio_seconds,
            "output_tokens": batch_size * self.windows * self.settings.output_len,
            "requests": batch_size,
        }

    def row_extras(self, batch_size: int) -> dict[str, Any]:
        return {
            "audio_seconds": self.settings.audio_seconds,
            "output_len": self.settings.output_len,
            "windows_per_request": self.windows,
        }

    def derived_columns(
        self, batch_size: int, wall_s_p50: float | None, phases_s_p50: dict[str, float | None]
    ) -> dict[str, Any]:
        audio_s = batch_size * self.settings.audio_seconds
        return {"rtfx": audio_s / wall_s_p50 if wall_s_p50 else None}

    def architecture(self) -> dict[str, Any]:
        c = self.model.config
        return {
            "model_type": c.model_type,
            "params": param_count(self.model),
            "d_model": int(c.d_model),
            "encoder_layers": int(c.encoder_layers),
            "decoder_layers": int(c.decoder_layers),
            "attention_heads": int(c.encoder_attention_heads),
            "num_mel_bins": int(c.num_mel_bins),
            "vocab_size": int(c.vocab_size),
            "window_s": self.window_s,
        }

    def describe(self) -> dict[str, Any]:
        assert self.model is not None, "load() first"
        return {
            **with_architecture(super().describe(), self.architecture()),
            "windows_per_request": self.windows,
        }

    def release(self) -> None:
        self.features = None
        self.prompt_ids = None

    def close(self) -> None:
        self.release()
        self.model = None
