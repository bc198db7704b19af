"""The code that runs inside a worker process: hash one file at a time, report per-file errors.

A worker bounds its own memory (``RLIMIT_AS``, so an allocation past the bound raises
``MemoryError`` instead of inviting the kernel's OOM killer), imports plug-in modules, builds one
instance of each requested signal type, then answers ``(task_id, path)`` messages with
``(task_id, FileOutcome, recycle)`` until it receives ``None``. Time bounds are enforced by the
parent (:mod:`safehold.scanning.pool`), which kills a worker that runs past them.

Everything here is importable without side effects, so the ``forkserver`` and ``spawn`` start
methods work (the module is preloaded into the fork server to make new workers cheap).
"""

from __future__ import annotations

import errno
import importlib
import os
import signal as os_signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from safehold.errors import ContentTooLargeError, CorruptContentError, SafeholdError
from safehold.scanning.errors import UnreadableContentError
from safehold.scanning.records import FileError, FileOutcome
from safehold.settings import Settings
from safehold.signals.base import Content, HashOptions, SignalType, get_signal_type
from safehold.signals.content import detect_content


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """What a worker needs (picklable; sent once when the worker starts).

    Attributes:
        signal_types: names of the signal types to compute, in order.
        hash_options: passed to each signal type's constructor.
        settings: passed to ``detect_content`` (size bounds).
        memory_limit_bytes: ``RLIMIT_AS`` for the worker, or None for no bound.
        plugin_modules: modules to import first (they register extra signal types).
        max_file_bytes: size bound for ``detect_content`` (None = the settings' bound).
    """

    signal_types: tuple[str, ...]
    hash_options: HashOptions = field(default_factory=HashOptions)
    settings: Settings | None = None
    memory_limit_bytes: int | None = None
    plugin_modules: tuple[str, ...] = ()
    max_file_bytes: int | None = None


def limit_memory(limit_bytes: int | None) -> None:
    """Set this process's address-space bound (``RLIMIT_AS``) to ``limit_bytes``.

    Only where the ``resource`` module exists (POSIX); a no-op elsewhere or for None.
    """
    if limit_bytes is None:
        return
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit_bytes = min(limit_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, hard))


class FileHasher:
    """Hash files with a fixed list of signal types; one error per file at most.

    Args:
        signal_types: signal type names (must be registered).
        hash_options: passed to each signal type's constructor.
        settings: passed to ``detect_content``; None = ``Settings()`` defaults.
        max_file_bytes: size bound (None = ``settings.max_file_bytes``).
        memory_limit_bytes: the process's memory bound, named in out-of-memory errors.
    """

    def __init__(
        self,
        signal_types: Sequence[str],
        hash_options: HashOptions,
        settings: Settings | None = None,
        max_file_bytes: int | None = None,
        memory_limit_bytes: int | None = None,
    ) -> None:
        self.names = tuple(signal_types)
        self.instances: list[SignalType] = [
            get_signal_type(name)(hash_options) for name in self.names
        ]
        self.settings = settings or Settings()
        self.max_file_bytes = max_file_bytes
        self.memory_limit_bytes = memory_limit_bytes

    def hash_path(self, path: str) -> tuple[FileOutcome, bool]:
        """Hash the file at ``path`` with every applicable signal type.

        Returns ``(outcome, recycle)``: ``recycle`` is True after the worker ran out of
        memory (a ``MemoryError``, or a decoder failing with ``ENOMEM``/``EAGAIN`` because it
        could not map memory or start a thread), when the worker should be replaced; such an
        error is not cached. Never raises for a bad file: detection errors, decoder errors,
        I/O errors and unexpected exceptions all become ``outcome.error``.
        """
        outcome = FileOutcome(signal_types=self.names)
        try:
            content = detect_content(Path(path), self.settings, max_file_bytes=self.max_file_bytes)
        except Exception as exc:
            if _out_of_resources(exc):
                outcome.error = self._memory_error(path)
                return outcome, True
            outcome.error = _file_error(exc)
            return outcome, False
        return self.hash_content(content)

    def hash_content(self, content: Content) -> tuple[FileOutcome, bool]:
        """Hash already detected ``content`` (a file, or bytes held in memory such as an
        upload to the HTTP service); returns and never raises as :meth:`hash_path`."""
        outcome = FileOutcome(signal_types=self.names)
        path = str(content.path)
        outcome.content_type = str(content.content_type)
        outcome.size = content.size
        for instance in self.instances:
            if content.content_type not in instance.content_types:
                continue
            try:
                signal = instance.hash_content(content)
                outcome.signals[instance.name] = signal
                if signal.partial and outcome.error is None:
                    # Part of the content could not be decoded: keep the signal of the rest
                    # and report the damage (a deterministic, cacheable ``corrupt`` error).
                    outcome.error = FileError(CorruptContentError.code, signal.partial)
            except Exception as exc:
                if _out_of_resources(exc):
                    outcome.error = self._memory_error(path, content.size)
                    return outcome, True
                if outcome.error is None:
                    outcome.error = _file_error(exc)
        return outcome, False

    def _memory_error(self, path: str, size: int | None = None) -> FileError:
        """The ``too_large`` error for memory exhaustion, naming the bound and its likely cause."""
        message = "hashing ran out of memory"
        limit = self.memory_limit_bytes
        if limit is not None:
            message += f" under the worker memory limit ({limit // 2**20} MiB, --memory-limit)"
            if size is None:
                try:
                    size = os.stat(path).st_size
                except OSError:
                    size = None
            if size is not None and size * _SMALL_FILE_RATIO < limit:
                message += (
                    f"; the file is only {_size_text(size)}, so the limit is probably too low "
                    "for this machine: raise --memory-limit"
                )
            else:
                message += "; raise --memory-limit if files like this one must be hashed"
        exc = ContentTooLargeError(message)
        return FileError.from_exception(exc, cacheable=False)


