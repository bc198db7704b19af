"""``safehold bank export``: a bank's entries as CSV, a plain list or VICS JSON.

Registered on the ``bank`` command group (through :mod:`safehold.cli.bank_transfer`). Export
checks everything it can before writing a byte, writes a new private file (or stdout), and
removes a partial file when it fails. It is the only command that prints hash values.
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
    canonical_signal_type,
    check_plain_exportable,
    write_csv,
    write_plain,
    write_vics,
)
from safehold.banks.formats.vics import vics_schemes
from safehold.banks.models import BankEntry
from safehold.banks.service import BankService
from safehold.banks.validation import signal_type_class
from safehold.banks.writers import VICS_FIELDS
from safehold.cli.bank_files import PrivateOutput
from safehold.cli.common import (
    count_noun,
    get_bank_service,
    handle_errors,
    silence_stdout,
    stderr_console,
)
from safehold.errors import InvalidInputError

EXPORT_FORMATS = ("csv", "plain", "vics")


class _Writer:
    """Writes entries in one format; ``notes`` says what a VICS file left out."""

    def __init__(self, fmt: str, mixed: bool, variant: str, scheme: str) -> None:
        self.fmt, self.mixed, self.variant, self.scheme = fmt, mixed, variant, scheme
        self.notes: list[str] = []

    def __call__(self, entries: Iterator[BankEntry], out: TextIO) -> int:
        if self.fmt == "csv":
            return write_csv(entries, out)
        if self.fmt == "plain":
            return write_plain(entries, out, include_signal_type=self.mixed)
        report = write_vics(entries, out, scheme=self.scheme, variant=self.variant)
        for signal_type, count in sorted(report.skipped_types.items()):
            self.notes.append(
                f"left out {count_noun(count, f'{signal_type} entry', f'{signal_type} entries')}"
                " (VICS holds MD5, SHA1 and SHA256)"
            )
        if report.other_categories:
            noun = count_noun(report.other_categories, "entry", "entries")
            self.notes.append(
                f"{noun} written without Category: their category is not in {self.scheme}"
            )
        return report.entries


def _variant_scheme(variant: str, scheme: str | None) -> tuple[str, str]:
    variants: dict[str, str] = vics_schemes()["variants"]
    found = next((v for v in variants if v.lower() == variant.strip().lower()), None)
    if found is None:
        raise InvalidInputError(f"unknown VICS variant; use {', '.join(variants)}")
    return found, (scheme.strip().lower() if scheme else variants[found])


def export(
    name: str = typer.Argument(..., help="Bank to export."),
    fmt: str = typer.Option("csv", "--format", help="csv, plain or vics."),
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
    vics_variant: str = typer.Option(
        "US", help="VICS data-model variant written in the file's context (US, DHS, UK, ...)."
    ),
    category_scheme: str | None = typer.Option(
        None,
        help="VICS: the scheme whose codes are written as Category (default: the variant's, "
        "vics-us for US).",
    ),
) -> None:
    """Write a bank's entries as CSV, a plain list or VICS JSON (this prints hash values)."""
    with handle_errors():
        fmt = fmt.strip().lower() or "csv"
        if fmt not in EXPORT_FORMATS:
            raise InvalidInputError(f"unknown format {fmt!r}; use {', '.join(EXPORT_FORMATS)}")
        variant, scheme = _variant_scheme(vics_variant, category_scheme)
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
        if fmt == "vics" and types and not types & VICS_FIELDS.keys():
            raise InvalidInputError(
                "a VICS file holds MD5, SHA1 and SHA256 values; the bank has none of them"
            )
        write = _Writer(fmt, len(wanted) != 1 and len(types) > 1, variant, scheme)
        entries = _entries(
            service, summary.bank.name, wanted, include_disabled, media=fmt == "vics"
        )
        if output is not None:
            with PrivateOutput(output, force=force) as out:
                count = write(entries, out)
        else:
            try:
                count = write(entries, sys.stdout)
                sys.stdout.flush()
            except OSError as exc:
                if exc.errno != errno.EPIPE:
                    silence_stdout()  # the exit flush would fail again
                    raise OSError(exc.errno, exc.strerror, "standard output") from None
                raise
        console = stderr_console()
        noun = count_noun(count, "entry", "entries")
        console.print(f"exported {noun} from {summary.bank.name}", markup=False)
        for note in write.notes:
            console.print(f"  {note}", markup=False)


def _entries(
    service: BankService, bank: str, wanted: list[str], include_disabled: bool, media: bool
) -> Iterator[BankEntry]:
    """Every entry (``wanted`` empty; with ``media``, a VICS media item's entries together)
    or those of each wanted signal type, type by type."""
    if not wanted:
        yield from service.iter_entries(
            bank, signal_type=None, include_disabled=include_disabled, media_order=media
        )
        return
    for signal_type in wanted:
        yield from service.iter_entries(
            bank, signal_type=signal_type, include_disabled=include_disabled
        )
