"""Bulk import of a bank file from a byte stream, with a per-row report: the service side of
``POST /v1/banks/{bank_name}/import``.

The stream is read line by line through :class:`~safehold.banks.lines.DecodedLines` (strict
UTF-8, bounded lines) and the streaming readers of :mod:`safehold.banks.formats`; good rows go
to :meth:`BankService.add_entries` in batches, bad rows are counted and the first
:data:`MAX_ROW_ERRORS` kept. Memory does not grow with the file: millions of rows are fine.
Blocking: callers in an event loop run it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

from safehold.banks.formats import (
    API_OPTIONS,
    FORMATS,
    OptionNames,
    ReadItem,
    read_bank_file,
    sniff_format,
)
from safehold.banks.lines import CSV_LINE_LIMIT, PLAIN_LINE_LIMIT, DecodedLines
from safehold.banks.models import Category, NewEntry
from safehold.banks.vpdq_sampling import VpdqResampler
from safehold.errors import FormatError, InvalidInputError

if TYPE_CHECKING:
    from safehold.banks.service import BankService

#: Bad rows listed in a report (all are counted).
MAX_ROW_ERRORS = 100
#: Lines read ahead to tell a CSV file (header row) from a plain list.
SNIFF_LINES = 64


@dataclass(frozen=True, slots=True)
class RowError:
    """One bad row: its 1-based line (None when unknown) and why, never its values."""

    line: int | None
    message: str


@dataclass(slots=True)
class ImportReport:
    """What an import did.

    Attributes:
        added: entries stored.
        duplicates: good rows already in the bank (or repeated in the file), skipped.
        errors: the first :data:`MAX_ROW_ERRORS` bad rows, in file order.
        error_count: all bad rows.
        resampled: how vPDQ entries were thinned to the scanner's sampling, or None.
    """

    added: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    resampled: str | None = None


class _Tally:
    """Passes good entries through; counts them and keeps the first bad rows."""

    def __init__(self) -> None:
        self.valid = 0
        self.bad = 0
        self.errors: list[RowError] = []

    def entries(self, items: Iterable[ReadItem]) -> Iterator[NewEntry]:
        for item in items:
            if isinstance(item, FormatError):
                self.bad += 1
                if len(self.errors) < MAX_ROW_ERRORS:
                    self.errors.append(_row_error(item))
            else:
                self.valid += 1
                yield item


def _row_error(error: FormatError) -> RowError:
    prefix = f"line {error.line}: "
    message = error.message.removeprefix(prefix) if error.line is not None else error.message
    return RowError(error.line, message)


def import_bank_file(
    service: BankService,
    bank_name: str,
    binary: BinaryIO,
    *,
    fmt: str | None = None,
    signal_type: str | None = None,
    category: Category | None = None,
    source: str = "",
    vpdq_seconds_per_frame: float | None = None,
    name: str = "the upload",
    options: OptionNames = API_OPTIONS,
) -> ImportReport:
    """Import the bank file in ``binary`` into bank ``bank_name``.

    Args:
        fmt: ``"csv"`` or ``"plain"``; None sniffs it (a CSV header row naming a hash column
            in the first lines means CSV, as ``safehold bank import`` does).
        signal_type, category, source: for rows that do not carry their own (rows without
            a category then get the bank's).
        vpdq_seconds_per_frame: thin vPDQ entries to this sampling interval (the scanner's,
            ``Settings.vpdq_seconds_per_frame``); None keeps them as given.
        name: what messages call the stream.
        options: how messages name the caller's options (the API's query parameters).

    Raises:
        NotFoundError: no such bank (checked before anything is read).
        InvalidInputError: unknown format, a UTF-16/UTF-32 stream, vPDQ in a plain list.
        InvalidSignalError: unknown ``signal_type``.
        StorageError: the database failed (batches before the failure stay committed).
    """
    if fmt is not None and fmt not in FORMATS:
        raise InvalidInputError(f"unknown bank file format; use {' or '.join(FORMATS)}")
    bank = service.get_bank(bank_name)
    limit = CSV_LINE_LIMIT if fmt == "csv" else PLAIN_LINE_LIMIT
    lines = DecodedLines(binary, name=name, max_line_bytes=limit)
    if fmt is None:
        fmt = sniff_format(lines.head(SNIFF_LINES))
        if fmt == "csv":
            lines.max_line_bytes = CSV_LINE_LIMIT
    resampler = VpdqResampler(vpdq_seconds_per_frame) if vpdq_seconds_per_frame else None
    items = read_bank_file(
        lines,
        fmt,
        signal_type=signal_type,
        category=category,
        source=source,
        resampler=resampler,
        options=options,
    )
    tally = _Tally()
    added = service.add_entries(bank.name, tally.entries(items), validated=True)
    return ImportReport(
        added=added,
        duplicates=tally.valid - added,
        errors=tally.errors,
        error_count=tally.bad,
        resampled=resampler.describe() if resampler is not None else None,
    )
