"""Large SQLite imports on two cores: a parser process stages rows, this process moves them in.

In one process, reading a bank file (Python: decoding, CSV or JSON, validation, digests) and
writing it (SQLite: B-tree inserts) share one interpreter lock, and together they cost about
10 us a row, so an import ran at one core's speed. Here a second process (``spawn``, so no
thread or lock of the caller is inherited) opens the file itself, reads and validates it with
the same readers and writes each batch of :data:`~safehold.banks.bulk_load.ROWS_PER_TRANSACTION`
good rows into a staging SQLite file of its own (``journal_mode=OFF``: a scratch file). This
process attaches each finished file and moves its rows into the bank with one
``INSERT ... SELECT`` in key order (``bulk_insert.insert_staged_sqlite``): no Python code runs
per row on this side. At most :data:`STAGED_AHEAD` staging files wait at a time (disk, not
memory: about 120 MB per 500,000 rows), in a private temporary folder removed at the end.

Only regular files of at least :data:`PROCESS_MIN_BYTES` take this path (the parser process
needs a path to open, and starting it costs about half a second); everything else is read on a
thread (``bulk_load.load_rows``). The report is the same either way. Figures:
``docs/banks.md``, "Performance"; the decision: ``docs/decisions/0011-bulk-load.md``.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import shutil
import sqlite3
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Engine

from safehold import errors
from safehold.banks.bulk_insert import KEY_ORDER, insert_staged, stage_sqlite
from safehold.banks.bulk_load import (
    CHUNK_ROWS,
    ROWS_PER_TRANSACTION,
    bank_target,
    batches,
    import_cache,
    loading_transaction,
)
from safehold.banks.models import Category
from safehold.banks.rows import db_errors
from safehold.errors import SafeholdError, StorageError

#: Smallest input (bytes from the current position) read by a parser process: below it the
#: process start (about 0.5 s) costs more than it saves.
PROCESS_MIN_BYTES = 16 * 1024 * 1024
#: Staging files written ahead of this process (each one transaction's rows).
STAGED_AHEAD = 2
#: The first and last staging files hold ``batch_rows // RAMP_DIVISOR`` rows (see
#: :func:`rows_for_next_file`): with 500,000-row files, 1M rows took 7.3 s, 2.4 s of them
#: waiting for the first file or the last insert.
RAMP_DIVISOR = 5
_SCHEMA = "safehold_staged"


@dataclass(frozen=True, slots=True)
class ParseJob:
    """What the parser process reads and how (the arguments of ``open_bank_file`` and the
    importer's options; picklable)."""

    path: str
    offset: int
    workdir: str
    open_args: dict[str, Any]
    default: Category | None
    source: str
    vpdq_seconds_per_frame: float | None
    batch_rows: int = ROWS_PER_TRANSACTION


@dataclass(slots=True)
class ParseSummary:
    """What the parser process saw: good and bad rows (the first bad rows kept), the format,
    and the VICS layout (``VicsLayout``) for VICS files."""

    valid: int = 0
    bad: int = 0
    errors: list[Any] = field(default_factory=list)
    fmt: str | None = None
    vics: Any = None
    resampled: str | None = None


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


def load_in_process_pair(
    engine: Engine,
    bank_name: str,
    job_args: dict[str, Any],
    *,
    on_batch: Callable[[int, int, int], None] | None = None,
) -> tuple[int, ParseSummary]:
    """Import a regular file into SQLite bank ``bank_name`` with a parser process (see the
    module doc); return ``(added, summary)``.

    ``job_args`` are :class:`ParseJob`'s fields but ``workdir`` and ``default`` (made here).
    ``on_batch(rows_written, added, bytes_read)`` is called after each commit.

    Raises:
        NotFoundError: no such bank, or it was deleted during the load (batches committed
            before stay committed and are deleted with it).
        SafeholdError: what reading the file raised in the parser process (same class and
            message: an unknown format, a UTF-16 file, a bad option).
        StorageError: the database failed, or the parser process died.
    """
    bank_id, name, default = bank_target(engine, bank_name)
    workdir = tempfile.mkdtemp(prefix="safehold-import-")
    job = ParseJob(workdir=workdir, default=default, **job_args)
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(
        target=parse_to_staging, args=(job, theirs), name="safehold-import-parser", daemon=True
    )
    added = written = 0
    try:
        process.start()
        theirs.close()
        with db_errors(), engine.connect() as c, import_cache(c):
            driver = c.connection.driver_connection
            while True:
                message = _receive(ours)
                if message[0] == "done":
                    return added, message[1]
                _, path, rows, bytes_read = message
                driver.execute(f"ATTACH DATABASE ? AS {_SCHEMA}", (path,))  # type: ignore[union-attr]
                try:
                    with loading_transaction(c, bank_id, name):
                        added += insert_staged(c, bank_id, _SCHEMA, KEY_ORDER)
                finally:
                    driver.execute(f"DETACH DATABASE {_SCHEMA}")  # type: ignore[union-attr]
                    Path(path).unlink(missing_ok=True)
                with contextlib.suppress(OSError):  # the parser may have finished
                    ours.send("next")
                written += rows
                if on_batch is not None:
                    on_batch(written, added, bytes_read)
    finally:
        ours.close()
        if process.is_alive():
            process.terminate()
        process.join(5)
        shutil.rmtree(workdir, ignore_errors=True)


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


def parse_to_staging(job: ParseJob, pipe: Pipe) -> None:
    """The parser process: read ``job.path`` and stage its good rows (see the module doc).

    Sends ``("staged", path, rows, bytes_read)`` per staging file (waiting for a ``"next"``
    when :data:`STAGED_AHEAD` are outstanding), then ``("done", ParseSummary)``, or
    ``("error", class name, message)``. Messages never carry hash values.
    """
    from safehold.banks.formats import open_bank_file
    from safehold.banks.importing import ImportTally
    from safehold.banks.vpdq_sampling import VpdqResampler

    try:
        with open(job.path, "rb") as binary:
            binary.seek(job.offset)
            opened = open_bank_file(binary, **job.open_args)
            seconds = job.vpdq_seconds_per_frame
            resampler = VpdqResampler(seconds) if seconds else None
            tally = ImportTally(job.source, resampler)
            rows = tally.rows(opened.rows)
            outstanding = done = 0
            size = os.fstat(binary.fileno()).st_size - job.offset
            for number in itertools.count():
                read = opened.stream.count
                count = rows_for_next_file(job.batch_rows, done, read, size - read)
                path = os.path.join(job.workdir, f"stage-{number}.sqlite")
                staged = _stage_file(path, batches(islice(rows, count), job.default, CHUNK_ROWS))
                done += staged
                if staged == 0:
                    Path(path).unlink(missing_ok=True)
                    break
                while outstanding >= STAGED_AHEAD:
                    pipe.recv()
                    outstanding -= 1
                pipe.send(("staged", path, staged, opened.stream.count))
                outstanding += 1
        summary = ParseSummary(
            valid=tally.valid, bad=tally.bad, errors=tally.errors, fmt=opened.fmt,
            vics=opened.vics, resampled=resampler.describe() if resampler else None,
        )  # fmt: skip
        pipe.send(("done", summary))
    except BaseException as exc:  # reported to the importing process, which raises it
        message = exc.message if isinstance(exc, SafeholdError) else str(exc)
        with contextlib.suppress(OSError):  # the importing process may have gone
            pipe.send(("error", type(exc).__name__, message))
    finally:
        pipe.close()


def rows_for_next_file(batch_rows: int, rows_done: int, bytes_done: int, bytes_left: int) -> int:
    """Rows for the next staging file: ``batch_rows``, but a fifth of it for the first file
    (the importing process starts sooner) and once the rest of the input looks smaller than
    ``batch_rows`` at the bytes per row so far (it finishes sooner after the parser does)."""
    small = max(1, batch_rows // RAMP_DIVISOR)
    if rows_done == 0 or bytes_done <= 0:
        return small
    return small if bytes_left * rows_done < batch_rows * bytes_done else batch_rows


def _stage_file(path: str, chunks: Any) -> int:
    """Write the parameter batches of ``chunks`` into a new staging file; return the rows."""
    rows = 0
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("BEGIN")
        cursor = connection.cursor()
        for params in chunks:
            stage_sqlite(cursor, params, "main")
            rows += len(params)
        connection.execute("COMMIT")
    finally:
        connection.close()
    return rows
