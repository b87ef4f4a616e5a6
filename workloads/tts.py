"""Speech synthesis: a VITS model (MMS-TTS) turning `characters` of text into a waveform.

Inputs are synthetic character ids (with the blank token between characters that MMS-TTS
tokenizers insert, so 200 characters are 401 ids). How long the generated audio is depends on
the durations the model predicts, which is where the cost goes (the HiFi-GAN vocoder runs per
output sample). VITS draws noise on each call: the global torch generator is re-seeded before
every call so every iteration produces the same audio length, and `audio_s` reports the seconds
actually generated (the sum over the batch of each waveform's length / sampling rate).

Random weights predict arbitrary durations, so a preset's speaking rate is calibrated once at
load time to about 14 characters a second (150 words a minute), a typical speaking pace. A local
checkpoint (`--model PATH`) speaks at its own pace. Phases: encode (text encoder, duration
prediction, alignment) and decode (flow + vocoder).

| preset | shape of | text encoder | vocoder upsampling | params |
| --- | --- | --- | --- | --- |
| tiny | (test model) | 1 layer, hidden 32 | 32 channels, ×256 | ~0.08M |
| mms-tts | facebook/mms-tts-eng | 6 layers, hidden 192 | 512 channels, ×256 | 36.3M |
"""

from __future__ import annotations

import json
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
    with_architecture,
)

RANDOM_WEIGHTS_CHARS_PER_S = 14.0
BLANK_ID = 0  # VitsTokenizer puts id 0 between characters when add_blank is on

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "vocab_size": 38,
        "hidden_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "ffn_dim": 64,
        "flow_size": 32,
        "spectrogram_bins": 33,
        "upsample_initial_channel": 32,
        "resblock_kernel_sizes": [3],
        "resblock_dilation_sizes": [[1]],
        "prior_encoder_num_flows": 1,
        "prior_encoder_num_wavenet_layers": 1,
        "posterior_encoder_num_wavenet_layers": 1,
        "duration_predictor_num_flows": 1,
        "duration_predictor_filter_channels": 16,
        "depth_separable_num_layers": 1,
    },
    # VitsConfig's defaults are facebook/mms-tts-eng's shape; the vocabulary is English's.
    "mms-tts": {"vocab_size": 38},
}


@dataclass(frozen=True)
class TtsSettings(WorkloadSettings):
    characters: int = 200

    def validate(self) -> None:
        require_positive("characters", self.characters)


def _folder_adds_blank(path: Path) -> bool:
    config_file = path / "tokenizer_config.json"
    if not config_file.is_file():
        return True
    try:
        return bool(json.loads(config_file.read_text()).get("add_blank", True))
    except (OSError, ValueError) as err:
        raise BadInput(f"--model {path}: cannot read tokenizer_config.json ({err})") from None


