"""Image generation: a latent diffusion pipeline (CLIP text encoders, UNet, VAE) run step by step.

One iteration is what a text-to-image request costs: encode the prompts (and the empty negative
prompts when classifier-free guidance is on), run `steps` denoising steps of the UNet (guidance
doubles the UNet batch), decode the latents with the VAE to 8-bit pixels on the device. Prompt
token ids are random when the model has no tokenizer (the encoders always read padded 77-token
sequences, so the prompt text does not change the cost). Phases: text_encode, denoise,
vae_decode; `denoise_step_s` = denoise / steps.

| preset | shape of | text encoders | UNet | native size | params |
| --- | --- | --- | --- | --- | --- |
| tiny | (test model) | CLIP 2 × 32 | 16/32 channels | 64 px | ~0.4M |
| sd-1.5 | runwayml/stable-diffusion-v1-5 | CLIP ViT-L (123M) | 320-1280 channels, 860M | 512 px | 1.07B |
| sdxl | stabilityai/stable-diffusion-xl-base-1.0 | CLIP ViT-L + OpenCLIP bigG (817M) | 2.57B, text_time conditioning | 1024 px | 3.47B |

The schedulers are Euler discrete with each model's training noise schedule; a local pipeline
folder (`--model PATH` holding model_index.json) keeps its own scheduler, encoders and
tokenizers. The SDXL VAE runs in the run's dtype (the widely used fp16-safe VAE does; the original
upcasts to fp32 in fp16 runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from harness.errors import BadInput
from workloads.base import Phase, Stopwatch, Workload, WorkloadContext, WorkloadSettings
from workloads.base import require_positive as _positive
from workloads.common import default_dtype, generator, param_count, torch_dtype
from workloads.image_presets import (
    PRESETS,
    ImagePreset,
    pixel_multiple,
    read_pipeline_folder,
    text_encoder_class,
)


@dataclass(frozen=True)
class ImageSettings(WorkloadSettings):
    steps: int = 20
    height: int = 512
    width: int = 512
    guidance: bool = True
    images_per_prompt: int = 1

    def validate(self) -> None:
        for option in ("steps", "height", "width", "images_per_prompt"):
            _positive(option, getattr(self, option))


class ImageWorkload(Workload):
    name: ClassVar[str] = "image"
    settings_type = ImageSettings
    presets = PRESETS
    preset_settings: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"steps": 2, "height": 64, "width": 64},
        "sdxl": {"height": 1024, "width": 1024},
    }
    gpu_default_preset = "sd-1.5"
    gpu_default_batch_sizes = (1, 4)
    cpu_default_batch_sizes = (1, 2)
    unit_columns = ("images", "requests")
    phases = (
        Phase("text_encode", "start", "text_encoded"),
        Phase("denoise", "text_encoded", "denoised"),
        Phase("vae_decode", "denoised", "end"),
    )

    settings: ImageSettings

    def __init__(self, settings: WorkloadSettings, ctx: WorkloadContext) -> None:
        super().__init__(settings, ctx)
        self.text_encoders: list[Any] = []
        self.tokenizers: list[Any | None] = []
        self.unet: Any = None
        self.vae: Any = None
        self.scheduler: Any = None
        self.guidance_scale = 7.5
        self.prompt_ids: list[torch.Tensor] = []
        self.latents: torch.Tensor | None = None
        self.time_ids: torch.Tensor | None = None
        self.denoise_steps: int | None = None

    @classmethod
    def check(cls, settings: WorkloadSettings, ctx: WorkloadContext) -> None:
        super().check(settings, ctx)
        assert isinstance(settings, ImageSettings)
        if ctx.model_path is not None:
            folder = read_pipeline_folder(Path(ctx.model_path))
            multiple = folder.pixel_multiple
        else:
            preset = PRESETS[ctx.preset]
            multiple = pixel_multiple(preset.vae, preset.unet)
        for option in ("height", "width"):
            value = getattr(settings, option)
            if value % multiple:
                raise BadInput(
                    f"--{option} {value} must be divisible by {multiple} (the VAE's downscaling "
                    f"× the UNet's downsampling for this model)"
                )

    # -- building ------------------------------------------------------------------------------

    def load(self) -> None:
        dtype = torch_dtype(self.ctx.dtype)
        device = torch.device(self.ctx.device)
        torch.manual_seed(self.ctx.seed)
        if self.ctx.model_path is not None:
            self._load_folder(Path(self.ctx.model_path), dtype)
        else:
            with default_dtype(dtype):
                self._build_preset(PRESETS[self.ctx.preset], device)
        for module in [*self.text_encoders, self.unet, self.vae]:
            # Plain Module.to: diffusers' override warns on every dtype cast, even with nothing
            # to keep in float32.
            torch.nn.Module.to(module, device=device, dtype=dtype).eval()

    def _build_preset(self, preset: ImagePreset, device: torch.device) -> None:
        from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
        from transformers import CLIPTextConfig

        with device:
            self.text_encoders = [
                text_encoder_class(kind)(CLIPTextConfig(**config))
                for kind, config in preset.text_encoders
            ]
            self.unet = UNet2DConditionModel(**preset.unet)
            self.vae = AutoencoderKL(**preset.vae)
        self.tokenizers = [None] * len(self.text_encoders)
        self.scheduler = EulerDiscreteScheduler(**preset.scheduler)
        self.guidance_scale = preset.guidance_scale

    def _load_folder(self, path: Path, dtype: torch.dtype) -> None:
        import diffusers
        from diffusers import AutoencoderKL, UNet2DConditionModel
        from transformers import AutoTokenizer

        folder = read_pipeline_folder(path)
        common = {"local_files_only": True}
        self.unet = UNet2DConditionModel.from_pretrained(
            path, subfolder="unet", torch_dtype=dtype, **common
        )
        self.vae = AutoencoderKL.from_pretrained(path, subfolder="vae", torch_dtype=dtype, **common)
        self.text_encoders, self.tokenizers = [], []
        for encoder in folder.text_encoders:
            model_cls = text_encoder_class(encoder.class_name)
            self.text_encoders.append(
                model_cls.from_pretrained(path, subfolder=encoder.name, dtype=dtype, **common)
            )
            tokenizer = None
            if encoder.tokenizer is not None:
                tokenizer = AutoTokenizer.from_pretrained(
                    path, subfolder=encoder.tokenizer, **common
                )
            self.tokenizers.append(tokenizer)
        scheduler_cls = getattr(diffusers, folder.scheduler_class, None)
        if not (
            isinstance(scheduler_cls, type) and issubclass(scheduler_cls, diffusers.SchedulerMixin)
        ):
            scheduler_cls = diffusers.EulerDiscreteScheduler
        self.scheduler = scheduler_cls.from_pretrained(path, subfolder="scheduler", **common)
        self.guidance_scale = 5.0 if self.uses_time_ids else 7.5

    @property
    def uses_time_ids(self) -> bool:
        """SDXL-style conditioning: pooled text embeddings and size/crop ids added to the time embedding."""
        return getattr(self.unet.config, "addition_embed_type", None) == "text_time"

    @property
    def vae_scale(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    # -- inputs --------------------------------------------------------------------------------

    def _token_ids(self, encoder: Any, tokenizer: Any | None, batch_size: int) -> torch.Tensor:
        """Prompt ids for one encoder: the negative (empty) prompts first when guidance is on."""
        length = int(encoder.config.max_position_embeddings)
        if tokenizer is not None:
            prompts = ["a photograph of an astronaut riding a horse"] * batch_size
            if self.settings.guidance:
                prompts = [""] * batch_size + prompts
            return tokenizer(
                prompts,
                padding="max_length",
                max_length=length,
                truncation=True,
                return_tensors="pt",
            ).input_ids
        rows = batch_size * (2 if self.settings.guidance else 1)
        vocab = int(encoder.config.vocab_size)
        gen = generator("cpu", self.ctx.seed)
        return torch.randint(0, vocab, (rows, length), generator=gen)

    def prepare(self, batch_size: int) -> None:
        assert self.unet is not None, "load() first"
        device, dtype = self.ctx.device, torch_dtype(self.ctx.dtype)
        self.prompt_ids = [
            self._token_ids(encoder, tokenizer, batch_size).to(device)
            for encoder, tokenizer in zip(self.text_encoders, self.tokenizers, strict=True)
        ]
        images = batch_size * self.settings.images_per_prompt
        shape = (
            images,
            int(self.unet.config.in_channels),
            self.settings.height // self.vae_scale,
            self.settings.width // self.vae_scale,
        )
        gen = generator("cpu", self.ctx.seed)
        self.latents = torch.randn(shape, generator=gen).to(device, dtype)
        self.time_ids = None
        if self.uses_time_ids:
            pooled_dim = int(self.text_encoders[-1].config.projection_dim)
            config = self.unet.config
            count = (config.projection_class_embeddings_input_dim - pooled_dim) // (
                config.addition_time_embed_dim
            )
            h, w = float(self.settings.height), float(self.settings.width)
            values = ([h, w, 0.0, 0.0, h, w] + [0.0] * count)[:count]
            rows = images * (2 if self.settings.guidance else 1)
            self.time_ids = torch.tensor([values] * rows, device=device, dtype=dtype)

    # -- one request batch ---------------------------------------------------------------------

    def _encode_prompts(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        hidden, pooled = [], None
        for encoder, ids in zip(self.text_encoders, self.prompt_ids, strict=True):
            out = encoder(ids, output_hidden_states=self.uses_time_ids)
            # SDXL conditions on the penultimate layer of both encoders.
            hidden.append(out.hidden_states[-2] if self.uses_time_ids else out.last_hidden_state)
            pooled = getattr(out, "text_embeds", None)
        n = self.settings.images_per_prompt
        embeds = torch.cat(hidden, dim=-1).repeat_interleave(n, dim=0)
        return embeds, None if pooled is None else pooled.repeat_interleave(n, dim=0)

    def run_once(self, stopwatch: Stopwatch) -> None:
        assert self.latents is not None, "prepare() first"
        guidance = self.settings.guidance
        with torch.inference_mode():
            embeds, pooled = self._encode_prompts()
            stopwatch.mark("text_encoded")
            extra = {}
            if self.time_ids is not None:
                extra["added_cond_kwargs"] = {"text_embeds": pooled, "time_ids": self.time_ids}
            self.scheduler.set_timesteps(self.settings.steps, device=self.latents.device)
            latents = self.latents * self.scheduler.init_noise_sigma
            for t in self.scheduler.timesteps:
                model_input = torch.cat([latents, latents]) if guidance else latents
                model_input = self.scheduler.scale_model_input(model_input, t)
                noise = self.unet(model_input, t, encoder_hidden_states=embeds, **extra).sample
                if guidance:
                    uncond, cond = noise.chunk(2)
                    noise = uncond + self.guidance_scale * (cond - uncond)
                latents = self.scheduler.step(noise, t, latents).prev_sample
            self.denoise_steps = len(self.scheduler.timesteps)
            stopwatch.mark("denoised")
            latents = latents / self.vae.config.scaling_factor
            shift = getattr(self.vae.config, "shift_factor", None)
            if shift:
                latents = latents + shift
            pixels = self.vae.decode(latents.to(self.vae.dtype)).sample
            (pixels / 2 + 0.5).clamp(0, 1).mul(255).round().to(torch.uint8)

    # -- reporting -----------------------------------------------------------------------------

    def units(self, batch_size: int) -> dict[str, float]:
        return {"images": batch_size * self.settings.images_per_prompt, "requests": batch_size}

    def row_extras(self, batch_size: int) -> dict[str, Any]:
        s = self.settings
        return {
            "steps": s.steps,
            "height": s.height,
            "width": s.width,
            "guidance": s.guidance,
            "images_per_prompt": s.images_per_prompt,
        }

    def derived_columns(
        self, batch_size: int, wall_s_p50: float | None, phases_s_p50: dict[str, float | None]
    ) -> dict[str, Any]:
        denoise = phases_s_p50.get("denoise")
        steps = self.denoise_steps or self.settings.steps
        return {"denoise_step_s": denoise / steps if denoise is not None else None}

    def architecture(self) -> dict[str, Any]:
        unet, vae = self.unet.config, self.vae.config
        return {
            "params": sum(param_count(m) for m in [*self.text_encoders, self.unet, self.vae]),
            "text_encoders": [
                {
                    "class": type(e).__name__,
                    "params": param_count(e),
                    "hidden_size": int(e.config.hidden_size),
                    "num_layers": int(e.config.num_hidden_layers),
                    "tokenizer": t is not None,
                }
                for e, t in zip(self.text_encoders, self.tokenizers, strict=True)
            ],
            "unet": {
                "params": param_count(self.unet),
                "block_out_channels": list(unet.block_out_channels),
                "cross_attention_dim": unet.cross_attention_dim,
                "addition_embed_type": unet.addition_embed_type,
            },
            "vae": {
                "params": param_count(self.vae),
                "block_out_channels": list(vae.block_out_channels),
                "scale": self.vae_scale,
            },
            "scheduler": type(self.scheduler).__name__,
            "guidance_scale": self.guidance_scale,
        }

    def describe(self) -> dict[str, Any]:
        assert self.unet is not None, "load() first"
        architecture = self.architecture()
        return {
            **super().describe(),
            "model_params": architecture["params"],
            "architecture": architecture,
        }

    def release(self) -> None:
        self.prompt_ids = []
        self.latents = None
        self.time_ids = None

    def close(self) -> None:
        self.release()
        self.text_encoders, self.tokenizers = [], []
        self.unet = self.vae = self.scheduler = None
