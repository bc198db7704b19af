"""The main job: paths -> files -> signals (worker processes, cached) -> matches -> records.

:func:`scan` walks the paths, answers each file from the cache when it is unchanged, hashes the
rest on every core (:mod:`safehold.scanning.pool`), matches in this process against indexes built
once per run (:mod:`safehold.scanning.matcher`), and calls ``on_record`` once per file, in walk
order. Matching stays in the parent: a flat-index query costs microseconds per file against a
demo-sized bank and a few milliseconds against a million entries, while shipping the index to
every worker would cost each worker its memory (decision 0004).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import FrameType

from safehold.banks.service import BankService
from safehold.errors import InvalidInputError
from safehold.scanning.cache import ScanCache, options_fingerprint
from safehold.scanning.config import ScanConfig
from safehold.scanning.matcher import Matcher, resolve_thresholds
from safehold.scanning.outputs import own_file_ids, refuse_clobbering
from safehold.scanning.pool import WorkerPool
from safehold.scanning.records import FileError, FileOutcome, ScanRecord
from safehold.scanning.summary import ScanSummary
from safehold.scanning.walk import WalkItem, collect
from safehold.scanning.worker import WorkerConfig
from safehold.signals.base import SIGNAL_TYPES, get_signal_type

log = logging.getLogger(__name__)

#: Files dispatched ahead of the oldest unfinished one, per worker (bounds the reorder buffer).
_WINDOW_PER_WORKER = 32


def builtin_signal_types() -> tuple[str, ...]:
    """Names of the signal types that ship with Safehold (registered by ``safehold.signals``)
    and hash content (``url``, which hashes no file, is left out: scans never compute it)."""
    import safehold.signals  # noqa: F401  (registers the built-ins)

    return tuple(
        name
        for name, cls in SIGNAL_TYPES.items()
        if cls.__module__.startswith("safehold.") and cls.content_types
    )


def scan(
    paths: Iterable[str | os.PathLike[str]],
    *,
    config: ScanConfig,
    banks: BankService | None,
    on_record: Callable[[ScanRecord], None],
    on_total: Callable[[int], None] | None = None,
) -> ScanSummary:
    """Scan files and folders; call ``on_record`` for each file, in a deterministic order.

    Args:
        paths: files and directories (walked recursively, see :mod:`safehold.scanning.walk`).
        config: what to compute and the bounds (see :class:`ScanConfig`).
        banks: match against these banks' enabled entries; None = hash only (no matches).
        on_record: called in this process with each file's :class:`ScanRecord`.
        on_total: called once with the number of records to come (for progress bars).

    Returns:
        the run's :class:`ScanSummary`.

    Raises:
        NotFoundError: an unknown signal type or restricting bank name.
        ConflictError: a restricting bank is disabled.
        InvalidInputError: an empty path, a bad threshold override, or an output file
            (``config.output_paths``) that is an existing file among the files to scan and not
            an earlier Safehold output (checked after the walk, before any file is hashed).
        StorageError: the bank database fails.
        Whatever ``on_record`` raises, ``KeyboardInterrupt`` included (the cache is committed
        and the workers stopped first, with a second Ctrl-C held back meanwhile).
    Per-file problems never raise: they become the record's ``error``.
    """
    started = time.monotonic()
    paths = list(paths)
    if any(not os.fspath(p) for p in paths):
        raise InvalidInputError("an empty path names no file (use . for the current folder)")
    for module in config.plugin_modules:
        importlib.import_module(module)
    types = config.signal_types or builtin_signal_types()
    for name in types:
        get_signal_type(name)
    resolve_thresholds(types, config.thresholds)
    matcher = None
    if banks is not None:
        matcher = Matcher(
            banks,
            types,
            overrides=config.thresholds,
            defaults=config.default_thresholds,
            bank_names=config.banks,
            pdq_min_quality=config.pdq_min_quality,
            index_options=config.index_options,
            index_dir=config.index_dir,
        )
    own = own_file_ids(config.output_paths, config.cache_path)
    items = collect(paths, exclude=own)
    _check_own_files(items, own)
    todo = [item for item in items if item.to_scan]
    summary = ScanSummary(
        duplicate_dirs=sum(1 for i in items if i.duplicate_dir),
        duplicate_files=sum(1 for i in items if i.duplicate_file),
        own_files=sum(1 for i in items if i.own_file),
    )
    summary.bank_entries = matcher.entry_count() if matcher else 0
    if on_total is not None:
        on_total(len(todo))
    run = _Run(config, types, todo, _open_cache(config), summary)
    try:
        for index, outcome, cached in run.outcomes():
            item = todo[index]
            record = ScanRecord(
                path=item.path,
                content_type=outcome.content_type,
                size=outcome.size if outcome.size is not None else _known_size(item),
                signals=outcome.signals,
                matches=matcher.match(outcome.signals) if matcher else [],
                error=outcome.error,
                cached=cached,
            )
            summary.add(record)
            on_record(record)
    finally:
        run.close()
    summary.elapsed_seconds = time.monotonic() - started
    return summary


def _check_own_files(items: list[WalkItem], own: dict[tuple[int, int], tuple[Path, bool]]) -> None:
    """Refuse to run when an output file found among the files to scan is not an old output."""
    for item in items:
        if not item.own_file:
            continue
        try:
            st = os.stat(item.path)
        except OSError:
            continue
        path, is_output = own.get((st.st_dev, st.st_ino), (Path(item.path), False))
        if is_output:
            refuse_clobbering(path)


@contextlib.contextmanager
def _sigint_held() -> Iterator[None]:
    """Hold back Ctrl-C (SIGINT) for the block, then raise ``KeyboardInterrupt`` if one came.

    Keeps a second Ctrl-C from cutting the final cache commit short. Only in the main thread
    (the only one that may set signal handlers); elsewhere the block runs unprotected.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)
    if caught and previous is not signal.SIG_IGN:
        raise KeyboardInterrupt


