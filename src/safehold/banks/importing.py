"""Bulk import into a bank with a per-row report: files, uploads and exchange downloads.

Two entry points share one path:

* :func:`import_bank_file` reads a byte stream in any bank file format (``banks.formats``:
  detected or named) - the CLI's ``safehold bank import`` and ``POST
  /v1/banks/{bank_name}/import``;
* :func:`import_items` takes rows already read (``NewEntry`` objects, :data:`Row` tuples or
  ``FormatError`` items) with their provenance: what exchanges call after a fetch.

Bad rows are counted and the first :data:`MAX_ROW_ERRORS` kept, never stopping the import;
good rows go to the bulk loader (``banks.bulk_load``) in large transactions while the next
batch is read. Memory does not grow with the input: millions of rows are fine. Blocking:
callers in an event loop run it in a worker thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from safehold.banks.bulk_load import ROWS_PER_TRANSACTION, load_rows
from safehold.banks.formats import API_OPTIONS, FORMATS, OptionNames, Row, open_bank_file
from safehold.banks.formats.vics import VicsLayout
from safehold.banks.models import Category, NewEntry
from safehold.banks.parse_process import load_with_parsers, regular_file_path
from safehold.banks.validation import EntryValidator, validate_category, validate_text
from safehold.banks.vpdq_sampling import VpdqResampler
from safehold.errors import FormatError, InvalidInputError, SafeholdError
from safehold.storage.tables import SOURCE_LENGTH

if TYPE_CHECKING:
    from safehold.banks.service import BankService

#: Bad rows listed in a report (all are counted).
MAX_ROW_ERRORS = 100

ImportItem = NewEntry | Row | FormatError


@dataclass(frozen=True, slots=True)
class RowError:
    """One bad row: its 1-based line (None when unknown) and why, never its values."""

    line: int | None
    message: str


@dataclass(frozen=True, slots=True)
class ImportProgress:
    """Where an import stands, handed to a progress callback after each committed batch.

    Attributes:
        rows: good rows written so far (stored or found to be duplicates).
        added: entries stored so far.
        bytes_read: bytes of the input read so far, a batch or two ahead of ``rows`` (None
            for :func:`import_items`).
        seconds: time since the import started.
    """

    rows: int
    added: int
    bytes_read: int | None
    seconds: float


@dataclass(slots=True)
class ImportReport:
    """What an import did.

    Attributes:
        added: entries stored.
        duplicates: good rows already in the bank (or repeated in the input), skipped.
        errors: the first :data:`MAX_ROW_ERRORS` bad rows, in input order.
        error_count: all bad rows.
        resampled: how vPDQ entries were thinned to the scanner's sampling, or None.
        fmt: the format read (for files), e.g. ``"vics"``.
        notes: other things worth telling (PhotoDNA values skipped, the VICS scheme used).
        seconds: how long it took.
    """

    added: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    resampled: str | None = None
    fmt: str | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


class ImportTally:
    """Passes good rows through as tuples (``rows``); counts good (``valid``) and bad
    (``bad``) rows and keeps the first :data:`MAX_ROW_ERRORS` bad ones (``errors``).

    ``source`` fills rows without their own; ``resampler`` thins vPDQ rows.
    """

    def __init__(self, source: str, resampler: VpdqResampler | None) -> None:
        self.valid = 0
        self.bad = 0
        self.errors: list[RowError] = []
        self.source = source
        self.resampler = resampler
        self.validator = EntryValidator()

    def rows(self, items: Iterable[ImportItem]) -> Iterator[Row]:
        for item in items:
            if isinstance(item, tuple):
                row = item
            elif isinstance(item, FormatError):
                self._bad(item)
                continue
            else:
                try:
                    entry = self.validator.validate(item)
                except SafeholdError as exc:
                    self._bad(FormatError(exc.message))
                    continue
                row = (entry.signal_type, entry.value, entry.quality, entry.category,
                       entry.source or self.source, entry.note)  # fmt: skip
            if self.resampler is not None and row[0] == "vpdq":
                e = self.resampler.entry(NewEntry(*row))
                row = (e.signal_type, e.value, e.quality, e.category, e.source, e.note)
            self.valid += 1
            yield row

    def _bad(self, error: FormatError) -> None:
        self.bad += 1
        if len(self.errors) < MAX_ROW_ERRORS:
            self.errors.append(row_error(error))


def row_error(error: FormatError) -> RowError:
    """The :class:`RowError` of a reader's :class:`FormatError` (message without ``line N:``)."""
    prefix = f"line {error.line}: "
    message = error.message.removeprefix(prefix) if error.line is not None else error.message
    return RowError(error.line, message)


