"""The asr and tts workloads on the CPU: tiny presets, saved checkpoints, bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from harness.errors import BadInput
from tests.workload_helpers import (
    RecordingStopwatch,
    assert_phases_add_up,
    build,
    cli_run,
    phase_marks,
    run_iteration,
)
from workloads.asr import PRESETS as ASR_PRESETS
from workloads.tts import PRESETS as TTS_PRESETS
from workloads.tts import RANDOM_WEIGHTS_CHARS_PER_S

# -- asr ---------------------------------------------------------------------------------------


def count_decoder_calls(workload: Any) -> list[int]:
    """Tokens fed to the decoder at each call."""
    calls: list[int] = []
    decoder = workload.model.model.decoder
    decoder.register_forward_hook(
        lambda _m, _args, kwargs, _out: calls.append(kwargs["input_ids"].shape[1]), with_kwargs=True
    )
    return calls


def test_asr_tiny_counts_audio_and_tokens_and_marks_phases() -> None:
    workload = build("asr")
    calls = count_decoder_calls(workload)
    stopwatch = run_iteration(workload, 2)
    assert stopwatch.order == phase_marks(workload) == ["start", "encoded", "end"]
    assert workload.units(2) == {"audio_s": 60.0, "output_tokens": 16, "requests": 2}
    # The 4-token task prompt, then one token per step: 8 decoder calls make 8 tokens.
    assert calls == [4] + [1] * 7
    assert workload.features is not None
    assert tuple(workload.features.shape) == (2, 80, 3000)
    assert workload.derived_columns(2, 0.5, {})["rtfx"] == pytest.approx(120.0)
    assert workload.row_extras(2)["windows_per_request"] == 1


@pytest.mark.parametrize(("seconds", "windows"), [(5.0, 1), (30.0, 1), (45.0, 2), (90.0, 3)])
def test_asr_audio_longer_than_a_window_is_several_windows(seconds: float, windows: int) -> None:
    workload = build("asr", options={"audio_seconds": seconds, "output_len": 2})
    workload.prepare(3)
    assert workload.features is not None
    assert workload.features.shape[0] == 3 * windows
    assert workload.units(3) == {
        "audio_s": 3 * seconds,
        "output_tokens": 3 * windows * 2,
        "requests": 3,
    }


def test_asr_checkpoint_folder_loads_and_counts_the_same(tmp_path: Path) -> None:
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    WhisperForConditionalGeneration(WhisperConfig(**ASR_PRESETS["tiny"])).save_pretrained(tmp_path)
    workload = build("asr", model_path=tmp_path)
    stopwatch = run_iteration(workload, 2)
    assert stopwatch.order == ["start", "encoded", "end"]
    assert workload.units(2) == {"audio_s": 60.0, "output_tokens": 16, "requests": 2}
    assert workload.describe()["preset"] == "local"


def test_asr_refuses_a_bert_folder(tmp_path: Path) -> None:
    from transformers import BertConfig, BertModel

    config = BertConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        vocab_size=100,
    )
    BertModel(config).save_pretrained(tmp_path)
    with pytest.raises(BadInput, match=r"--model .*'bert' model does not fit the 'asr' workload"):
        build("asr", model_path=tmp_path)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"audio_seconds": 0}, "--audio-seconds must be > 0"),
        ({"audio_seconds": -3.5}, "--audio-seconds must be > 0"),
        ({"output_len": 0}, "--output-len must be > 0"),
        ({"output_len": 445}, "--output-len 445 .* exceeds the decoder's limit of 448"),
    ],
)
def test_asr_bad_settings_name_the_option(options: dict[str, Any], message: str) -> None:
    with pytest.raises(BadInput, match=message):
        build("asr", options=options)


def test_asr_unknown_preset() -> None:
    with pytest.raises(BadInput, match="unknown preset 'mms-tts' for workload 'asr'"):
        build("asr", preset="mms-tts")


# -- tts ---------------------------------------------------------------------------------------


def test_tts_tiny_counts_characters_and_generated_seconds() -> None:
    workload = build("tts")
    stopwatch = run_iteration(workload, 2)
    assert stopwatch.order == phase_marks(workload) == ["start", "encoded", "end"]
    units = workload.units(2)
    assert units["characters"] == 80 and units["requests"] == 2
    # Blank tokens between characters: 40 characters are 81 ids.
    assert workload.input_ids is not None
    assert tuple(workload.input_ids.shape) == (2, 81)
    assert (workload.input_ids[:, ::2] == 0).all() and (workload.input_ids[:, 1::2] > 0).all()
    # audio_s is what the model really generates for this batch, the same on every call.
    torch.manual_seed(workload.ctx.seed)
    with torch.inference_mode():
        lengths = workload.model(input_ids=workload.input_ids).sequence_lengths
    assert units["audio_s"] == pytest.approx(float(lengths.sum()) / 16000)
    assert workload.derived_columns(2, 0.1, {})["real_time_factor"] == pytest.approx(
        0.1 / units["audio_s"]
    )


def test_tts_random_weights_speak_at_the_calibrated_pace() -> None:
    workload = build("tts", options={"characters": 60})
    workload.prepare(1)
    audio_s = workload.units(1)["audio_s"]
    assert audio_s is not None
    pace = 60 / audio_s
    assert pace == pytest.approx(RANDOM_WEIGHTS_CHARS_PER_S, rel=0.02)
    assert workload.describe()["speaking_rate_calibrated"] is True


def test_tts_same_seed_same_audio_length() -> None:
    first = build("tts", seed=3)
    first.prepare(2)
    second = build("tts", seed=3)
    second.prepare(2)
    assert first.units(2)["audio_s"] == second.units(2)["audio_s"]
    # A batch size never prepared has no measured audio length.
    assert first.units(5)["audio_s"] is None
    assert first.last_lengths is not None
    prepared = first.last_lengths.clone()
    for _ in range(2):
        first.run_once(RecordingStopwatch())
        assert torch.equal(first.last_lengths, prepared)


def test_tts_checkpoint_folder_keeps_its_own_pace(tmp_path: Path) -> None:
    from transformers import VitsConfig, VitsModel

    torch.manual_seed(0)
    VitsModel(VitsConfig(**TTS_PRESETS["tiny"])).save_pretrained(tmp_path)
    workload = build("tts", model_path=tmp_path)
    stopwatch = run_iteration(workload, 2)
    assert stopwatch.order == ["start", "encoded", "end"]
    assert workload.units(2)["characters"] == 80
    assert workload.units(2)["audio_s"] > 0
    described = workload.describe()
    assert described["speaking_rate"] == 1.0
    assert described["speaking_rate_calibrated"] is False


def test_tts_refuses_a_whisper_folder(tmp_path: Path) -> None:
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    WhisperForConditionalGeneration(WhisperConfig(**ASR_PRESETS["tiny"])).save_pretrained(tmp_path)
    with pytest.raises(BadInput, match=r"--model .*'whisper' model does not fit the 'tts'"):
        build("tts", model_path=tmp_path)


def test_tts_characters_must_be_positive() -> None:
    with pytest.raises(BadInput, match="--characters must be > 0"):
        build("tts", options={"characters": 0})


# -- through `gpucost run` ---------------------------------------------------------------------


def test_run_command_measures_asr_and_tts(tmp_path: Path) -> None:
    rows = cli_run(tmp_path, "-w", "asr,tts", "-p", "tiny", "-b", "1,2", "--audio-seconds", "45")
    assert [(r["workload"], r["batch_size"], r["status"]) for r in rows] == [
        ("asr", "1", "ok"),
        ("asr", "2", "ok"),
        ("tts", "1", "ok"),
        ("tts", "2", "ok"),
    ]
    for row in rows:
        bs = int(row["batch_size"])
        assert int(row["requests"]) == bs
        assert_phases_add_up(row, ["encode", "decode"])
        if row["workload"] == "asr":
            # 45 s is two 30-second windows, each transcribed into 8 tokens.
            assert float(row["audio_s"]) == 45.0 * bs
            assert int(row["output_tokens"]) == 2 * 8 * bs
            assert row["windows_per_request"] == "2"
            assert float(row["rtfx"]) == pytest.approx(45.0 * bs / float(row["wall_s_p50"]))
            assert row["characters"] == ""
        else:
            assert int(row["characters"]) == 40 * bs
            audio_s = float(row["audio_s"])
            assert 0 < audio_s < 60
            assert float(row["real_time_factor"]) == pytest.approx(
                float(row["wall_s_p50"]) / audio_s
            )
            assert row["output_tokens"] == ""


@pytest.mark.parametrize(
    ("preset", "params"),
    [
        ("whisper-base", 72_593_920),
        ("whisper-large-v3", 1_543_490_560),
        ("whisper-large-v3-turbo", 808_878_080),
        ("mms-tts", 36_284_592),
    ],
)
def test_presets_have_the_real_models_sizes(preset: str, params: int) -> None:
    from transformers import VitsConfig, VitsModel, WhisperConfig, WhisperForConditionalGeneration

    from workloads.common import param_count

    with torch.device("meta"):  # shapes only, no memory
        if preset in ASR_PRESETS:
            model = WhisperForConditionalGeneration(WhisperConfig(**ASR_PRESETS[preset]))
        else:
            model = VitsModel(VitsConfig(**TTS_PRESETS[preset]))
    assert param_count(model) == params


def _modules(workload: Any) -> list[torch.nn.Module]:
    found = [getattr(workload, a, None) for a in ("model", "unet", "vae")]
    found += list(getattr(workload, "text_encoders", []))
    encoder = getattr(workload, "encoder", None)
    found.append(getattr(encoder, "model", None))
    return [m for m in found if isinstance(m, torch.nn.Module)]


@pytest.mark.parametrize("name", ["asr", "tts", "embedding", "image"])
def test_models_are_built_in_the_run_dtype(name: str) -> None:
    workload = build(name, dtype="bf16")
    modules = _modules(workload)
    assert modules
    kept = getattr(getattr(workload, "model", None), "duration_predictor", None)
    kept_ids = {id(p) for p in kept.parameters()} if kept is not None else set()
    dtypes = {p.dtype for m in modules for p in m.parameters() if id(p) not in kept_ids}
    assert dtypes == {torch.bfloat16}


def test_tts_duration_predictor_stays_fp32_in_bf16_runs() -> None:
    workload = build("tts", dtype="bf16")
    predictor = workload.model.duration_predictor
    assert {p.dtype for p in predictor.parameters()} == {torch.float32}
    assert workload.model.flow.parameters().__next__().dtype == torch.bfloat16
    run_iteration(workload, 2)
    assert workload.units(2)["audio_s"] > 0


def test_random_weights_are_made_in_the_run_dtype_not_cast_from_fp32() -> None:
    from workloads.base import WorkloadContext
    from workloads.common import load_model

    seen: list[torch.dtype] = []

    def build() -> torch.nn.Module:
        layer = torch.nn.Linear(4, 4)
        seen.append(layer.weight.dtype)
        return layer

    model = load_model(WorkloadContext(preset="tiny", device="cpu", dtype="fp16"), None, build)
    assert seen == [torch.float16] and model.weight.dtype == torch.float16
    assert torch.get_default_dtype() == torch.float32
