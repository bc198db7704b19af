"""The worker pool survives stuck, crashing, memory-hungry and buggy files.

Uses the fake ``test-behave`` signal type from ``scanning_fake_signals`` (imported only in the
workers), which misbehaves by file name.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from safehold.errors import ConfigurationError
from safehold.scanning.pool import WorkerPool
from safehold.scanning.records import FileOutcome
from safehold.scanning.worker import WorkerConfig


def _config(plugin: str, memory_limit: int | None = 1024**3) -> WorkerConfig:
    return WorkerConfig(
        signal_types=("test-behave",), memory_limit_bytes=memory_limit, plugin_modules=(plugin,)
    )


def _run(pool: WorkerPool, paths: list[Path], deadline: float = 30.0) -> dict[str, FileOutcome]:
    """Feed every path through the pool; return outcomes by file name."""
    pending = list(enumerate(paths))
    out: dict[int, FileOutcome] = {}
    stop = time.monotonic() + deadline
    while len(out) < len(paths):
        assert time.monotonic() < stop, "pool made no progress"
        while pending and pool.idle_count():
            task_id, path = pending.pop(0)
            pool.submit(task_id, str(path))
        for task_id, outcome in pool.poll(0.2):
            out[task_id] = outcome
    return {paths[i].name: o for i, o in out.items()}


def test_stuck_file_times_out_and_the_rest_still_hash(
    files: Callable[..., list[Path]], fake_plugin: str
) -> None:
    paths = files("ok-1.png", "sleep-1.png", "ok-2.png", "ok-3.png")
    started = time.monotonic()
    with WorkerPool(2, _config(fake_plugin), timeout_seconds=1.0) as pool:
        out = _run(pool, paths)
        restarts = pool.restarts
    assert time.monotonic() - started < 20
    error = out["sleep-1.png"].error
    assert error is not None
    assert (error.type, error.cacheable) == ("timeout", False)
    assert "longer than 1 s" in error.message
    assert out["sleep-1.png"].signals == {}
    for name in ("ok-1.png", "ok-2.png", "ok-3.png"):
        assert out[name].error is None
        assert out[name].signals["test-behave"].value == name
    assert restarts == 1


def test_crashing_worker_gives_one_error_and_is_replaced(
    files: Callable[..., list[Path]], fake_plugin: str
) -> None:
    paths = files("crash-1.png", "ok-1.png", "crash-2.png", "ok-2.png", "ok-3.png")
    with WorkerPool(1, _config(fake_plugin), timeout_seconds=30.0) as pool:
        out = _run(pool, paths)
        assert pool.restarts == 2
    for name in ("crash-1.png", "crash-2.png"):
        error = out[name].error
        assert error is not None
        assert error.type == "crashed"
        assert "SIGSEGV" in error.message
    assert [out[n].signals["test-behave"].value for n in ("ok-1.png", "ok-2.png", "ok-3.png")] == [
        "ok-1.png",
        "ok-2.png",
        "ok-3.png",
    ]


def test_memory_bound_turns_exhaustion_into_too_large(
    files: Callable[..., list[Path]], fake_plugin: str
) -> None:
    paths = files("hog-1.png", "ok-1.png")
    with WorkerPool(1, _config(fake_plugin, memory_limit=1024**3), timeout_seconds=30.0) as pool:
        out = _run(pool, paths)
        assert pool.restarts == 1  # the worker is recycled after a MemoryError
    error = out["hog-1.png"].error
    assert error is not None
    assert (error.type, error.cacheable) == ("too_large", False)
    # A small file that exhausts the bound points at the bound, not at the file.
    assert "worker memory limit (1024 MiB, --memory-limit)" in error.message
    kib = round(paths[0].stat().st_size / 1024)
    assert f"the file is only {kib} KiB, so the limit is probably too low" in error.message
    assert out["ok-1.png"].signals["test-behave"].value == "ok-1.png"


def test_decoder_out_of_threads_is_memory_exhaustion_not_corrupt(
    files: Callable[..., list[Path]], fake_plugin: str
) -> None:
    # Under RLIMIT_AS FFmpeg cannot start its threads (EAGAIN) and the video wrapper reports
    # "corrupt": that must not be cached as a property of the file.
    paths = files("eagain-1.png", "ok-1.png")
    with WorkerPool(1, _config(fake_plugin), timeout_seconds=30.0) as pool:
        out = _run(pool, paths)
        assert pool.restarts == 1
    error = out["eagain-1.png"].error
    assert error is not None
    assert (error.type, error.cacheable) == ("too_large", False)
    assert "ran out of memory" in error.message
    assert out["ok-1.png"].error is None


def test_pool_grows_on_demand_and_workers_ignore_sigint(
    files: Callable[..., list[Path]], fake_plugin: str
) -> None:
    paths = files("ok-1.png", "ok-2.png", "ok-3.png")
    with WorkerPool(1, _config(fake_plugin), timeout_seconds=30.0) as pool:
        assert len(pool) == 1
        before = {p.pid for p in multiprocessing.active_children()}
        pool.grow()
        assert (len(pool), pool.idle_count()) == (2, 2)
        workers = [p for p in multiprocessing.active_children() if p.pid not in before]
        assert len(workers) == 1
        assert workers[0].pid is not None
        os.kill(workers[0].pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
        out = _run(pool, paths)
        assert pool.restarts == 0
        assert workers[0].is_alive()
    assert [out[p.name].signals["test-behave"].value for p in paths] == [
        "ok-1.png",
        "ok-2.png",
        "ok-3.png",
    ]


def test_unexpected_exception_is_a_file_error(
    files: Callable[..., list[Path]], fake_plugin: str
) -> None:
    paths = files("boom-1.png", "ok-1.png")
    with WorkerPool(1, _config(fake_plugin), timeout_seconds=30.0) as pool:
        out = _run(pool, paths)
        assert pool.restarts == 0
    error = out["boom-1.png"].error
    assert error is not None
    # SignalType.hash_content maps exceptions a plug-in did not map to ``corrupt``.
    assert (error.type, error.cacheable) == ("corrupt", True)
    assert "RuntimeError: boom" in error.message
    assert out["ok-1.png"].error is None


def test_worker_that_cannot_start_fails_once_with_a_clear_error() -> None:
    config = WorkerConfig(signal_types=("md5",), plugin_modules=("no_such_plugin_module",))
    with pytest.raises(ConfigurationError, match="failed to start: ModuleNotFoundError"):
        WorkerPool(1, config, timeout_seconds=5.0)


def test_zero_workers_is_refused(fake_plugin: str) -> None:
    with pytest.raises(ValueError, match="at least one worker"):
        WorkerPool(0, _config(fake_plugin), timeout_seconds=1.0)
