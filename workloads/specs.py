"""Specs of the built-in workloads (see workloads/spec.py); registered like a plugin's."""

from __future__ import annotations

from workloads.spec import FrontierAxis, SettingOption, UnitSpec, WorkloadSpec

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
    frontier=(
        # Endpoint rows measure it per request (median); an in-process batch has no such column,
        # so its rate is a request's output tokens ÷ the batch's decode time (p50): every
        # request of the batch decodes in lockstep for that long.
        FrontierAxis(
            "tokens_per_s_per_user",
            "output tokens/s per user (p50)",
            "higher",
            column="output_tokens_per_s_per_user",
            numerator=("output_tokens",),
            denominator=("requests", "decode_s_p50"),
        ),
        # A row without a TTFT p99 is left out of this axis, never stood in for by its p50.
        FrontierAxis("ttft_p99", "TTFT p99 (s)", "lower", column="ttft_s_p99"),
    ),
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
    # p95 is not a results column; p99 is the nearest one that is (per batch in-process, end
    # to end per request on an endpoint), and the label says so.
    frontier=(FrontierAxis("latency_p99", "latency p99 (s)", "lower", column="wall_s_p99"),),
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
    # Real-time factor of one request: its latency (the batch's p50 wall time, or an endpoint
    # request's p50 end to end) ÷ the audio seconds it carried (audio_s ÷ requests).
    frontier=(
        FrontierAxis(
            "real_time_factor",
            "real-time factor (p50 latency ÷ audio seconds per request)",
            "lower",
            numerator=("wall_s_p50", "requests"),
            denominator=("audio_s",),
        ),
    ),
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
