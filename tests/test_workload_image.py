"""The image workload on the CPU: tiny preset, a saved pipeline folder, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from harness.errors import BadInput
from tests.workload_helpers import (
    assert_phases_add_up,
    build,
    cli_run,
    phase_marks,
    run_iteration,
)
from workloads.image import ImageWorkload
from workloads.image_presets import PRESETS

# diffusers' Euler scheduler hands a tensor to numpy 2 without the `copy` keyword.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def count_unet_rows(workload: ImageWorkload) -> list[int]:
    """Batch size of every UNet call, recorded through a forward hook."""
    rows: list[int] = []
    workload.unet.register_forward_hook(lambda _m, args, _out: rows.append(args[0].shape[0]))
    return rows


def test_tiny_preset_counts_images_and_marks_phases_in_order() -> None:
    workload = build("image", options={"images_per_prompt": 2})
    calls = count_unet_rows(workload)
    stopwatch = run_iteration(workload, 3)
    assert stopwatch.order == phase_marks(workload) == ["start", "text_encoded", "denoised", "end"]
    assert workload.units(3) == {"images": 6, "requests": 3}
    # Guidance runs the unconditional and the conditional half in one UNet batch, per step.
    assert calls == [12, 12]
    extras = workload.row_extras(3)
    assert extras == {
        "steps": 2,
        "height": 64,
        "width": 64,
        "guidance": True,
        "images_per_prompt": 2,
    }
    derived = workload.derived_columns(3, 0.5, {"denoise": 0.3})
    assert derived["denoise_step_s"] == pytest.approx(0.15)
    described = workload.describe()
    assert described["model_params"] == described["architecture"]["params"] > 0


def test_without_guidance_the_unet_batch_is_the_image_count() -> None:
    workload = build("image", options={"guidance": False, "steps": 3, "height": 32})
    calls = count_unet_rows(workload)
    run_iteration(workload, 2)
    assert calls == [2, 2, 2]
    assert workload.latents is not None
    assert tuple(workload.latents.shape) == (2, 4, 32 // 4, 64 // 4)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"height": 60}, "--height 60 must be divisible by 8"),
        ({"width": 100}, "--width 100 must be divisible by 8"),
        ({"steps": 0}, "--steps must be > 0"),
        ({"images_per_prompt": -1}, "--images-per-prompt must be > 0"),
    ],
)
def test_bad_settings_name_the_option(options: dict[str, Any], message: str) -> None:
    with pytest.raises(BadInput, match=message):
        build("image", options=options)


def test_sd15_resolution_must_divide_by_64() -> None:
    with pytest.raises(BadInput, match="--height 520 must be divisible by 64"):
        ImageWorkload.check(
            ImageWorkload.settings_for("sd-1.5", {"height": 520}),
            _context("sd-1.5"),
        )


def test_unknown_preset_lists_the_image_presets() -> None:
    with pytest.raises(BadInput, match="unknown preset 'bge-base' for workload 'image'"):
        build("image", preset="bge-base")


def _context(preset: str, model_path: Path | None = None) -> Any:
    from workloads.base import WorkloadContext

    return WorkloadContext(preset=preset, device="cpu", dtype="fp32", model_path=model_path)


# -- saved pipeline folders -------------------------------------------------------------------


def _tiny_tokenizer() -> Any:
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in "abcdefghijklmnopqrstuvwxyz":
        vocab[char] = len(vocab)
        vocab[char + "</w>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def save_pipeline(folder: Path, *, sdxl: bool = False, tokenizer: bool = False) -> Path:
    """A tiny pipeline folder laid out as diffusers saves one (model_index.json + subfolders)."""
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(0)
    tiny = PRESETS["tiny"]
    clip = dict(tiny.text_encoders[0][1])
    unet = dict(tiny.unet)
    index: dict[str, Any] = {"_class_name": "StableDiffusionPipeline"}
    encoders: list[tuple[str, Any]] = [("text_encoder", CLIPTextModel(CLIPTextConfig(**clip)))]
    if sdxl:
        index["_class_name"] = "StableDiffusionXLPipeline"
        encoders.append(("text_encoder_2", CLIPTextModelWithProjection(CLIPTextConfig(**clip))))
        unet.update(
            cross_attention_dim=64,
            addition_embed_type="text_time",
            addition_time_embed_dim=8,
            projection_class_embeddings_input_dim=8 * 6 + 32,
        )
    for name, model in encoders:
        model.save_pretrained(folder / name)
        index[name] = ["transformers", type(model).__name__]
        tokenizer_name = name.replace("text_encoder", "tokenizer")
        if tokenizer:
            _tiny_tokenizer().save_pretrained(folder / tokenizer_name)
            index[tokenizer_name] = ["transformers", "CLIPTokenizer"]
        else:
            index[tokenizer_name] = [None, None]
    UNet2DConditionModel(**unet).save_pretrained(folder / "unet")
    AutoencoderKL(**tiny.vae).save_pretrained(folder / "vae")
    EulerDiscreteScheduler(**tiny.scheduler).save_pretrained(folder / "scheduler")
    index["unet"] = ["diffusers", "UNet2DConditionModel"]
    index["vae"] = ["diffusers", "AutoencoderKL"]
    index["scheduler"] = ["diffusers", "EulerDiscreteScheduler"]
    (folder / "model_index.json").write_text(json.dumps(index))
    return folder


def test_pipeline_folder_with_tokenizer_loads_and_counts_the_same(tmp_path: Path) -> None:
    folder = save_pipeline(tmp_path / "sd", tokenizer=True)
    workload = build("image", options={"images_per_prompt": 2}, model_path=folder)
    stopwatch = run_iteration(workload, 2)
    assert stopwatch.order == ["start", "text_encoded", "denoised", "end"]
    assert workload.units(2) == {"images": 4, "requests": 2}
    encoder = workload.describe()["architecture"]["text_encoders"][0]
    assert encoder["tokenizer"] is True
    # Negative (empty) prompts first, then the prompts, each padded to 77 tokens.
    ids = workload.prompt_ids[0]
    assert tuple(ids.shape) == (4, 77)
    assert ids[0, 0].item() == 0 and ids[0, 1].item() == 1  # <|startoftext|> <|endoftext|>


def test_sdxl_style_folder_runs_two_encoders_and_time_ids(tmp_path: Path) -> None:
    folder = save_pipeline(tmp_path / "sdxl", sdxl=True)
    workload = build("image", model_path=folder)
    stopwatch = run_iteration(workload, 1)
    assert stopwatch.order == ["start", "text_encoded", "denoised", "end"]
    assert workload.uses_time_ids
    assert workload.time_ids is not None
    assert tuple(workload.time_ids.shape) == (2, 6)
    assert [e["class"] for e in workload.describe()["architecture"]["text_encoders"]] == [
        "CLIPTextModel",
        "CLIPTextModelWithProjection",
    ]
    assert workload.units(1) == {"images": 1, "requests": 1}


def test_folder_without_model_index_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"--model .*not a diffusers pipeline folder"):
        build("image", model_path=tmp_path)


def test_transformer_pipeline_is_refused(tmp_path: Path) -> None:
    index = {
        "_class_name": "StableDiffusion3Pipeline",
        "transformer": ["diffusers", "SD3Transformer2DModel"],
        "vae": ["diffusers", "AutoencoderKL"],
    }
    (tmp_path / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(BadInput, match="needs a UNet2DConditionModel unet"):
        build("image", model_path=tmp_path)


def test_folder_resolution_follows_its_own_vae_and_unet(tmp_path: Path) -> None:
    folder = save_pipeline(tmp_path / "sd")
    with pytest.raises(BadInput, match="--height 36 must be divisible by 8"):
        build("image", options={"height": 36}, model_path=folder)


def test_run_command_measures_the_tiny_image_workload(tmp_path: Path) -> None:
    rows = cli_run(tmp_path, "-w", "image", "-p", "tiny", "-b", "1,2", "--images-per-prompt", "2")
    assert [(r["batch_size"], r["status"]) for r in rows] == [("1", "ok"), ("2", "ok")]
    for row in rows:
        bs = int(row["batch_size"])
        assert (int(row["images"]), int(row["requests"])) == (2 * bs, bs)
        assert (row["steps"], row["height"], row["width"], row["guidance"]) == (
            "2",
            "64",
            "64",
            "True",
        )
        assert_phases_add_up(row, ["text_encode", "denoise", "vae_decode"])
        assert float(row["denoise_step_s"]) == pytest.approx(float(row["denoise_s_p50"]) / 2)
        for column in ("input_tokens", "audio_s", "characters", "queries", "sequences"):
            assert row[column] == ""


def test_run_command_refuses_a_bad_resolution_in_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness", "run", "-w", "image", "-p", "tiny", "--height", "60"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "Error: --height 60 must be divisible by 8" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("preset", "text_encoder_params", "unet_params", "vae_params"),
    [
        # The published models' parameter counts (text encoders, UNet, VAE).
        ("sd-1.5", [123_060_480], 859_520_964, 83_653_863),
        ("sdxl", [123_060_480, 694_659_840], 2_567_463_684, 83_653_863),
    ],
)
def test_presets_have_the_real_models_shapes(
    preset: str, text_encoder_params: list[int], unet_params: int, vae_params: int
) -> None:
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig

    from workloads.common import param_count
    from workloads.image_presets import text_encoder_class

    spec = PRESETS[preset]
    with torch.device("meta"):  # shapes only, no memory
        encoders = [text_encoder_class(k)(CLIPTextConfig(**c)) for k, c in spec.text_encoders]
        assert [param_count(e) for e in encoders] == text_encoder_params
        assert param_count(UNet2DConditionModel(**spec.unet)) == unet_params
        assert param_count(AutoencoderKL(**spec.vae)) == vae_params
