"""The parser process of a large SQLite import (``banks.parse_process``): reads its parts of a
bank file with the ordinary readers and stages each batch of good rows in an SQLite file.

Started by the importing process as ``python -m safehold.banks.parse_worker FD`` (a fresh
interpreter: nothing of the caller is inherited, and a caller's script is never re-run, as
``multiprocessing``'s spawn would). ``FD`` is the worker's end of a socket pair, spoken
through :class:`multiprocessing.connection.Connection`: the first message is the
:class:`ParseJob`; then the protocol of :func:`parse_to_staging`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

from safehold.banks.bulk_insert import KEY_ORDER, SQLITE_STAGE_TABLE, stage_sqlite
from safehold.banks.bulk_load import CHUNK_ROWS, ROWS_PER_TRANSACTION, batches
from safehold.banks.models import Category
from safehold.banks.parse_parts import FilePart, open_part
from safehold.errors import SafeholdError

#: How much a parser lowers its priority (``os.nice``): with parsers at the importing
#: process's priority, 5M rows on 2 cores took 37 s, the importer waiting 10 s of it.
NICENESS = 10
#: Staging files a parser writes ahead of the importing process.
STAGED_AHEAD = 3
#: The first staging file, and those at the end of the input, hold ``batch_rows //
#: RAMP_DIVISOR`` rows (:func:`rows_for_next_file`): with 500,000-row files, 1M rows took
#: 7.3 s, 2.4 s of them waiting for the first file or the last insert.
RAMP_DIVISOR = 5
#: Page size of a staging file, bytes: SQLite's largest. A staging file is written once in
#: order and read once in order (500,000 rows staged: 1.19 s of CPU at 4 KiB, 0.99 s here).
STAGING_PAGE_SIZE = 65_536
#: Parts of a cut CSV file up to this size are read whole, by a split in C when they hold no
#: quote (``formats.reading.open_csv_bytes``); a part is at most ``parse_parts.PART_BYTES``.
WHOLE_PART_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ParseJob:
    """What one parser process reads and how (picklable): its ``parts`` of the file at
    ``path`` (with their indexes), ``open_bank_file``'s arguments and the importer's options.
    ``last`` is the index of the file's last part."""

    path: str
    parts: list[tuple[int, FilePart]]
    last: int
    workdir: str
    open_args: dict[str, Any]
    default: Category | None
    source: str
    vpdq_seconds_per_frame: float | None
    batch_rows: int = ROWS_PER_TRANSACTION


@dataclass(slots=True)
class ParseSummary:
    """What a parser saw in a part: good and bad rows (the first bad rows kept, with the
    file's line numbers), the format, and the VICS layout (``VicsLayout``) for VICS files."""

    valid: int = 0
    bad: int = 0
    errors: list[Any] = field(default_factory=list)
    fmt: str | None = None
    vics: Any = None
    resampled: str | None = None

    def add(self, other: ParseSummary, max_errors: int) -> None:
        """Add ``other``, a later part's summary (its errors after this one's)."""
        self.valid += other.valid
        self.bad += other.bad
        self.errors = (self.errors + other.errors)[:max_errors]
        self.fmt = self.fmt or other.fmt
        if self.vics is not None and other.vics is not None:  # parts of one VICS file
            self.vics.skipped_photodna += other.vics.skipped_photodna
        self.vics = self.vics or other.vics
        self.resampled = self.resampled or other.resampled


def parse_to_staging(job: ParseJob, pipe: Pipe) -> None:
    """A parser process: read ``job``'s parts of the file and stage their good rows (module
    doc).

    Sends ``("staged", part, path, rows, bytes_read)`` per staging file (waiting for a
    ``"next"`` while :data:`STAGED_AHEAD` are outstanding) and ``("part", part,
    ParseSummary)`` at the end of each part, or ``("error", class name, message)``. Messages
    never carry hash values.
    """
    try:
        outstanding = 0
        for message in _staged_files(job):
            while outstanding >= STAGED_AHEAD and message[0] == "staged":
                pipe.recv()
                outstanding -= 1
            pipe.send(message)
            outstanding += message[0] == "staged"
    except (EOFError, OSError, ImporterGoneError):  # the importing process has gone: clean up
        shutil.rmtree(job.workdir, ignore_errors=True)
    except BaseException as exc:  # reported to the importing process, which raises it
        text = exc.message if isinstance(exc, SafeholdError) else str(exc)
        try:
            pipe.send(("error", type(exc).__name__, text))
        except OSError:
            shutil.rmtree(job.workdir, ignore_errors=True)
    finally:
        pipe.close()


class ImporterGoneError(Exception):
    """The importing process ended (killed) while this parser worked: its scratch folder is
    this parser's to remove."""


#: The importing process's pid, set when the parser starts (:func:`main`).
_importer: int | None = None


def _check_importer() -> None:
    """Raise :class:`ImporterGoneError` once the importing process is no longer this one's
    parent (it died and this process was re-parented)."""
    if _importer is not None and os.getppid() != _importer:
        raise ImporterGoneError