class TtsWorkload(Workload):
    name: ClassVar[str] = "tts"
    settings_type = TtsSettings
    presets = PRESETS
    preset_settings: ClassVar[dict[str, dict[str, Any]]] = {"tiny": {"characters": 40}}
    gpu_default_preset = "mms-tts"
    gpu_default_batch_sizes = (1, 4, 16)
    cpu_default_batch_sizes = (1, 2)
    unit_columns = ("characters", "audio_s", "requests")
    phases = (Phase("encode", "start", "encoded"), Phase("decode", "encoded", "end"))

    settings: TtsSettings

    def __init__(self, settings: WorkloadSettings, ctx: WorkloadContext) -> None:
        super().__init__(settings, ctx)
        self.model: Any = None
        self.add_blank = True
        self.input_ids: torch.Tensor | None = None
        self.audio_s_by_batch: dict[int, float] = {}
        self.last_lengths: torch.Tensor | None = None
        self.calibrated_speaking_rate: float | None = None
        self._stopwatch: Stopwatch | None = None

    @classmethod
    def check(cls, settings: WorkloadSettings, ctx: WorkloadContext) -> None:
        super().check(settings, ctx)
        if ctx.model_path is not None:
            load_local_config(Path(ctx.model_path), cls.name, ("vits",))

    def load(self) -> None:
        from transformers import VitsConfig, VitsModel

        self.model = load_model(
            self.ctx, VitsModel, lambda: VitsModel(VitsConfig(**PRESETS[self.ctx.preset]))
        )
        if self.ctx.model_path is not None:
            self.add_blank = _folder_adds_blank(Path(self.ctx.model_path))
        _duration_predictor_in_fp32(self.model)
        self.model.flow.register_forward_pre_hook(self._mark_encoded)
        if self.ctx.model_path is None:
            self._calibrate_speaking_rate()

    def _mark_encoded(self, module: torch.nn.Module, args: Any) -> None:
        if self._stopwatch is not None:
            self._stopwatch.mark("encoded")

    def _text_ids(self, batch_size: int) -> torch.Tensor:
        vocab = int(self.model.config.vocab_size)
        gen = generator("cpu", self.ctx.seed)
        chars = torch.randint(1, vocab, (batch_size, self.settings.characters), generator=gen)
        if self.add_blank:
            ids = torch.full((batch_size, 2 * self.settings.characters + 1), BLANK_ID)
            ids[:, 1::2] = chars
        else:
            ids = chars
        return ids.to(self.ctx.device)

    def _synthesize(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Waveform lengths in samples, one per text. Seeded so every call makes the same audio."""
        torch.manual_seed(self.ctx.seed)
        with torch.inference_mode():
            return self.model(input_ids=input_ids).sequence_lengths

    def _seconds(self, lengths: torch.Tensor) -> float:
        return float(lengths.sum().item()) / float(self.model.config.sampling_rate)

    def _calibrate_speaking_rate(self) -> None:
        """Set the speaking rate so one seeded probe text comes out at the target pace.

        The model makes ceil(exp(log_duration) / speaking_rate) frames per input id; the log
        durations of the probe are captured and the rate found by bisection, to a frame.
        """
        captured: list[torch.Tensor] = []
        hook = self.model.duration_predictor.register_forward_hook(
            lambda _module, _args, output: captured.append(output.detach().float().cpu())
        )
        try:
            self._synthesize(self._text_ids(1))
        finally:
            hook.remove()
        durations = torch.exp(captured[0]).flatten()
        config = self.model.config
        samples_per_frame = math.prod(config.upsample_rates)
        target = self.settings.characters / RANDOM_WEIGHTS_CHARS_PER_S
        target_frames = target * config.sampling_rate / samples_per_frame
        low, high = 0.0, 1.0
        while torch.ceil(durations * high).sum() < target_frames:
            high *= 2
        for _ in range(60):
            middle = (low + high) / 2
            if torch.ceil(durations * middle).sum() < target_frames:
                low = middle
            else:
                high = middle
        self.model.speaking_rate = 1.0 / high
        self.calibrated_speaking_rate = float(self.model.speaking_rate)

    def prepare(self, batch_size: int) -> None:
        assert self.model is not None, "load() first"
        self.input_ids = self._text_ids(batch_size)
        self.last_lengths = self._synthesize(self.input_ids)
        self.audio_s_by_batch[batch_size] = self._seconds(self.last_lengths)

    def run_once(self, stopwatch: Stopwatch) -> None:
        assert self.input_ids is not None, "prepare() first"
        self._stopwatch = stopwatch
        try:
            self.last_lengths = self._synthesize(self.input_ids)
        finally:
            self._stopwatch = None

    def units(self, batch_size: int) -> dict[str, float]:
        return {
            "characters": batch_size * self.settings.characters,
            "audio_s": self.audio_s_by_batch.get(batch_size),
            "requests": batch_size,
        }

    def row_extras(self, batch_size: int) -> dict[str, Any]:
        return {
            "characters_per_request": self.settings.characters,
            "input_ids_per_request": None if self.input_ids is None else self.input_ids.shape[1],
        }

    def derived_columns(
        self, batch_size: int, wall_s_p50: float | None, phases_s_p50: dict[str, float | None]
    ) -> dict[str, Any]:
        audio_s = self.audio_s_by_batch.get(batch_size)
        rtf = wall_s_p50 / audio_s if wall_s_p50 is not None and audio_s else None
        return {"real_time_factor": rtf}

    def architecture(self) -> dict[str, Any]:
        c = self.model.config
        return {
            "model_type": c.model_type,
            "params": param_count(self.model),
            "hidden_size": int(c.hidden_size),
            "num_layers": int(c.num_hidden_layers),
            "num_attention_heads": int(c.num_attention_heads),
            "upsample_initial_channel": int(c.upsample_initial_channel),
            "upsample_rates": list(c.upsample_rates),
            "sampling_rate": int(c.sampling_rate),
            "vocab_size": int(c.vocab_size),
            "add_blank": self.add_blank,
        }

    def describe(self) -> dict[str, Any]:
        assert self.model is not None, "load() first"
        return {
            **with_architecture(super().describe(), self.architecture()),
            "speaking_rate": float(self.model.speaking_rate),
            "speaking_rate_calibrated": self.calibrated_speaking_rate is not None,
        }

    def release(self) -> None:
        self.input_ids = None
        self.last_lengths = None

    def close(self) -> None:
        self.release()
        self.model = None


def _duration_predictor_in_fp32(model: torch.nn.Module) -> None:
    """Run VITS's stochastic duration predictor in fp32 whatever the run's dtype.

    Its spline flow solves a quadratic whose discriminant rounds below zero in bf16/fp16 almost
    every call (transformers then raises); serving stacks keep it in fp32 for the same reason.
    It is a small share of the model's work.
    """
    predictor = model.duration_predictor
    model_dtype = next(model.parameters()).dtype
    if model_dtype == torch.float32:
        return
    predictor.float()

    def to_fp32(module: torch.nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        def cast(value: Any) -> Any:
            return value.float() if torch.is_tensor(value) and value.is_floating_point() else value

        return tuple(cast(a) for a in args), {k: cast(v) for k, v in kwargs.items()}

    def back(module: torch.nn.Module, args: tuple, kwargs: dict, output: Any) -> Any:
        if torch.is_tensor(output) and output.is_floating_point():
            return output.to(model_dtype)
        return output

    predictor.register_forward_pre_hook(to_fp32, with_kwargs=True)
    predictor.register_forward_hook(back, with_kwargs=True)