def _known_size(item: WalkItem) -> int | None:
    return item.size if item.error is None else None


def _open_cache(config: ScanConfig) -> ScanCache | None:
    if config.cache_path is None:
        return None
    fingerprint = options_fingerprint(config.hash_options, config.max_file_bytes)
    try:
        return ScanCache(config.cache_path, fingerprint, commit_every=config.cache_commit_every)
    except (OSError, sqlite3.Error) as exc:
        log.warning("scan cache %s unusable (%s); scanning without it", config.cache_path, exc)
        return None


class _Run:
    """Dispatch state of one scan: which files are answered, in flight, or waiting."""

    def __init__(
        self,
        config: ScanConfig,
        types: tuple[str, ...],
        todo: list[WalkItem],
        cache: ScanCache | None,
        summary: ScanSummary,
    ) -> None:
        self.config = config
        self.types = types
        self.todo = todo
        self.cache = cache
        self.summary = summary
        self.pool: WorkerPool | None = None
        self.max_workers = config.worker_count()
        self.window = self.max_workers * _WINDOW_PER_WORKER

    def _answer_here(self, item: WalkItem) -> tuple[FileOutcome, bool] | None:
        """Outcome without a worker (walk error or cache hit) as ``(outcome, cached)``."""
        if item.error is not None:
            return FileOutcome(error=FileError.from_exception(item.error, cacheable=False)), False
        if self.cache is not None:
            hit = self.cache.get(item.path, item.size, item.mtime_ns, self.types)
            if hit is not None:
                return hit, True
        return None

    def _idle_worker(self) -> WorkerPool | None:
        """A pool with an idle worker, starting one while under ``max_workers``; else None.

        Workers start only when a file needs hashing and every worker is busy, so a scan
        never runs more workers than files to hash (a cached re-run starts none).
        """
        if self.pool is None:
            worker_config = WorkerConfig(
                signal_types=self.types,
                hash_options=self.config.hash_options,
                settings=self.config.settings,
                memory_limit_bytes=self.config.memory_limit_bytes,
                plugin_modules=self.config.plugin_modules,
                max_file_bytes=self.config.max_file_bytes,
            )
            self.pool = WorkerPool(1, worker_config, self.config.file_timeout_seconds)
        elif self.pool.idle_count() == 0 and len(self.pool) < self.max_workers:
            self.pool.grow()
        return self.pool if self.pool.idle_count() else None

    def outcomes(self) -> Iterable[tuple[int, FileOutcome, bool]]:
        """Yield ``(index into todo, outcome, cached)`` in index order."""
        ready: dict[int, tuple[FileOutcome, bool]] = {}
        next_dispatch = next_emit = 0
        total = len(self.todo)
        while next_emit < total:
            while next_dispatch < total and next_dispatch - next_emit < self.window:
                item = self.todo[next_dispatch]
                answered = self._answer_here(item)
                if answered is not None:
                    ready[next_dispatch] = answered
                else:
                    pool = self._idle_worker()
                    if pool is None:
                        break
                    pool.submit(next_dispatch, item.path)
                next_dispatch += 1
            while next_emit in ready:
                outcome, cached = ready.pop(next_emit)
                yield next_emit, outcome, cached
                next_emit += 1
            if next_emit < total and self.pool is not None and self.pool.busy_count():
                for index, outcome in self.pool.poll(0.5):
                    self.summary.hashed += 1
                    if self.cache is not None:
                        item = self.todo[index]
                        self.cache.put(item.path, item.size, item.mtime_ns, outcome)
                    ready[index] = (outcome, False)

    def close(self) -> None:
        """Commit the cache, then stop the workers, with Ctrl-C held back meanwhile."""
        with _sigint_held():
            try:
                if self.cache is not None:
                    self.cache.close()
            finally:
                if self.pool is not None:
                    self.summary.worker_restarts = self.pool.restarts
                    self.pool.close()