def _staged_files(job: ParseJob) -> Iterator[tuple[Any, ...]]:
    """The messages of :func:`parse_to_staging`, staging each file before its message."""
    from safehold.banks.formats import open_bank_file
    from safehold.banks.formats.reading import open_csv_bytes
    from safehold.banks.importing import ImportTally, RowError
    from safehold.banks.vpdq_sampling import VpdqResampler

    rows_done = 0
    number = itertools.count()
    for index, part in job.parts:
        size = part.end - part.start
        with open_part(job.path, part) as binary:
            if job.last > 0 and size <= WHOLE_PART_BYTES and job.open_args.get("fmt") == "csv":
                opened = open_csv_bytes(binary.read(), **job.open_args)
            elif part.tail or part.first_item > 1:  # a part of a VICS file
                items = (part.first_item, part.last_item)
                opened = open_bank_file(binary, **job.open_args, vics_items=items)
            else:
                opened = open_bank_file(binary, **job.open_args)
            seconds = job.vpdq_seconds_per_frame
            resampler = VpdqResampler(seconds) if seconds else None
            tally = ImportTally(job.source, resampler)
            rows = tally.rows(opened.rows)
            while True:
                read = _read(opened.stream.count, part)
                if job.last == 0:  # one part: transactions of batch_rows, small first and last
                    count = rows_for_next_file(job.batch_rows, rows_done, read, size - read)
                elif index == 0 and rows_done == 0:  # the importer starts sooner
                    count = max(1, job.batch_rows // RAMP_DIVISOR)
                else:  # a part is one transaction (see PART_BYTES)
                    count = 1 << 62
                path = os.path.join(job.workdir, f"stage-{index}-{next(number)}.sqlite")
                chunks = batches(islice(rows, count), job.default, CHUNK_ROWS)
                staged = _stage_file(path, chunks, sort=job.last > 0)
                if staged == 0:
                    Path(path).unlink(missing_ok=True)
                    break
                rows_done += staged
                yield ("staged", index, path, staged, _read(opened.stream.count, part))
        lines = [RowError(part.file_line(e.line), e.message) for e in tally.errors]
        summary = ParseSummary(
            valid=tally.valid, bad=tally.bad, errors=lines, fmt=opened.fmt, vics=opened.vics,
            resampled=resampler.describe() if resampler else None,
        )  # fmt: skip
        yield ("part", index, summary)


def _read(count: int, part: FilePart) -> int:
    """Bytes of the file read, of ``count`` handed to the reader (head and tail left out)."""
    return max(0, min(count - len(part.head), part.end - part.start))


def rows_for_next_file(batch_rows: int, rows_done: int, bytes_done: int, bytes_left: int) -> int:
    """Rows for the next staging file: ``batch_rows``, but a fifth of it for the first file
    (the importing process starts sooner) and once the rest of the input looks smaller than
    ``batch_rows`` at the bytes per row so far (it finishes sooner after the parser does)."""
    small = max(1, batch_rows // RAMP_DIVISOR)
    if rows_done == 0 or bytes_done <= 0:
        return small
    return small if bytes_left * rows_done < batch_rows * bytes_done else batch_rows


def _stage_file(path: str, chunks: Any, *, sort: bool) -> int:
    """Write the parameter batches of ``chunks`` into a new staging file; return the rows.

    With ``sort`` (several parsers) the file's rows are put in key order here, off the
    importing process, which then reads them in rowid order (``bulk_insert.STAGED_ORDER``):
    5M rows, importer CPU 23.4 -> 16.9 s. With one parser, the parser is the slower side and
    the importer sorts. (Sorting the rows in Python before writing them was no faster: the
    writes then visit the rows' objects in random memory order.)

    Raises:
        ImporterGoneError: the importing process ended meanwhile (checked after each batch).
    """
    rows = 0
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute(f"PRAGMA page_size={STAGING_PAGE_SIZE}")
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("BEGIN")
        cursor = connection.cursor()
        for params in chunks:
            stage_sqlite(cursor, params, "main")
            rows += len(params)
            _check_importer()
        if sort and rows:
            table = f"main.{SQLITE_STAGE_TABLE}"
            connection.execute(f"ALTER TABLE {table} RENAME TO unsorted")
            connection.execute(
                f"CREATE TABLE {table} AS SELECT * FROM main.unsorted ORDER BY {KEY_ORDER}"
            )
            connection.execute("DROP TABLE main.unsorted")
        connection.execute("COMMIT")
    finally:
        connection.close()
    return rows


def main(argv: list[str]) -> int:
    """Run one parser: ``argv[1]`` is the file descriptor of its end of the socket pair.

    The parser lowers its own priority (:data:`NICENESS`): the importing process, which
    moves every row into the bank, is the one the import waits for.
    """
    global _importer
    _importer = os.getppid()
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    pipe = Pipe(int(argv[1]))
    try:
        job = pipe.recv()
    except EOFError:  # the importing process went before sending the job
        return 1
    parse_to_staging(job, pipe)
    return 0


if __name__ == "__main__":
    # Run the module under its own name, so the summaries it pickles name their real class
    # (``safehold.banks.parse_worker.ParseSummary``, not ``__main__.ParseSummary``).
    from safehold.banks.parse_worker import main as run

    sys.exit(run(sys.argv))
