"""Large SQLite imports on several cores: parser processes stage rows, this process moves them in.

In one process, reading a bank file (Python: decoding, CSV or JSON, validation, digests) and
writing it (SQLite: B-tree inserts) share one interpreter lock, and together they cost about
10 us a row, so an import ran at one core's speed. Here parser processes
(``banks.parse_worker``, fresh interpreters: nothing of the caller is inherited) open the file
themselves, read and validate it with the same readers, and write each batch of good rows (up
to :data:`~safehold.banks.bulk_load.ROWS_PER_TRANSACTION`) into a staging SQLite file of their
own. This process attaches each finished file and moves its rows into the bank with one
``INSERT ... SELECT`` in key order (``bulk_insert.insert_staged_sqlite``): no Python code runs
per row on this side.

A CSV file with a header is cut into parts (``banks.parse_parts``) that :data:`PARSERS`
processes read side by side, each taking every ``PARSERS``-th part; this process commits the
parts in file order, so transactions follow the file and of two rows with one key the first is
kept, as on one core. Other files are read by one parser process. A parser stays at most
``parse_worker.STAGED_AHEAD`` staging files ahead (disk, not memory: about 120 MB per 500,000
rows), in a private temporary folder removed at the end.

Only regular files of at least :data:`PROCESS_MIN_BYTES` take this path (a parser needs a path
to open, and starting one costs about half a second); everything else is read on a thread
(``bulk_load.load_rows``). The report is the same either way. Figures: ``docs/banks.md``,
"Performance"; the decision: ``docs/decisions/0011-bulk-load.md``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection as Pipe
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Connection, Engine

from safehold import errors
from safehold.banks import parse_parts
from safehold.banks.bulk_insert import KEY_ORDER, STAGED_ORDER, insert_staged
from safehold.banks.bulk_load import bank_target, import_cache, loading_transaction
from safehold.banks.parse_parts import plan_parts
from safehold.banks.parse_worker import ParseJob, ParseSummary
from safehold.banks.rows import db_errors
from safehold.errors import SafeholdError, StorageError

#: Smallest input (bytes from the current position) read by parser processes: below it the
#: process start (about 0.5 s) costs more than it saves.
PROCESS_MIN_BYTES = 16 * 1024 * 1024
#: Parser processes for a file cut into parts: with this process, one more process than
#: cores on a 2-core machine (this one mostly waits on SQLite).
PARSERS = max(1, min(3, os.cpu_count() or 1))
_SCHEMA = "safehold_staged"
#: Scratch folders of imports, in the temporary directory (``$TMPDIR``), mode 0700.
WORKDIR_PREFIX = "safehold-import-"
_OWNER = "owner.pid"


def regular_file_path(binary: BinaryIO, min_bytes: int | None = None) -> str | None:
    """The path of ``binary`` when it is a regular file with at least ``min_bytes`` (default
    :data:`PROCESS_MIN_BYTES`) left to read and its ``name`` still names that same file; else
    None (pipes, uploads, small files).
    """
    min_bytes = PROCESS_MIN_BYTES if min_bytes is None else min_bytes
    name = getattr(binary, "name", None)
    if not isinstance(name, str):
        return None
    try:
        opened = os.fstat(binary.fileno())
        named = os.stat(name)
        position = binary.tell()
    except (OSError, ValueError, AttributeError):
        return None
    same = (opened.st_dev, opened.st_ino) == (named.st_dev, named.st_ino)
    if not same or not stat.S_ISREG(opened.st_mode) or opened.st_size - position < min_bytes:
        return None
    return name


def load_with_parsers(
    engine: Engine,
    bank_name: str,
    job_args: dict[str, Any],
    *,
    on_batch: Callable[[int, int, int], None] | None = None,
) -> tuple[int, ParseSummary]:
    """Import the regular file ``job_args["path"]`` (from byte ``job_args["offset"]``) into
    SQLite bank ``bank_name`` with parser processes (see the module doc); return ``(added,
    summary)``.

    ``job_args`` also holds ``open_args`` (``open_bank_file``'s), ``source``,
    ``vpdq_seconds_per_frame`` and ``batch_rows``. ``on_batch(rows_written, added,
    bytes_read)`` is called after each commit.

    Raises:
        NotFoundError: no such bank, or it was deleted during the load (batches committed
            before stay committed and are deleted with it).
        SafeholdError: what reading the file raised (same class and message as on one core:
            an unknown format, a UTF-16 file, a bad option).
        StorageError: the database failed, or a parser process died.
    """
    bank_id, name, default = bank_target(engine, bank_name)
    path, offset, open_args = job_args["path"], job_args["offset"], job_args["open_args"]
    owed: dict[Pipe, set[int]] = {}
    processes: list[subprocess.Popen[bytes]] = []
    started: list[Pipe] = []
    workdir: str | None = None
    try:
        # Parsers start (about 0.5 s each) while the file is planned (a 180 MB VICS file:
        # about 1 s): as many as a file that may be cut can use; those left over end at once.
        may_cut = os.stat(path).st_size - offset >= parse_parts.PART_BYTES
        for _ in range(PARSERS if may_cut else 1):
            pipe, process = _start_parser()
            processes.append(process)
            started.append(pipe)
        fmt = open_args.get("fmt") or _detect(path, offset, open_args)
        parts = plan_parts(path, offset, fmt, parts=1 << 10)
        if len(parts) > 1:
            open_args = {**open_args, "fmt": fmt}
        count = min(PARSERS, len(parts))
        for pipe in started[count:]:
            pipe.close()
        remove_abandoned_workdirs()
        workdir = tempfile.mkdtemp(prefix=WORKDIR_PREFIX)
        Path(workdir, _OWNER).write_text(str(os.getpid()))
        for k, pipe in enumerate(started[:count]):
            mine = [(i, part) for i, part in enumerate(parts) if i % count == k]
            job = ParseJob(
                path=path, parts=mine, last=len(parts) - 1, workdir=workdir,
                open_args=open_args, default=default, source=job_args["source"],
                vpdq_seconds_per_frame=job_args["vpdq_seconds_per_frame"],
                batch_rows=job_args["batch_rows"],
            )  # fmt: skip
            owed[pipe] = {i for i, _ in mine}
            pipe.send(job)
        with _terminate_as_exit(), db_errors(), engine.connect() as c, import_cache(c):
            order = STAGED_ORDER if len(parts) > 1 else KEY_ORDER
            return _commit_in_order(c, bank_id, name, owed, len(parts), order, on_batch)
    finally:
        for pipe in started:
            pipe.close()
        for process in processes:
            if process.poll() is None:
                process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)


def remove_abandoned_workdirs() -> int:
    """Remove scratch folders of imports whose process is gone (SIGKILLed: its ``finally``
    never ran, and its parsers died too); return how many. Folders without a readable owner
    are left alone."""
    removed = 0
    for folder in Path(tempfile.gettempdir()).glob(WORKDIR_PREFIX + "*"):
        try:
            owner = int(Path(folder, _OWNER).read_text())
            os.kill(owner, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
        except (OSError, ValueError):  # not ours to judge: unreadable, or the owner lives
            continue
    return removed


@contextlib.contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """Meanwhile, SIGTERM (``timeout``, systemd, docker) raises ``SystemExit(143)`` so the
    cleanup below runs (parsers stopped, scratch folder removed). Only in the main thread
    (signal handlers can only be set there); elsewhere the caller's handling stays."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminated(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    before = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def _start_parser() -> tuple[Pipe, subprocess.Popen[bytes]]:
    """Start ``python -m safehold.banks.parse_worker`` with one end of a socket pair (how
    ``multiprocessing.Pipe`` connects processes on POSIX); return the other end and it."""
    ours, theirs = socket.socketpair()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "safehold.banks.parse_worker", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except OSError as exc:
        ours.close()
        raise StorageError(f"cannot start the import's parser process: {exc.strerror}") from None
    finally:
        theirs.close()
    return Pipe(ours.detach()), process


def _detect(path: str, offset: int, open_args: dict[str, Any]) -> str:
    """The format of the file at ``path`` from ``offset``, as the readers detect it.

    Raises:
        SafeholdError: what opening it raises (a UTF-16 file, an undetectable format).
    """
    from safehold.banks.formats import open_bank_file

    with open(path, "rb") as f:
        f.seek(offset)
        return open_bank_file(f, **open_args).fmt


def _commit_in_order(
    c: Connection,
    bank_id: int,
    name: str,
    owed: dict[Pipe, set[int]],
    parts: int,
    order: str,
    on_batch: Callable[[int, int, int], None] | None,
) -> tuple[int, ParseSummary]:
    """Move the parsers' staging files into the bank, part after part; ``owed``: the parts
    each parser's pipe has still to finish; ``order``: how the staging files are read
    (``STAGED_ORDER`` when the parsers sorted them, else ``KEY_ORDER``)."""
    from safehold.banks.importing import MAX_ROW_ERRORS

    driver: Any = c.connection.driver_connection
    waiting: dict[int, deque[tuple[Pipe, tuple[Any, ...]]]] = {i: deque() for i in range(parts)}
    read: dict[int, int] = {}
    summary = ParseSummary()
    added = written = current = 0
    while current < parts:
        while not waiting[current]:
            for pipe in wait([p for p, left in owed.items() if left]):
                message = _receive(pipe)  # type: ignore[arg-type]
                waiting[message[1]].append((pipe, message))  # type: ignore[arg-type]
                if message[0] == "part":
                    owed[pipe].discard(message[1])  # type: ignore[index]
        pipe, message = waiting[current].popleft()
        if message[0] == "part":
            summary.add(message[2], MAX_ROW_ERRORS)
            current += 1
            continue
        _, part, staged, rows, read[part] = message
        driver.execute(f"ATTACH DATABASE ? AS {_SCHEMA}", (staged,))
        try:
            with loading_transaction(c, bank_id, name):
                added += insert_staged(c, bank_id, _SCHEMA, order)
        finally:
            # An interrupt (Ctrl-C, SIGTERM) during the commit may have closed the connection.
            with contextlib.suppress(sqlite3.Error):
                driver.execute(f"DETACH DATABASE {_SCHEMA}")
            Path(staged).unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # the parser may have finished
            pipe.send("next")
        written += rows
        if on_batch is not None:
            on_batch(written, added, sum(read.values()))
    return added, summary


def _receive(pipe: Pipe) -> tuple[Any, ...]:
    """The parser's next message; its error raised here as the same Safehold error class."""
    try:
        message: tuple[Any, ...] = pipe.recv()
    except (EOFError, OSError):
        raise StorageError("the import's parser process stopped unexpectedly") from None
    if message[0] != "error":
        return message
    _, kind, text = message
    cls = getattr(errors, kind, None)
    if isinstance(cls, type) and issubclass(cls, SafeholdError):
        error = cls.__new__(cls)
        SafeholdError.__init__(error, text)
        raise error
    raise StorageError(f"the import's parser process failed: {kind}: {text}")