def import_items(
    service: BankService,
    bank_name: str,
    items: Iterable[ImportItem],
    *,
    source: str = "",
    vpdq_seconds_per_frame: float | None = None,
    progress: Callable[[ImportProgress], None] | None = None,
    batch_rows: int = ROWS_PER_TRANSACTION,
    _bytes_read: Callable[[], int] | None = None,
) -> ImportReport:
    """Import rows into bank ``bank_name``: the API exchanges use after a fetch.

    Args:
        items: ``NewEntry`` objects (validated here), :data:`~safehold.banks.formats.Row`
            tuples from the ``banks.formats`` readers (already validated), or ``FormatError``
            items (bad rows, counted and reported). Consumed once, lazily, on a reader thread.
        source: provenance: the source of entries whose own ``source`` is empty (e.g. the
            exchange's name).
        vpdq_seconds_per_frame: thin vPDQ entries to this sampling interval (the scanner's);
            None keeps them as given.
        progress: called after each committed batch with an :class:`ImportProgress`.
        batch_rows: rows per transaction (an interrupted import keeps the batches before).

    Raises:
        NotFoundError: no such bank (checked before anything is read).
        InvalidInputError: ``source`` too long or holding a NUL character.
        StorageError: the database failed (batches before the failure stay committed).
    """
    validate_text("source", source, SOURCE_LENGTH)
    started = time.monotonic()
    service.get_bank(bank_name)
    resampler = VpdqResampler(vpdq_seconds_per_frame) if vpdq_seconds_per_frame else None
    tally = ImportTally(source, resampler)

    def on_batch(written: int, added: int) -> None:
        if progress is not None:
            done = _bytes_read() if _bytes_read is not None else None
            progress(ImportProgress(written, added, done, time.monotonic() - started))

    added = load_rows(
        service.engine, bank_name, tally.rows(items), batch_rows=batch_rows, on_batch=on_batch
    )
    return ImportReport(
        added=added,
        duplicates=tally.valid - added,
        errors=tally.errors,
        error_count=tally.bad,
        resampled=resampler.describe() if resampler is not None else None,
        seconds=time.monotonic() - started,
    )


