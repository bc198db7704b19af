"""``safehold bank import`` and ``safehold bank export``: hash lists in and out of a bank.

Registered on the ``bank`` command group by :mod:`safehold.cli.bank`. Import streams the file
(strict UTF-8, bounded lines, bad rows reported by line number and skipped); export checks
everything it can before writing a byte, writes a new private file (or stdout), and removes a
partial file when it fails. Only export prints hash values.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import typer

from safehold.banks.formats import (
    FORMATS,
    canonical_signal_type,
    check_plain_exportable,
    read_bank_file,
    sniff_format,
    write_csv,
    write_plain,
)
from safehold.banks.lines import CSV_LINE_LIMIT, PLAIN_LINE_LIMIT
from safehold.banks.models import BankEntry, Category
from safehold.banks.service import BankService
from safehold.banks.validation import signal_type_class
from safehold.banks.vpdq_sampling import VpdqResampler
from safehold.cli.bank_files import ImportTally, PrivateOutput, open_input, progress_bar
from safehold.cli.common import (
    count_noun,
    display_path,
    get_bank_service,
    handle_errors,
    load_settings,
    silence_stdout,
    stderr_console,
)
from safehold.errors import InvalidInputError, SafeholdError
from safehold.signals.content import SNIFF_BYTES, sniff

#: Exit status of ``import`` when no row could be read (documented in docs/banks.md).
EXIT_NOTHING_READ = 1
#: Lines read ahead to tell a CSV file (header row) from a plain list.
SNIFF_LINES = 64


def _check_format(fmt: str) -> str:
    fmt = fmt.strip().lower()
    if fmt and fmt not in FORMATS:
        raise InvalidInputError(f"unknown format {fmt!r}; use csv or plain")
    return fmt


def import_(
    name: str = typer.Argument(..., help="Bank to add the entries to."),
    file: str = typer.Argument(..., help="Bank file to read ('-' for stdin)."),
    fmt: str = typer.Option(
        "",
        "--format",
        help="csv or plain (default: csv for *.csv files and for input starting with a CSV "
        "header row, else plain).",
    ),
    signal_type: str | None = typer.Option(
        None, help="Signal type of rows that do not name one, e.g. pdq."
    ),
    category: str | None = typer.Option(
        None, help="Category scheme:code for rows without one, e.g. ncmec-industry:A1."
    ),
    source: str = typer.Option("", help="Source for rows without one."),
) -> None:
    """Import a hash list; bad rows are reported with line numbers and skipped."""
    console = stderr_console()
    tally = ImportTally()
    shown = "standard input" if file == "-" else display_path(file, markup=False)
    with handle_errors():
        fmt = _check_format(fmt)
        if not fmt and file.lower().endswith(".csv"):
            fmt = "csv"
        service = get_bank_service()
        bank = service.get_bank(name)
        resampler = VpdqResampler(load_settings().vpdq_seconds_per_frame)
        cat = Category.parse(category) if category else None
        limit = CSV_LINE_LIMIT if fmt == "csv" else PLAIN_LINE_LIMIT
        if file != "-":
            _refuse_media(file, shown, bank.name)
        lines, size = open_input(file, name=shown, max_line_bytes=limit)
        try:
            if not fmt:
                fmt = sniff_format(lines.head(SNIFF_LINES))
                if fmt == "csv":
                    console.print(f"note: {shown} starts with a CSV header; reading it as CSV",
                                  markup=False)  # fmt: skip
                    lines.max_line_bytes = CSV_LINE_LIMIT
            items = read_bank_file(
                lines,
                fmt,
                signal_type=signal_type,
                category=cat,
                source=source,
                resampler=resampler,
            )
            with progress_bar(console) as progress:
                task = progress.add_task(f"importing into {bank.name}", total=size, rows="")

                def tick(rows: int) -> None:
                    done = lines.binary.tell() if size is not None else rows
                    progress.update(task, completed=done, rows=count_noun(rows, "row"))

                added = service.add_entries(bank.name, tally.entries(items, tick), validated=True)
        finally:
            if file != "-":
                lines.binary.close()
    console.print(
        f"{bank.name}: {added:,} added, {count_noun(tally.valid - added, 'duplicate')} skipped, "
        f"{count_noun(tally.bad, 'bad row')}",
        markup=False,
    )
    resampled = resampler.describe()
    if resampled:
        console.print(f"  {resampled}", markup=False)
    for error in tally.errors:
        console.print(f"  {error.message}", markup=False)
    if tally.bad > len(tally.errors):
        console.print(f"  ... and {count_noun(tally.bad - len(tally.errors), 'more bad row')}",
                      markup=False)  # fmt: skip
    if tally.valid == 0:
        console.print(f"error: nothing could be read from {shown}", markup=False)
        raise typer.Exit(EXIT_NOTHING_READ)


def _refuse_media(path: str, shown: str, bank: str) -> None:
    """Refuse a photo or video given to ``import`` (it reads hash lists): point to add-media.

    Only a regular file is looked at (reading a FIFO would consume its data); one that cannot
    be read is left to :func:`open_input` to report.

    Raises:
        InvalidInputError: the first bytes are those of a format ``add-media`` hashes.
    """
    if not os.path.isfile(path):
        return
    try:
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError:
        return
    try:
        content_type, name = sniff(head)
    except SafeholdError:
        return
    raise InvalidInputError(
        f"{shown} looks like a {content_type.value} ({name}), not a hash list; to add the "
        f"hashes of media files use `safehold bank add-media {bank} FILE...`"
    )


def _write(entries: Iterator[BankEntry], out: TextIO, fmt: str, mixed: bool) -> int:
    if fmt == "csv":
        return write_csv(entries, out)
    return write_plain(entries, out, include_signal_type=mixed)


def export(
    name: str = typer.Argument(..., help="Bank to export."),
    fmt: str = typer.Option("csv", "--format", help="csv or plain."),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="New regular file to write, mode 0600 (default or '-': stdout); see --force. "
        "Links, devices and FIFOs are refused.",
    ),
    force: bool = typer.Option(
        False, "--force", help="Replace an existing --output file (never a link or device)."
    ),
    signal_types: list[str] = typer.Option(
        [],
        "--signal-type",
        "-t",
        metavar="TYPE",
        help="Only entries of this signal type (repeatable: every type given).",
    ),
    include_disabled: bool = typer.Option(False, help="Also export disabled entries."),
) -> None:
    """Write a bank's entries as CSV or a plain list (this prints hash values)."""
    with handle_errors():
        fmt = _check_format(fmt) or "csv"
        wanted: list[str] = []
        for value in signal_types:
            canonical = canonical_signal_type(value)
            signal_type_class(canonical)
            if canonical not in wanted:
                wanted.append(canonical)
        if output is not None and os.fspath(output) == "-":
            output = None
        service = get_bank_service()
        summary = service.summarize_bank(name)
        types = {
            c.signal_type
            for c in summary.counts
            if (c.enabled or (include_disabled and c.disabled))
            and (not wanted or c.signal_type in wanted)
        }
        if fmt == "plain":
            check_plain_exportable(types)  # before a single byte is written
        mixed = len(wanted) != 1 and len(types) > 1
        entries = _entries(service, summary.bank.name, wanted, include_disabled)
        if output is not None:
            with PrivateOutput(output, force=force) as out:
                count = _write(entries, out, fmt, mixed)
        else:
            try:
                count = _write(entries, sys.stdout, fmt, mixed)
                sys.stdout.flush()
            except OSError as exc:
                if exc.errno != errno.EPIPE:
                    silence_stdout()  # the exit flush would fail again
                    raise OSError(exc.errno, exc.strerror, "standard output") from None
                raise
        noun = count_noun(count, "entry", "entries")
        stderr_console().print(f"exported {noun} from {summary.bank.name}", markup=False)


def _entries(
    service: BankService, bank: str, wanted: list[str], include_disabled: bool
) -> Iterator[BankEntry]:
    """Every entry (``wanted`` empty) or those of each wanted signal type, type by type."""
    if not wanted:
        yield from service.iter_entries(bank, signal_type=None, include_disabled=include_disabled)
        return
    for signal_type in wanted:
        yield from service.iter_entries(
            bank, signal_type=signal_type, include_disabled=include_disabled
        )
