"""Specs of the built-in workloads (see workloads/spec.py); registered like a plugin's."""

from __future__ import annotations

from workloads.spec import SettingOption, UnitSpec, WorkloadSpec

M, K = 1_000_000, 1_000

TEXT = WorkloadSpec(
    name="text",
    units=(
        UnitSpec("input_token", "input_tokens", share="prefill", display_scale=M),
        UnitSpec("output_token", "output_tokens", share="decode", display_scale=M),
        UnitSpec("request", "requests"),
    ),
    primary_unit="output_token",
    phases=("prefill", "decode"),
    roofline="decoder",
    report_sections=("ttft_tpot", "phase_efficiency"),
    options=(
        SettingOption("input-len", "int", "text: prompt tokens per request"),
        SettingOption("output-len", "int", "text, asr: generated tokens per request (EOS ignored)"),
    ),
    description="causal LM generate, fixed input and output lengths",
)

IMAGE = WorkloadSpec(
    name="image",
    units=(UnitSpec("image", "images"),),
    primary_unit="image",
    call_column="images",
    phases=("text_encode", "denoise", "vae_decode"),
    options=(
        SettingOption("steps", "int", "image: denoising steps"),
        SettingOption("height", "int", "image: pixels"),
        SettingOption("width", "int", "image: pixels"),
        SettingOption("images-per-prompt", "int", "image: images generated per prompt"),
        SettingOption("guidance", "bool", "image: classifier-free guidance"),
    ),
    description="diffusion pipeline, fixed steps and resolution",
)

ASR = WorkloadSpec(
    name="asr",
    units=(UnitSpec("audio_minute", "audio_s", count_divisor=60.0, display_name="audio minute"),),
    primary_unit="audio_minute",
    phases=("encode", "decode"),
    options=(SettingOption("audio-seconds", "float", "asr: seconds of audio per request"),),
    description="encoder-decoder speech recognition on fixed-length audio",
)

TTS = WorkloadSpec(
    name="tts",
    units=(UnitSpec("character", "characters", display_scale=M),),
    primary_unit="character",
    phases=("encode", "decode"),
    options=(SettingOption("characters", "int", "tts: characters of text per request"),),
    description="speech synthesis from fixed-length text",
)

EMBEDDING = WorkloadSpec(
    name="embedding",
    units=(
        UnitSpec("token", "input_tokens", display_scale=M),
        UnitSpec("sequence", "sequences", display_scale=K),
    ),
    primary_unit="token",
    call_column="sequences",
    roofline="encoder",
    options=(SettingOption("seq-len", "int", "embedding: tokens per sequence"),),
    description="encoder + pooling over fixed-length sequences",
)

RETRIEVAL = WorkloadSpec(
    name="retrieval",
    units=(UnitSpec("query", "queries", display_scale=K),),
    primary_unit="query",
    call_column="queries",
    phases=("embed", "search"),
    roofline="encoder+search",
    options=(
        SettingOption("query-len", "int", "retrieval: tokens per query"),
        SettingOption("top-k", "int", "retrieval: results per query"),
        SettingOption("corpus-size", "int", "retrieval: vectors in the corpus"),
    ),
    description="embed queries + exact top-k over an in-memory corpus",
)
