"""The embedding and retrieval workloads on the CPU: tiny presets, saved encoders, exact top-k."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
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
from workloads.encoders import ENCODER_PRESETS

WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "."]


def save_tiny_bert(folder: Path, *, tokenizer: bool = False, cls_pooling: bool = False) -> Path:
    from transformers import BertModel, BertTokenizer

    torch.manual_seed(0)
    BertModel(ENCODER_PRESETS["tiny"].bert_config()).save_pretrained(folder)
    if tokenizer:
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        vocab = {token: i for i, token in enumerate(specials + WORDS)}
        BertTokenizer(vocab=vocab).save_pretrained(folder)
    if cls_pooling:
        (folder / "1_Pooling").mkdir()
        pooling = {"word_embedding_dimension": 32, "pooling_mode_cls_token": True}
        (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    return folder


# -- embedding ---------------------------------------------------------------------------------


def test_embedding_tiny_counts_tokens_and_sequences() -> None:
    workload = build("embedding")
    stopwatch = run_iteration(workload, 2)
    assert stopwatch.order == ["start", "end"] and phase_marks(workload) == []
    assert workload.units(2) == {"input_tokens": 64, "sequences": 2}
    assert workload.row_extras(2) == {"seq_len": 32}
    assert workload.inputs is not None
    assert tuple(workload.inputs[0].shape) == (2, 32)
    assert workload.describe()["architecture"]["hidden_size"] == 32


def test_embeddings_are_mean_pooled_and_normalised() -> None:
    workload = build("embedding", options={"seq_len": 8})
    workload.prepare(3)
    assert workload.encoder is not None and workload.inputs is not None
    ids, mask = workload.inputs
    with torch.inference_mode():
        vectors = workload.encoder.embed(ids, mask)
        hidden = workload.encoder.model(input_ids=ids, attention_mask=mask).last_hidden_state
    expected = torch.nn.functional.normalize(hidden.mean(dim=1), dim=-1)
    assert torch.allclose(vectors, expected, atol=1e-6)
    assert torch.allclose(vectors.norm(dim=-1), torch.ones(3), atol=1e-5)


def test_embedding_folder_uses_its_tokenizer_and_pooling(tmp_path: Path) -> None:
    folder = save_tiny_bert(tmp_path, tokenizer=True, cls_pooling=True)
    workload = build("embedding", options={"seq_len": 12}, model_path=folder)
    run_iteration(workload, 2)
    assert workload.units(2) == {"input_tokens": 24, "sequences": 2}
    architecture = workload.describe()["architecture"]
    assert architecture["pooling"] == "cls" and architecture["tokenizer"] is True
    assert workload.inputs is not None
    ids = workload.inputs[0]
    assert tuple(ids.shape) == (2, 12)
    assert ids[0, 0].item() == 2 and ids[0, -1].item() == 3  # [CLS] ... [SEP]
    assert ids[0, 1].item() == 5 + WORDS.index("the")


@pytest.mark.parametrize(
    ("workload", "options", "message"),
    [
        ("embedding", {"seq_len": 0}, "--seq-len must be > 0"),
        ("embedding", {"seq_len": 513}, "--seq-len 513 exceeds the encoder's limit of 512"),
        ("retrieval", {"query_len": 600}, "--query-len 600 exceeds the encoder's limit of 512"),
        ("retrieval", {"top_k": 11, "corpus_size": 10}, "--top-k 11 is larger than --corpus-size"),
        ("retrieval", {"corpus_size": 0}, "--corpus-size must be > 0"),
        ("retrieval", {"top_k": 0}, "--top-k must be > 0"),
    ],
)
def test_bad_settings_name_the_option(workload: str, options: dict[str, Any], message: str) -> None:
    with pytest.raises(BadInput, match=message):
        build(workload, options=options)


@pytest.mark.parametrize("workload", ["embedding", "retrieval"])
def test_a_whisper_folder_is_refused(tmp_path: Path, workload: str) -> None:
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    from workloads.asr import PRESETS

    WhisperForConditionalGeneration(WhisperConfig(**PRESETS["tiny"])).save_pretrained(tmp_path)
    with pytest.raises(BadInput, match=f"'whisper' model does not fit the '{workload}' workload"):
        build(workload, model_path=tmp_path)


def test_unknown_encoder_preset() -> None:
    with pytest.raises(BadInput, match="unknown preset 'sdxl' for workload 'embedding'"):
        build("embedding", preset="sdxl")


# -- retrieval ---------------------------------------------------------------------------------


def test_retrieval_tiny_counts_queries_and_marks_phases() -> None:
    workload = build("retrieval")
    stopwatch = run_iteration(workload, 2)
    assert stopwatch.order == phase_marks(workload) == ["start", "embedded", "end"]
    assert workload.units(2) == {"queries": 2, "input_tokens": 32}
    assert workload.row_extras(2) == {"query_len": 16, "corpus_size": 10_000, "top_k": 10}
    assert workload.corpus is not None
    assert tuple(workload.corpus.shape) == (10_000, 32)
    assert torch.allclose(workload.corpus.norm(dim=-1), torch.ones(10_000), atol=1e-5)
    assert workload.describe()["corpus"]["bytes"] == 10_000 * 32 * 4


def test_retrieval_top_k_matches_a_brute_force_reference() -> None:
    workload = build("retrieval", options={"corpus_size": 200, "top_k": 7})
    run_iteration(workload, 3)
    assert workload.encoder is not None and workload.inputs is not None
    assert workload.last_result is not None and workload.corpus is not None
    with torch.inference_mode():
        queries = workload.encoder.embed(*workload.inputs).numpy().astype(np.float64)
    corpus = workload.corpus.numpy().astype(np.float64)
    scores, indices = workload.last_result
    for q in range(3):
        similarity = [float(np.dot(queries[q], row)) for row in corpus]
        best = sorted(range(len(corpus)), key=lambda i: similarity[i], reverse=True)[:7]
        assert indices[q].tolist() == best
        assert scores[q].tolist() == pytest.approx([similarity[i] for i in best], abs=1e-5)


def test_retrieval_corpus_is_the_same_for_a_seed() -> None:
    first = build("retrieval", options={"corpus_size": 50}, seed=1)
    second = build("retrieval", options={"corpus_size": 50}, seed=1)
    other = build("retrieval", options={"corpus_size": 50}, seed=2)
    assert first.corpus is not None and second.corpus is not None and other.corpus is not None
    assert torch.equal(first.corpus, second.corpus)
    assert not torch.equal(first.corpus, other.corpus)


def test_retrieval_encoder_folder_loads(tmp_path: Path) -> None:
    folder = save_tiny_bert(tmp_path)
    workload = build("retrieval", options={"corpus_size": 100, "top_k": 3}, model_path=folder)
    run_iteration(workload, 2)
    assert workload.units(2) == {"queries": 2, "input_tokens": 32}
    assert workload.last_result is not None
    assert tuple(workload.last_result[1].shape) == (2, 3)


# -- through `gpucost run` ---------------------------------------------------------------------


def test_run_command_measures_embedding_and_retrieval(tmp_path: Path) -> None:
    rows = cli_run(
        tmp_path, "-w", "embedding,retrieval", "-p", "tiny", "-b", "1,2", "--top-k", "5",
        "-o", "corpus_size=2000",
    )  # fmt: skip
    assert [(r["workload"], r["batch_size"], r["status"]) for r in rows] == [
        ("embedding", "1", "ok"),
        ("embedding", "2", "ok"),
        ("retrieval", "1", "ok"),
        ("retrieval", "2", "ok"),
    ]
    for row in rows:
        bs = int(row["batch_size"])
        if row["workload"] == "embedding":
            assert (int(row["input_tokens"]), int(row["sequences"])) == (32 * bs, bs)
            assert row["queries"] == "" and row["seq_len"] == "32"
        else:
            assert (int(row["queries"]), int(row["input_tokens"])) == (bs, 16 * bs)
            assert (row["corpus_size"], row["top_k"], row["query_len"]) == ("2000", "5", "16")
            assert json.loads(row["settings"]) == {
                "corpus_size": 2000,
                "query_len": 16,
                "top_k": 5,
            }
            assert_phases_add_up(row, ["embed", "search"])


@pytest.mark.parametrize(
    ("preset", "params"),
    # The published models' counts less BERT's unused pooler (hidden² + hidden).
    [("minilm-l6", 22_713_216 - 384 * 385), ("bge-base", 109_482_240 - 768 * 769),
     ("bge-large", 335_141_888 - 1024 * 1025)],
)  # fmt: skip
def test_presets_have_the_real_models_sizes(preset: str, params: int) -> None:
    from transformers import BertModel

    from workloads.common import param_count

    with torch.device("meta"):  # shapes only, no memory
        model = BertModel(ENCODER_PRESETS[preset].bert_config(), add_pooling_layer=False)
    assert param_count(model) == params
