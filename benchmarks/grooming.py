"""Grooming engine throughput and streaming latency.

Messages come from the synthetic eval split and the benign chatterbot eval chats (typical chat
lengths: 3-15 words). Printed:

* pattern path: messages/s of ``PatternDetector.detect`` in one process, and with a pool of
  ``--workers`` processes (the service runs one detector per worker process);
* embedding path: messages/s of ``EmbeddingDetector.detect`` in batches on ``--threads``
  threads (``--backend``: ONNX Runtime int8 or torch), with the text cache off (every message
  distinct and embedded: the no-repeat figure, also per CPU-second) and on (chat repeats
  itself; the figure depends on the data);
* service: per-message latency of ``ConversationService.append`` (state in SQLite), the
  work of ``POST /v1/conversations/{id}/messages`` without HTTP;
* streaming: per-message latency (p50 / p99 / max, ms) of ``ConversationMonitor.append`` with
  one message per call, for each detector: what the "append messages" route adds per message.

Targets (issue 5): >= 2,000 messages/s on the embedding path (batched), p99 < 50 ms per
appended message. Run on an otherwise idle machine (about two minutes on 2 cores)::

    . .venv/bin/activate
    python benchmarks/grooming.py --messages 20000 --threads 2 --workers 2
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

from safehold.grooming.benign import chatterbot_conversations
from safehold.grooming.detector import Detector, get_detector
from safehold.grooming.model import Conversation
from safehold.grooming.patterns import PatternDetector
from safehold.grooming.scoring import ConversationMonitor
from safehold.grooming.synthetic import generate


def corpus() -> list[Conversation]:
    """The eval split plus the benign eval chats."""
    conversations = generate("eval")
    with contextlib.suppress(Exception):  # the benign corpus is optional
        conversations += chatterbot_conversations("eval")
    return conversations


def texts_of(conversations: list[Conversation], count: int) -> list[str]:
    """``count`` message texts, cycling through the corpus."""
    texts = [m.text for c in conversations for m in c.messages]
    return [texts[i % len(texts)] for i in range(count)]


def _pattern_chunk(texts: list[str]) -> int:
    return len(PatternDetector().detect(texts))


def pattern_rate(texts: list[str], workers: int) -> tuple[float, float]:
    """(messages/s in one process, messages/s with ``workers`` processes)."""
    detector = PatternDetector()
    start = time.perf_counter()
    detector.detect(texts)
    single = len(texts) / (time.perf_counter() - start)
    chunks = [texts[i : i + 2000] for i in range(0, len(texts), 2000)]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_pattern_chunk, chunks[:workers]))  # warm the workers
        start = time.perf_counter()
        done = sum(pool.map(_pattern_chunk, chunks))
    return single, done / (time.perf_counter() - start)


def embedding_rate(
    texts: list[str], threads: int, cache: bool, backend: str, layers: int | None = None
) -> tuple[float, float]:
    """(messages/s, messages per CPU-second) of the embedding detector, batched
    (``backend``: auto, onnx or torch). The CPU figure counts every thread of this process:
    on a shared machine it moves less than the wall-clock rate, and ``threads`` idle cores
    give at most ``threads`` times it."""
    import torch

    torch.set_num_threads(threads)
    detector = get_detector(
        "embedding",
        cache_size=100_000 if cache else 0,
        backend=backend,
        threads=threads,
        layers=layers,
    )
    detector.detect(texts[:256])  # warm-up
    if not cache:
        texts = [f"{t} #{i}" for i, t in enumerate(texts)]  # defeat any repetition
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(texts), 1024):
        detector.detect(texts[i : i + 1024])
    cpu = time.process_time() - cpu
    return len(texts) / (time.perf_counter() - start), len(texts) / cpu


def streaming_latency(
    conversations: list[Conversation], detector: Detector, limit: int
) -> tuple[float, float, float, int]:
    """(p50, p99, max) milliseconds per one-message append, and messages timed."""
    timings: list[float] = []
    for conv in conversations:
        monitor = ConversationMonitor(conv.id, detector=detector, participants=conv.participants)
        for message in conv.messages:
            start = time.perf_counter()
            monitor.append([message])
            timings.append((time.perf_counter() - start) * 1000)
        if len(timings) >= limit:
            break
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    return statistics.median(timings), p99, timings[-1], len(timings)


def service_latency(conversations: list[Conversation], limit: int) -> tuple[float, float, int]:
    """(p50, p99) milliseconds per one-message ``ConversationService.append`` on a fresh
    SQLite file: detection, the row lock, the state read and write (the route's own work)."""
    import tempfile
    from pathlib import Path

    from safehold.grooming.config import GroomingConfig
    from safehold.grooming.service import ConversationService
    from safehold.settings import Settings
    from safehold.storage.engine import open_database

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), database_url=None)
        engine = open_database(settings)
        service = ConversationService(engine, GroomingConfig.from_settings(settings))
        timings: list[float] = []
        for conv in conversations:
            for message in conv.messages:
                start = time.perf_counter()
                service.append(conv.id, [message], list(conv.participants.values()))
                timings.append((time.perf_counter() - start) * 1000)
            if len(timings) >= limit:
                break
        engine.dispose()
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    return statistics.median(timings), p99, len(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (embedding)")
    parser.add_argument("--workers", type=int, default=2, help="processes (pattern path)")
    parser.add_argument("--stream", type=int, default=3_000, help="messages timed per detector")
    parser.add_argument("--skip-embedding", action="store_true")
    parser.add_argument("--backend", default="auto", help="embedding: auto, onnx or torch")
    parser.add_argument("--layers", type=int, default=None, help="embedding: MiniLM layers 1-6")
    args = parser.parse_args()
    conversations = corpus()
    texts = texts_of(conversations, args.messages)
    single, pooled = pattern_rate(texts, args.workers)
    print(
        f"pattern path:   {single:10,.0f} messages/s (1 process), "
        f"{pooled:,.0f} messages/s ({args.workers} processes)"
    )
    p50, p99, worst, n = streaming_latency(conversations, PatternDetector(), args.stream)
    print(
        f"streaming (pattern):   p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {worst:.1f} ms "
        f"per appended message ({n} messages)"
    )
    p50, p99, n = service_latency(conversations, args.stream)
    print(
        f"service append (pattern, SQLite): p50 {p50:.2f} ms, p99 {p99:.2f} ms "
        f"per appended message ({n} messages)"
    )
    if args.skip_embedding:
        return
    cold, cold_cpu = embedding_rate(
        texts, args.threads, cache=False, backend=args.backend, layers=args.layers
    )
    warm, _ = embedding_rate(
        texts, args.threads, cache=True, backend=args.backend, layers=args.layers
    )
    print(
        f"embedding path: {cold:10,.0f} messages/s (batched, {args.threads} threads, no cache; "
        f"{cold_cpu:,.0f} per CPU-second), {warm:,.0f} messages/s with the text cache on this "
        f"corpus ({args.backend})"
    )
    detector = get_detector(
        "embedding", backend=args.backend, threads=args.threads, layers=args.layers
    )
    p50, p99, worst, n = streaming_latency(conversations, detector, args.stream)
    print(
        f"streaming (embedding): p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {worst:.1f} ms "
        f"per appended message ({n} messages)"
    )


if __name__ == "__main__":
    main()
