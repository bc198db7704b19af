"""A process pool that survives its workers: per-file timeouts, crashes and memory exhaustion.

``concurrent.futures.ProcessPoolExecutor`` cannot kill one stuck task, and one dead worker
breaks the whole executor. This pool gives each worker its own pipe and at most one file at a
time, so the parent always knows which file a worker holds: a worker past its deadline is killed
and replaced (the file gets a ``timeout`` error), a worker that dies (segfault, OOM kill) is
replaced (the file gets a ``crashed`` error), and the rest of the batch carries on.

Workers start with ``forkserver`` where available (POSIX; the worker module is preloaded in the
fork server, so a replacement starts in milliseconds) and ``spawn`` elsewhere; never plain
``fork`` from a parent that may run threads (Rich's progress bar does).

Ctrl-C belongs to the parent: the terminal sends SIGINT to the whole process group, so the
fork server and the workers are started with SIGINT blocked (they inherit the mask, and a
worker then ignores it), and never print a ``KeyboardInterrupt`` traceback; the parent stops
them. They also start with one BLAS/OpenMP thread each (``OPENBLAS_NUM_THREADS=1`` etc.,
unless already set): parallelism comes from the processes, and every idle BLAS thread would
cost address space under the worker's memory bound (about 40 MiB each, one per core).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal as os_signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess

from safehold.errors import ConfigurationError, ContentTimeoutError
from safehold.scanning.errors import WorkerCrashedError
from safehold.scanning.records import FileError, FileOutcome
from safehold.scanning.worker import WorkerConfig, worker_main

_PRELOAD = ["safehold.scanning.worker"]
#: How long a new worker may take to import its modules and report ready.
_START_TIMEOUT_SECONDS = 120.0
#: Thread-pool sizes for numerical libraries, set in the environment the fork server (and so
#: every worker) starts with, unless the user set them.
_SINGLE_THREAD_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


@contextlib.contextmanager
def _child_start_environment() -> Iterator[None]:
    """Start children with SIGINT blocked and single-threaded numerical libraries.

    The signal mask and the environment are inherited across ``fork`` and ``exec``, so the
    fork server started inside this block passes both on to every worker it forks. A SIGINT
    that reaches the parent meanwhile stays pending and is delivered on leaving the block.
    """
    added = {k: v for k, v in _SINGLE_THREAD_ENV.items() if k not in os.environ}
    os.environ.update(added)
    block = hasattr(os_signal, "pthread_sigmask") and (
        threading.current_thread() is threading.main_thread()
    )
    if block:
        os_signal.pthread_sigmask(os_signal.SIG_BLOCK, {os_signal.SIGINT})
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)
        if block:
            os_signal.pthread_sigmask(os_signal.SIG_UNBLOCK, {os_signal.SIGINT})


def _context() -> BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        _start_fork_server()
        return ctx
    return multiprocessing.get_context("spawn")  # pragma: no cover - Windows


def _start_fork_server() -> None:
    """Start the fork server (a no-op when it runs) inside :func:`_child_start_environment`.

    The resource tracker is started first: starting it blocks and then *unblocks* SIGINT in
    the calling thread, which would let the fork server start with SIGINT deliverable and
    print a ``KeyboardInterrupt`` traceback when Ctrl-C lands while it imports its modules.
    """
    from multiprocessing import forkserver, resource_tracker

    resource_tracker.ensure_running()
    with _child_start_environment():
        forkserver.ensure_running()


@dataclass(slots=True)
class _Worker:
    process: BaseProcess
    conn: Connection
    task_id: int | None = None
    path: str = ""
    deadline: float = 0.0


class WorkerPool:
    """``size`` worker processes hashing one file each at a time.

    Args:
        size: number of workers to start now (>= 1); :meth:`grow` adds more.
        config: sent to every worker at start.
        timeout_seconds: wall-clock bound per file.

    Use :meth:`submit` while :meth:`idle_count` > 0, then :meth:`poll` for finished files.

    Raises:
        ConfigurationError: a worker cannot start (e.g. a plug-in module fails to import).
    """

    def __init__(self, size: int, config: WorkerConfig, timeout_seconds: float) -> None:
        if size < 1:
            raise ValueError("a worker pool needs at least one worker")
        self._ctx = _context()
        self._config = config
        self._timeout = timeout_seconds
        self._workers = [self._start() for _ in range(size)]
        self.restarts = 0

    def __len__(self) -> int:
        """Number of workers running."""
        return len(self._workers)

    def grow(self) -> None:
        """Start one more worker (idle until :meth:`submit`).

        Raises:
            ConfigurationError: it cannot start.
        """
        self._workers.append(self._start())

    def _start(self) -> _Worker:
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(  # type: ignore[attr-defined]
            target=worker_main, args=(child_conn, self._config), daemon=True
        )
        # Wait for the handshake so a worker that cannot start fails the scan once, instead of
        # failing every file as a "crash".
        reason = "it exited during start-up"
        try:
            try:
                with _child_start_environment():
                    process.start()
            finally:
                child_conn.close()
            if parent_conn.poll(_START_TIMEOUT_SECONDS):
                status, reason = parent_conn.recv()
                if status == "ready":
                    return _Worker(process, parent_conn)
            else:
                reason = f"it did not start within {_START_TIMEOUT_SECONDS:g} s"
        except (EOFError, OSError):
            pass
        except BaseException:  # Ctrl-C while it starts: leave no stray worker behind
            _stop(process, parent_conn)
            raise
        _stop(process, parent_conn)
        raise ConfigurationError(f"a scan worker process failed to start: {reason}")

    def _replace(self, worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(5)
        worker.conn.close()
        index = self._workers.index(worker)
        self._workers[index] = self._start()
        self.restarts += 1

    def idle_count(self) -> int:
        """Number of workers not holding a file."""
        return sum(1 for w in self._workers if w.task_id is None)

    def busy_count(self) -> int:
        """Number of workers holding a file."""
        return len(self._workers) - self.idle_count()

    def submit(self, task_id: int, path: str) -> None:
        """Give ``path`` to an idle worker; raises ``RuntimeError`` when none is idle."""
        for worker in self._workers:
            if worker.task_id is None:
                try:
                    worker.conn.send((task_id, path))
                except OSError:  # died while idle: replace it and retry once
                    self._replace(worker)
                    return self.submit(task_id, path)
                worker.task_id = task_id
                worker.path = path
                worker.deadline = time.monotonic() + self._timeout
                return
        raise RuntimeError("no idle worker")

    def poll(self, timeout: float) -> list[tuple[int, FileOutcome]]:
        """Wait up to ``timeout`` seconds; return ``(task_id, outcome)`` for finished files.

        Files whose worker timed out or died are returned with a ``timeout`` or ``crashed``
        error; their workers are replaced before this returns.
        """
        busy = [w for w in self._workers if w.task_id is not None]
        if not busy:
            return []
        now = time.monotonic()
        wait_for = max(0.0, min(timeout, min(w.deadline for w in busy) - now))
        handles: list[object] = [w.conn for w in busy] + [w.process.sentinel for w in busy]
        ready = set(map(id, wait(handles, wait_for)))  # type: ignore[arg-type]
        done: list[tuple[int, FileOutcome]] = []
        now = time.monotonic()
        for worker in busy:
            task_id = worker.task_id
            assert task_id is not None
            if id(worker.conn) in ready or id(worker.process.sentinel) in ready:
                result = self._receive(worker)
                if result is not None:
                    outcome, recycle = result
                    done.append((task_id, outcome))
                    if recycle:  # it exits after a MemoryError: start a fresh one now
                        self._replace(worker)
                    continue
                done.append((task_id, _outcome(self._crash_error(worker))))
                self._replace(worker)
            elif now >= worker.deadline:
                error = ContentTimeoutError(
                    f"hashing took longer than {self._timeout:g} s; the worker was stopped"
                )
                done.append((task_id, _outcome(FileError.from_exception(error, cacheable=False))))
                self._replace(worker)
        return done

    def _receive(self, worker: _Worker) -> tuple[FileOutcome, bool] | None:
        try:
            if not worker.conn.poll():
                return None
            task_id, outcome, recycle = worker.conn.recv()
        except (EOFError, OSError):
            return None
        if task_id != worker.task_id:  # pragma: no cover - protocol invariant
            raise RuntimeError("worker answered for a file it was not given")
        worker.task_id = None
        worker.path = ""
        return outcome, bool(recycle)

    def _crash_error(self, worker: _Worker) -> FileError:
        worker.process.join(1)
        code = worker.process.exitcode
        if code is not None and code < 0:
            try:
                how = f"was killed by {os_signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
        else:
            how = f"exited with status {code}"
        error = WorkerCrashedError(f"the worker hashing this file {how}")
        return FileError.from_exception(error, cacheable=False)

    def close(self) -> None:
        """Stop every worker (asks politely, then kills after a second)."""
        for worker in self._workers:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
        deadline = time.monotonic() + 1.0
        for worker in self._workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(1)
            worker.conn.close()
        self._workers = []

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stop(process: BaseProcess, conn: Connection) -> None:
    """Kill a worker that did not finish starting and close its pipe."""
    if process.pid is not None:
        process.kill()
        process.join(5)
    conn.close()


def _outcome(error: FileError) -> FileOutcome:
    return FileOutcome(error=error)