#: A file whose size times this is still under the memory bound is "small": ordinary photos
#: and videos decode in a few tens of times their size (JPEG is about 10:1 compressed), so
#: running out of memory on one means the bound, not the file, is the problem.
_SMALL_FILE_RATIO = 64

#: ``errno`` values a decoder reports when it cannot map memory (ENOMEM) or start a thread
#: (EAGAIN from ``pthread_create``) under ``RLIMIT_AS``; FFmpeg reports them negated.
_RESOURCE_ERRNOS = frozenset({errno.ENOMEM, errno.EAGAIN})


def _out_of_resources(exc: BaseException) -> bool:
    """True when ``exc`` (or an exception it was raised from or while handling) is memory
    exhaustion: ``MemoryError``, or an error carrying ``errno`` ENOMEM or EAGAIN.

    Decoder wrappers turn such failures into ``CorruptContentError`` (``raise ... from
    None`` keeps the original in ``__context__``), which would wrongly cache the file as
    corrupt.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, MemoryError):
            return True
        code = getattr(current, "errno", None)
        if isinstance(code, int) and abs(code) in _RESOURCE_ERRNOS:
            return True
        current = current.__cause__ or current.__context__
    return False


def _size_text(size: int) -> str:
    if size < 2**20:
        return f"{max(1, round(size / 1024))} KiB"
    return f"{size / 2**20:.1f} MiB"


def _file_error(exc: Exception) -> FileError:
    """Map any exception met while hashing one file to a :class:`FileError`."""
    if isinstance(exc, SafeholdError):
        return FileError.from_exception(exc)
    if isinstance(exc, OSError):
        reason = exc.strerror or type(exc).__name__
        return FileError.from_exception(
            UnreadableContentError(f"cannot read: {reason}"), cacheable=False
        )
    # A bug or an unmapped decoder failure: keep the batch going, name the exception type.
    message = f"unexpected {type(exc).__name__} while hashing: {exc}"[:500]
    return FileError(SafeholdError.code, message, cacheable=False)


def worker_main(conn: Connection, config: WorkerConfig) -> None:
    """Entry point of a worker process: serve ``(task_id, path)`` until ``None`` or EOF.

    First answers ``("ready", "")``, or ``("failed", reason)`` when set-up fails (a plug-in
    module that does not import, an unknown signal type) and exits.

    SIGINT is ignored (the parent handles Ctrl-C and stops its workers). After a
    ``MemoryError`` the worker answers, then exits so the parent starts a fresh one. When the
    parent has gone (its end of the pipe is closed: it was interrupted or killed), the worker
    exits quietly instead of printing a ``BrokenPipeError`` traceback.
    """
    os_signal.signal(os_signal.SIGINT, os_signal.SIG_IGN)
    try:
        _serve(conn, config)
    except (EOFError, OSError):  # the parent closed the pipe
        return


def _serve(conn: Connection, config: WorkerConfig) -> None:
    try:
        limit_memory(config.memory_limit_bytes)
        for module in config.plugin_modules:
            importlib.import_module(module)
        hasher = FileHasher(
            config.signal_types,
            config.hash_options,
            config.settings,
            config.max_file_bytes,
            config.memory_limit_bytes,
        )
    except Exception as exc:  # reported to the parent, which stops the scan
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", ""))
    while True:
        message = conn.recv()
        if message is None:
            return
        task_id, path = message
        outcome, recycle = hasher.hash_path(path)
        conn.send((task_id, outcome, recycle))
        if recycle:
            return
