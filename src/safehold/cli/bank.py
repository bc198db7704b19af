"""``safehold bank``: create banks, import and export hash lists, add media, enable/disable.

Tables (``list``, ``show``) go to stdout; progress bars and import summaries go to stderr.
Only ``export`` writes hash values (to stdout, or to ``--output``, created readable by its owner
only): hash lists are confidential. Failures print ``error: <message>`` and exit with status 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from safehold.banks.formats import FORMATS, read_bank_file, write_csv, write_plain
from safehold.banks.media import MediaHasher, iter_media_files
from safehold.banks.models import Category, NewEntry
from safehold.cli.bank_files import ImportTally, open_input, open_private_output, progress_bar
from safehold.cli.common import get_bank_service, handle_errors, stderr_console
from safehold.errors import InvalidInputError, NotFoundError
from safehold.settings import get_settings

app = typer.Typer(help="Manage banks: named hash lists.", no_args_is_help=True)

EXIT_NOTHING_READ = 1


def parse_threshold_options(values: list[str]) -> dict[str, int]:
    """Parse repeated ``TYPE=N`` options, e.g. ``pdq=24``, into ``{type: n}``.

    Raises:
        InvalidInputError: a value is not ``name=integer``.
    """
    out: dict[str, int] = {}
    for value in values:
        name, sep, number = value.partition("=")
        if not sep or not name.strip() or not number.strip().isdigit():
            raise InvalidInputError(f"threshold {value!r} must be written TYPE=N, e.g. pdq=24")
        out[name.strip().lower()] = int(number)
    return out


def _category(text: str | None) -> Category | None:
    return Category.parse(text) if text else None


def _thresholds_text(thresholds: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(thresholds.items())) or "defaults"


@app.command("create")
def create(
    name: str = typer.Argument(..., help="Bank name: letters, digits, '.', '_', '-'."),
    description: str = typer.Option("", help="What the list is."),
    source: str = typer.Option("", help="Who supplies the list, e.g. ncmec or local."),
    threshold: list[str] = typer.Option(
        [], "--threshold", help="Distance threshold for a signal type, e.g. pdq=24 (repeatable)."
    ),
) -> None:
    """Create an empty bank."""
    with handle_errors():
        bank = get_bank_service().create_bank(
            name,
            description=description,
            source=source,
            thresholds=parse_threshold_options(threshold),
        )
    typer.echo(f"created bank {bank.name} (thresholds: {_thresholds_text(bank.thresholds)})")


@app.command("list")
def list_banks() -> None:
    """List banks with their entry counts."""
    with handle_errors():
        banks = get_bank_service().list_banks()
    if not banks:
        typer.echo("no banks yet; create one with `safehold bank create NAME`")
        return
    table = Table(title="Banks")
    for column in ("name", "enabled", "entries", "source", "thresholds", "created (UTC)"):
        table.add_column(column, justify="right" if column == "entries" else "left")
    for b in banks:
        table.add_row(
            b.name,
            "yes" if b.enabled else "no",
            f"{b.entry_count:,}",
            b.source,
            _thresholds_text(b.thresholds),
            b.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    Console().print(table)


@app.command("show")
def show(name: str = typer.Argument(..., help="Bank name.")) -> None:
    """Show a bank's details and entry counts per signal type and category (no hashes)."""
    with handle_errors():
        summary = get_bank_service().summarize_bank(name)
    b = summary.bank
    lines = [
        ("bank", b.name),
        ("description", b.description),
        ("source", b.source),
        ("enabled", "yes" if b.enabled else "no"),
        ("thresholds", _thresholds_text(b.thresholds)),
        ("entries", f"{summary.total():,} ({summary.total(enabled_only=True):,} enabled)"),
        ("created", b.created_at.isoformat(timespec="seconds")),
    ]
    for label, value in lines:
        typer.echo(f"{label + ':':<13}{value}")
    if summary.counts:
        table = Table()
        for column in ("signal type", "category", "enabled", "disabled"):
            table.add_column(column, justify="right" if column.endswith("abled") else "left")
        for c in summary.counts:
            category = str(c.category) if c.category else "-"
            table.add_row(c.signal_type, category, f"{c.enabled:,}", f"{c.disabled:,}")
        Console().print(table)


