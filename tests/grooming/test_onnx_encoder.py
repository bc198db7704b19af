"""The ONNX Runtime int8 encoder against the torch float32 model it was exported from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from safehold.errors import ConfigurationError
from safehold.grooming.detector import Detector
from safehold.grooming.embedding import EmbeddingDetector, load_examples
from safehold.grooming.normalize import normalize


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
