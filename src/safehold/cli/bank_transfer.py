"""``safehold bank import`` (and, re-exported from :mod:`safehold.cli.bank_export`, ``export``).

Registered on the ``bank`` command group by :mod:`safehold.cli.bank`. Import streams the file in
any bank file format (csv, plain, iwf, vics; detected or named), strict UTF-8 and bounded lines
for text, bad rows reported by line number (VICS: by media item) and skipped, with a progress
bar that follows the bytes read.
"""

from __future__ import annotations

import os

import typer
from rich.console import Console

from safehold.banks.formats import CLI_OPTIONS, FORMATS
from safehold.banks.formats.reading import HEAD_BYTES, csv_file_format
from safehold.banks.importing import ImportProgress, ImportReport, import_bank_file
from safehold.banks.models import Category
from safehold.cli.bank_export import export
from safehold.cli.bank_files import open_binary, progress_bar
from safehold.cli.common import (
    count_noun,
    display_path,
    display_text,
    get_bank_service,
    handle_errors,
    load_settings,
    stderr_console,
)
from safehold.errors import InvalidInputError, SafeholdError
from safehold.signals.content import SNIFF_BYTES, sniff

#: Exit status of ``import`` when no row could be read (documented in docs/banks.md).
EXIT_NOTHING_READ = 1
#: Bad rows listed by ``import`` (all are counted).
MAX_ERRORS_SHOWN = 20

__all__ = ["EXIT_NOTHING_READ", "export", "import_"]


def _check_format(fmt: str, allowed: tuple[str, ...] = FORMATS) -> str:
    fmt = fmt.strip().lower()
    if fmt and fmt not in allowed:
        raise InvalidInputError(f"unknown format {fmt!r}; use {', '.join(allowed)}")
    return fmt


_DETECTED = {
    "csv": "starts with a CSV header or row; reading it as CSV",
    "iwf": "starts with a header of hash columns; reading it as an IWF-style list",
    "vics": "is a VICS JSON file; reading it as VICS",
}


def import_(
    name: str = typer.Argument(..., help="Bank to add the entries to."),
    file: str = typer.Argument(..., help="Bank file to read ('-' for stdin)."),
    fmt: str = typer.Option(
        "",
        "--format",
        help="csv, plain, iwf or vics (default: csv for *.csv files, vics for JSON with a VICS "
        "context, iwf for a header of hash columns, csv for a CSV header row, else plain).",
    ),
    signal_type: str | None = typer.Option(
        None, help="Signal type of rows that do not name one, e.g. pdq."
    ),
    category: str | None = typer.Option(
        None, help="Category scheme:code for rows without one, e.g. ncmec-industry:A1."
    ),
    category_scheme: str | None = typer.Option(
        None,
        help="Scheme of bare category codes: VICS files (instead of the one their data-model "
        "variant names, e.g. vics-dhs for older DHS-coded files) and IWF-style lists "
        "(default iwf).",
    ),
    source: str = typer.Option("", help="Source for rows without one."),
) -> None:
    """Import a hash list; bad rows are reported with line numbers and skipped."""
    console = stderr_console()
    shown = "standard input" if file == "-" else display_path(file, markup=False)
    with handle_errors():
        fmt = _check_format(fmt)
        if not fmt and file.lower().endswith(".csv"):
            fmt = _csv_named_format(file)
        service = get_bank_service()
        bank = service.get_bank(name)
        cat = Category.parse(category) if category else None
        if file != "-":
            _refuse_media(file, shown, bank.name)
        binary, size = open_binary(file)
        try:
            committed: list[ImportProgress] = []
            with progress_bar(console) as progress:
                task = progress.add_task(f"importing into {bank.name}", total=size, rows="")

                def tick(state: ImportProgress) -> None:
                    committed[:] = [state]
                    done = state.bytes_read if size is not None else state.rows
                    progress.update(task, completed=done, rows=count_noun(state.rows, "row"))

                try:
                    report = import_bank_file(
                        service, bank.name, binary, fmt=fmt or None, signal_type=signal_type,
                        category=cat, source=source, category_scheme=category_scheme,
                        vpdq_seconds_per_frame=load_settings().vpdq_seconds_per_frame,
                        name=shown, options=CLI_OPTIONS, progress=tick,
                    )  # fmt: skip
                except (KeyboardInterrupt, SystemExit):  # Ctrl-C, SIGTERM (exit 130, 143)
                    progress.stop()
                    _print_interrupted(console, bank.name, committed)
                    raise
        finally:
            if file != "-":
                binary.close()
    _print_report(console, bank.name, shown, report, detected=not fmt)


def _print_interrupted(console: Console, bank: str, committed: list[ImportProgress]) -> None:
    """What an interrupted import kept: its committed transactions (none when empty)."""
    if committed:
        state = committed[0]
        kept = f"the first {count_noun(state.rows, 'row')} ({state.added:,} added) are kept"
    else:
        kept = "nothing was added"
    console.print(
        f"interrupted: {kept} in {bank}; run the same import again to add the rest "
        "(entries already there are skipped as duplicates)",
        markup=False,
    )


def _print_report(
    console: Console, bank: str, shown: str, report: ImportReport, *, detected: bool
) -> None:
    """The import summary on stderr; exit status 1 when no row could be read."""
    if detected and report.fmt in _DETECTED:
        console.print(f"note: {shown} {_DETECTED[report.fmt]}", markup=False)
    console.print(
        f"{bank}: {report.added:,} added, {count_noun(report.duplicates, 'duplicate')} "
        f"skipped, {count_noun(report.error_count, 'bad row')}",
        markup=False,
    )
    for line in ([report.resampled] if report.resampled else []) + report.notes:
        console.print(f"  {line}", markup=False)
    shown_errors = report.errors[:MAX_ERRORS_SHOWN]
    for error in shown_errors:
        where = f"line {error.line}: " if error.line is not None else ""
        console.print(f"  {where}{display_text(error.message, markup=False)}", markup=False)
    if report.error_count > len(shown_errors):
        more = count_noun(report.error_count - len(shown_errors), "more bad row")
        console.print(f"  ... and {more}", markup=False)
    if report.added + report.duplicates == 0:
        console.print(f"error: nothing could be read from {shown}", markup=False)
        raise typer.Exit(EXIT_NOTHING_READ)


def _csv_named_format(path: str) -> str:
    """The format of a ``*.csv`` file: ``iwf`` for a header of hash-type columns, else ``csv``
    (:func:`~safehold.banks.formats.reading.csv_file_format`; VICS JSON stays detected)."""
    if not os.path.isfile(path):
        return "csv"  # a FIFO is read once, by the import
    try:
        with open(path, "rb") as f:
            head = f.read(HEAD_BYTES)
    except OSError:
        return "csv"  # open_binary reports it
    return csv_file_format(head) or ""


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