@app.command("import")
def import_(
    name: str = typer.Argument(..., help="Bank to add the entries to."),
    file: str = typer.Argument(..., help="Bank file to read ('-' for stdin)."),
    fmt: str = typer.Option(
        "", "--format", help="csv or plain (default: csv for *.csv files, else plain)."
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
    fmt = fmt or ("csv" if file.lower().endswith(".csv") else "plain")
    console = stderr_console()
    tally = ImportTally()
    with handle_errors():
        if fmt not in FORMATS:
            raise InvalidInputError(f"unknown format {fmt!r}; use csv or plain")
        service = get_bank_service()
        service.get_bank(name)
        text, binary, size = open_input(file)
        try:
            items = read_bank_file(
                text, fmt, signal_type=signal_type, category=_category(category), source=source
            )
            with progress_bar(console) as progress:
                task = progress.add_task(f"importing into {name}", total=size, rows="")

                def tick(rows: int) -> None:
                    done = binary.tell() if binary else rows
                    progress.update(task, completed=done, rows=f"{rows:,} rows")

                added = service.add_entries(name, tally.entries(items, tick), validated=True)
        finally:
            if binary is not None:
                text.close()
    duplicates = tally.valid - added
    console.print(
        f"{name}: {added:,} added, {duplicates:,} duplicates skipped, {tally.bad:,} bad rows",
        highlight=False,
    )
    for error in tally.errors:
        console.print(f"  {error.message}", highlight=False, markup=False)
    if tally.bad > len(tally.errors):
        console.print(f"  ... and {tally.bad - len(tally.errors):,} more bad rows")
    if tally.valid == 0:
        console.print("error: nothing could be read from the file", highlight=False)
        raise typer.Exit(EXIT_NOTHING_READ)


@app.command("export")
def export(
    name: str = typer.Argument(..., help="Bank to export."),
    fmt: str = typer.Option("csv", "--format", help="csv or plain."),
    output: Path | None = typer.Option(None, help="File to write (default: stdout)."),
    signal_type: str | None = typer.Option(None, help="Only entries of this signal type."),
    include_disabled: bool = typer.Option(False, help="Also export disabled entries."),
) -> None:
    """Write a bank's entries as CSV or a plain list (this prints hash values)."""
    with handle_errors():
        if fmt not in FORMATS:
            raise InvalidInputError(f"unknown format {fmt!r}; use csv or plain")
        service = get_bank_service()
        entries = service.iter_entries(
            name, signal_type=signal_type, include_disabled=include_disabled
        )
        types = {c.signal_type for c in service.summarize_bank(name).counts}
        out = open_private_output(output) if output else sys.stdout
        try:
            if fmt == "csv":
                count = write_csv(entries, out)
            else:
                mixed = signal_type is None and len(types) > 1
                count = write_plain(entries, out, include_signal_type=mixed)
        finally:
            if output:
                out.close()
    stderr_console().print(f"exported {count:,} entries from {name}", highlight=False)


@app.command("add-media")
def add_media(
    name: str = typer.Argument(..., help="Bank to add the hashes to."),
    paths: list[Path] = typer.Argument(..., help="Files or folders (searched recursively)."),
    category: str | None = typer.Option(None, help="Category scheme:code for every entry."),
    note: str = typer.Option("", help="Note stored with every entry."),
    source: str = typer.Option("", help="Source stored with every entry."),
    signal_type: list[str] = typer.Option(
        [], "--signal-type", help="Only these signal types (repeatable; default: all)."
    ),
) -> None:
    """Hash media files and add their signals to a bank; unreadable files are reported."""
    console = stderr_console()
    failed = 0
    hashed = 0
    given = 0
    with handle_errors():
        service = get_bank_service()
        service.get_bank(name)
        cat = _category(category)
        hasher = MediaHasher(get_settings(), signal_type or None)
        entries: list[NewEntry] = []
        with progress_bar(console) as progress:
            task = progress.add_task("hashing", total=None, rows="")
            for n, item in enumerate(iter_media_files(paths), start=1):
                progress.update(task, completed=n, rows=f"{n:,} files")
                if isinstance(item, NotFoundError):
                    failed += 1
                    console.print(f"skipped: {item.message}", highlight=False, markup=False)
                    continue
                result = hasher.hash_file(item, category=cat, source=source, note=note)
                for reason in result.skipped:
                    console.print(f"note: {item}: {reason}", highlight=False, markup=False)
                if result.error is not None:
                    failed += 1
                    console.print(
                        f"skipped: {item}: {result.error.message}", highlight=False, markup=False
                    )
                    continue
                hashed += 1
                entries.extend(result.entries)
        given = len(entries)
        added = service.add_entries(name, entries)
    console.print(
        f"{name}: {hashed:,} files hashed, {added:,} entries added, "
        f"{given - added:,} duplicates skipped, {failed:,} files failed",
        highlight=False,
    )


def _set_bank_enabled(name: str, enabled: bool) -> None:
    with handle_errors():
        get_bank_service().update_bank(name, enabled=enabled)
    typer.echo(f"bank {name} {'enabled' if enabled else 'disabled'}")


@app.command("disable")
def disable(name: str = typer.Argument(..., help="Bank name.")) -> None:
    """Stop a bank from matching (its entries are kept)."""
    _set_bank_enabled(name, False)


@app.command("enable")
def enable(name: str = typer.Argument(..., help="Bank name.")) -> None:
    """Let a disabled bank match again."""
    _set_bank_enabled(name, True)


def _set_entry_enabled(entry_id: int, enabled: bool) -> None:
    with handle_errors():
        get_bank_service().set_entry_enabled(entry_id, enabled)
    typer.echo(f"entry {entry_id} {'enabled' if enabled else 'disabled'}")


@app.command("disable-entry")
def disable_entry(
    entry_id: int = typer.Argument(..., help="Entry id (from scan matches)."),
) -> None:
    """Stop one entry from matching, e.g. after a confirmed false positive."""
    _set_entry_enabled(entry_id, False)


@app.command("enable-entry")
def enable_entry(entry_id: int = typer.Argument(..., help="Entry id.")) -> None:
    """Let a disabled entry match again."""
    _set_entry_enabled(entry_id, True)
