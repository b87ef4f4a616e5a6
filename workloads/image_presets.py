"""Shapes of the image workload's diffusion pipelines, and the check of a local pipeline folder.

Presets hold the constructor arguments of the real models' configs (CLIP text encoders, the
UNet, the VAE, the scheduler's noise schedule), so a random-weight build has their cost.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import BadInput


@dataclass(frozen=True)
class ImagePreset:
    # (transformers class name, CLIPTextConfig arguments), in the pipeline's order
    text_encoders: tuple[tuple[str, Mapping[str, Any]], ...]
    unet: Mapping[str, Any]
    vae: Mapping[str, Any]
    scheduler: Mapping[str, Any]
    guidance_scale: float


# The Stable Diffusion noise schedule (SD-1.x and SDXL), with Euler's usual spacing.
_SD_SCHEDULE = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "steps_offset": 1,
    "timestep_spacing": "leading",
}

_CLIP_VIT_L = {
    "vocab_size": 49408,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "projection_dim": 768,
}

_OPENCLIP_BIGG = {
    "vocab_size": 49408,
    "hidden_size": 1280,
    "intermediate_size": 5120,
    "num_hidden_layers": 32,
    "num_attention_heads": 20,
    "max_position_embeddings": 77,
    "hidden_act": "gelu",
    "projection_dim": 1280,
}


def _sd_vae(sample_size: int, scaling_factor: float) -> dict[str, Any]:
    return {
        "in_channels": 3,
        "out_channels": 3,
        "latent_channels": 4,
        "block_out_channels": (128, 256, 512, 512),
        "down_block_types": ("DownEncoderBlock2D",) * 4,
        "up_block_types": ("UpDecoderBlock2D",) * 4,
        "layers_per_block": 2,
        "sample_size": sample_size,
        "scaling_factor": scaling_factor,
    }


PRESETS: dict[str, ImagePreset] = {
    "tiny": ImagePreset(
        text_encoders=(
            (
                "CLIPTextModel",
                {
                    "vocab_size": 1000,
                    "hidden_size": 32,
                    "intermediate_size": 64,
                    "num_hidden_layers": 2,
                    "num_attention_heads": 4,
                    "max_position_embeddings": 77,
                    "projection_dim": 32,
                    "bos_token_id": 0,
                    "eos_token_id": 2,
                    "pad_token_id": 1,
                },
            ),
        ),
        unet={
            "sample_size": 16,
            "in_channels": 4,
            "out_channels": 4,
            "block_out_channels": (16, 32),
            "layers_per_block": 1,
            "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
            "up_block_types": ("CrossAttnUpBlock2D", "UpBlock2D"),
            "cross_attention_dim": 32,
            "attention_head_dim": 8,
            "norm_num_groups": 8,
        },
        vae={
            "in_channels": 3,
            "out_channels": 3,
            "latent_channels": 4,
            "block_out_channels": (8, 16, 16),
            "down_block_types": ("DownEncoderBlock2D",) * 3,
            "up_block_types": ("UpDecoderBlock2D",) * 3,
            "layers_per_block": 1,
            "norm_num_groups": 8,
            "sample_size": 64,
        },
        scheduler=_SD_SCHEDULE,
        guidance_scale=7.5,
    ),
    "sd-1.5": ImagePreset(
        text_encoders=(("CLIPTextModel", _CLIP_VIT_L),),
        unet={
            "sample_size": 64,
            "in_channels": 4,
            "out_channels": 4,
            "block_out_channels": (320, 640, 1280, 1280),
            "layers_per_block": 2,
            "down_block_types": ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            "up_block_types": ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
            "cross_attention_dim": 768,
            "attention_head_dim": 8,
        },
        vae=_sd_vae(512, 0.18215),
        scheduler=_SD_SCHEDULE,
        guidance_scale=7.5,
    ),
    "sdxl": ImagePreset(
        text_encoders=(
            ("CLIPTextModel", _CLIP_VIT_L),
            ("CLIPTextModelWithProjection", _OPENCLIP_BIGG),
        ),
        unet={
            "sample_size": 128,
            "in_channels": 4,
            "out_channels": 4,
            "block_out_channels": (320, 640, 1280),
            "layers_per_block": 2,
            "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            "transformer_layers_per_block": (1, 2, 10),
            "attention_head_dim": (5, 10, 20),
            "cross_attention_dim": 2048,
            "use_linear_projection": True,
            "addition_embed_type": "text_time",
            "addition_time_embed_dim": 256,
            "projection_class_embeddings_input_dim": 2816,
        },
        vae=_sd_vae(1024, 0.13025),
        scheduler=_SD_SCHEDULE,
        guidance_scale=5.0,
    ),
}

TEXT_ENCODER_CLASS_NAMES = ("CLIPTextModel", "CLIPTextModelWithProjection")


def text_encoder_class(name: str) -> Any:
    import transformers

    if name not in TEXT_ENCODER_CLASS_NAMES:
        raise BadInput(f"text encoder class {name!r} is not supported")
    return getattr(transformers, name)


def pixel_multiple(vae: Mapping[str, Any], unet: Mapping[str, Any]) -> int:
    """What height and width must divide by: the VAE's downscaling × the UNet's downsampling."""
    vae_scale = 2 ** (len(vae["block_out_channels"]) - 1)
    unet_down = 2 ** (len(unet["block_out_channels"]) - 1)
    return vae_scale * unet_down


@dataclass(frozen=True)
class FolderTextEncoder:
    name: str  # subfolder, e.g. "text_encoder_2"
    class_name: str
    tokenizer: str | None  # its tokenizer's subfolder, or None when the folder has none


@dataclass(frozen=True)
class PipelineFolder:
    path: Path
    text_encoders: tuple[FolderTextEncoder, ...]
    scheduler_class: str
    pixel_multiple: int


def _component(index: Mapping[str, Any], name: str) -> str | None:
    entry = index.get(name)
    if isinstance(entry, list) and len(entry) == 2 and entry[1]:
        return str(entry[1])
    return None


def _read_json(path: Path, folder: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise BadInput(
            f"--model {folder}: cannot read {path.relative_to(folder)} ({err})"
        ) from None
    if not isinstance(data, dict):
        raise BadInput(f"--model {folder}: {path.relative_to(folder)} is not a JSON object")
    return data


def read_pipeline_folder(path: Path) -> PipelineFolder:
    """Check that `path` is a diffusers UNet text-to-image pipeline folder; BadInput otherwise."""
    index_file = path / "model_index.json"
    if not index_file.is_file():
        raise BadInput(f"--model {path}: not a diffusers pipeline folder (no model_index.json)")
    index = _read_json(index_file, path)
    expected = {"unet": "UNet2DConditionModel", "vae": "AutoencoderKL"}
    for name, class_name in expected.items():
        found = _component(index, name)
        if found != class_name:
            raise BadInput(
                f"--model {path}: the image workload needs a {class_name} {name} "
                f"(model_index.json has {found or 'none'})"
            )
    encoders = []
    for name, tokenizer in (("text_encoder", "tokenizer"), ("text_encoder_2", "tokenizer_2")):
        class_name = _component(index, name)
        if class_name is None:
            continue
        if class_name not in TEXT_ENCODER_CLASS_NAMES:
            raise BadInput(
                f"--model {path}: text encoder {name} is a {class_name} "
                f"(supported: {', '.join(TEXT_ENCODER_CLASS_NAMES)})"
            )
        encoders.append(
            FolderTextEncoder(name, class_name, tokenizer if _component(index, tokenizer) else None)
        )
    if not encoders:
        raise BadInput(f"--model {path}: the pipeline has no text encoder")
    unet = _read_json(path / "unet" / "config.json", path)
    vae = _read_json(path / "vae" / "config.json", path)
    if unet.get("addition_embed_type") not in (None, "text_time"):
        raise BadInput(
            f"--model {path}: UNet conditioning {unet['addition_embed_type']!r} is not supported"
        )
    if unet.get("in_channels") != vae.get("latent_channels"):
        raise BadInput(
            f"--model {path}: the UNet takes {unet.get('in_channels')} channels but the VAE makes "
            f"{vae.get('latent_channels')} (inpainting and other image-conditioned pipelines are "
            "not supported)"
        )
    try:
        multiple = pixel_multiple(vae, unet)
    except (KeyError, TypeError):
        raise BadInput(f"--model {path}: unet or vae config has no block_out_channels") from None
    return PipelineFolder(
        path=path,
        text_encoders=tuple(encoders),
        scheduler_class=_component(index, "scheduler") or "EulerDiscreteScheduler",
        pixel_multiple=multiple,
    )