def import_bank_file(
    service: BankService,
    bank_name: str,
    binary: BinaryIO,
    *,
    fmt: str | None = None,
    signal_type: str | None = None,
    category: Category | None = None,
    source: str = "",
    category_scheme: str | None = None,
    vpdq_seconds_per_frame: float | None = None,
    name: str = "the upload",
    options: OptionNames = API_OPTIONS,
    progress: Callable[[ImportProgress], None] | None = None,
    batch_rows: int = ROWS_PER_TRANSACTION,
) -> ImportReport:
    """Import the bank file in ``binary`` into bank ``bank_name``.

    Args:
        fmt: one of :data:`~safehold.banks.formats.FORMATS` (``csv``, ``plain``, ``iwf``,
            ``vics``); None detects it (``banks.formats.reading``).
        signal_type, category, source: for rows that do not carry their own (rows without
            a category then get the bank's).
        category_scheme: the scheme of bare category codes (VICS: instead of the one the
            file's variant names; IWF-style: instead of ``iwf``).
        vpdq_seconds_per_frame: thin vPDQ entries to this sampling interval (the scanner's,
            ``Settings.vpdq_seconds_per_frame``); None keeps them as given.
        name: what messages call the stream.
        options: how messages name the caller's options (the API's query parameters).
        progress: called after each committed batch (``bytes_read`` counts the input).

    Raises:
        NotFoundError: no such bank (checked before anything is read).
        InvalidInputError: unknown format, a UTF-16/UTF-32 stream, vPDQ in a plain list, a
            bad ``category_scheme``.
        InvalidSignalError: unknown ``signal_type``.
        StorageError: the database failed (batches before the failure stay committed).
    """
    if fmt is not None and fmt not in FORMATS:
        raise InvalidInputError(f"unknown bank file format; use {', '.join(FORMATS)}")
    if category_scheme is not None:
        category_scheme = category_scheme.strip().lower() or None
    if category_scheme is not None:
        if ":" in category_scheme:
            raise InvalidInputError("a category scheme cannot contain ':' (e.g. vics-dhs)")
        validate_category(Category(category_scheme, "x"))
    validate_text("source", source, SOURCE_LENGTH)
    service.get_bank(bank_name)
    open_args: dict[str, Any] = dict(
        fmt=fmt, name=name, signal_type=signal_type, category=category, source=source,
        category_scheme=category_scheme, options=options,
    )  # fmt: skip
    path = regular_file_path(binary) if service.engine.dialect.name == "sqlite" else None
    if path is not None:
        return _import_with_parser(
            service, bank_name, path, binary.tell(), open_args, source=source,
            vpdq_seconds_per_frame=vpdq_seconds_per_frame, progress=progress,
            batch_rows=batch_rows,
        )  # fmt: skip
    opened = open_bank_file(binary, **open_args)
    report = import_items(
        service, bank_name, opened.rows, source=source,
        vpdq_seconds_per_frame=vpdq_seconds_per_frame, progress=progress,
        batch_rows=batch_rows, _bytes_read=lambda: opened.stream.count,
    )  # fmt: skip
    report.fmt = opened.fmt
    report.notes.extend(_vics_notes(opened.vics, report.added + report.duplicates))
    return report


def _import_with_parser(
    service: BankService,
    bank_name: str,
    path: str,
    offset: int,
    open_args: dict[str, Any],
    *,
    source: str,
    vpdq_seconds_per_frame: float | None,
    progress: Callable[[ImportProgress], None] | None,
    batch_rows: int,
) -> ImportReport:
    """:func:`import_bank_file` for a large regular file into SQLite, read by a parser
    process (``banks.parse_process``)."""
    started = time.monotonic()

    def on_batch(written: int, added: int, bytes_read: int) -> None:
        if progress is not None:
            progress(ImportProgress(written, added, bytes_read, time.monotonic() - started))

    job_args = dict(
        path=path, offset=offset, open_args=open_args, source=source,
        vpdq_seconds_per_frame=vpdq_seconds_per_frame, batch_rows=batch_rows,
    )  # fmt: skip
    added, summary = load_with_parsers(service.engine, bank_name, job_args, on_batch=on_batch)
    return ImportReport(
        added=added, duplicates=summary.valid - added, errors=summary.errors,
        error_count=summary.bad, resampled=summary.resampled, fmt=summary.fmt,
        notes=_vics_notes(summary.vics, summary.valid), seconds=time.monotonic() - started,
    )  # fmt: skip


def _vics_notes(vics: VicsLayout | None, valid: int) -> list[str]:
    """What a report says about a VICS file: the scheme its ``valid`` rows were kept in (no
    note when none was read: a CSV file named ``--format vics`` is not a VICS file), PhotoDNA
    values skipped."""
    if vics is None:
        return []
    notes = [f"VICS categories kept in the scheme {vics.scheme}"] if valid else []
    if vics.skipped_photodna:
        n = vics.skipped_photodna
        notes.append(
            f"{n:,} PhotoDNA value{'' if n == 1 else 's'} skipped "
            "(Safehold does not compute PhotoDNA)"
        )
    return notes
