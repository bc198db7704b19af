"""``safehold bank``: create banks, import and export hash lists, add media, enable/disable.

Tables (``list``, ``show``) go to stdout; progress bars and import summaries go to stderr.
Only ``export`` writes hash values (to stdout, or to a new ``--output`` file readable by its
owner only): hash lists are confidential. Failures print ``error: <message>`` and exit with
status 2. ``import`` and ``export`` live in :mod:`safehold.cli.bank_transfer`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.table import Table

from safehold.banks.media import MediaHasher
from safehold.banks.models import MATCH_ACTIONS, Category, NewEntry
from safehold.banks.validation import BANK_NAME_RULE
from safehold.cli import bank_curate, bank_transfer
from safehold.cli.bank_files import progress_bar
from safehold.cli.bank_transfer import EXIT_NOTHING_READ
from safehold.cli.common import (
    count_noun,
    display_path,
    display_text,
    get_bank_service,
    handle_errors,
    load_settings,
    make_console,
    stderr_console,
)
from safehold.errors import InvalidInputError
from safehold.scanning import walk as walk_module
from safehold.scanning.walk import walk

app = typer.Typer(help="Manage banks: named hash lists.", no_args_is_help=True)

_THRESHOLD = re.compile(r"\s*([A-Za-z0-9_.-]+)\s*=\s*([+-]?)([0-9]+)\s*")
_OUT_OF_RANGE = 10**18  # stands for any number too long to be a threshold
_MATCH_ACTION_HELP = (
    f"What an untrusted API caller is told to do on a match: {' or '.join(MATCH_ACTIONS)}."
)


def parse_threshold_options(values: list[str]) -> dict[str, int]:
    """Parse repeated ``TYPE=N`` options, e.g. ``pdq=24``, into ``{type: n}``.

    The range of each ``N`` is checked by the service (``validate_thresholds``), which names
    the allowed range (``pdq=-1``: "must be between 0 and 256").

    Shared by ``bank create``, ``bank update`` and ``scan --threshold``.

    Raises:
        InvalidInputError: a value is not ``name=integer``, or a signal type is given twice.
    """
    out: dict[str, int] = {}
    for value in values:
        match = _THRESHOLD.fullmatch(value)
        if match is None:
            raise InvalidInputError(f"threshold {value!r} must be written TYPE=N, e.g. pdq=24")
        name, sign, digits = match.groups()
        number = int(digits) if len(digits) <= 18 else _OUT_OF_RANGE
        key = name.lower()
        if key in out:
            raise InvalidInputError(
                f"{key} is given more than once ({key}={out[key]}, {value.strip()}); "
                "give each signal type once"
            )
        out[key] = -number if sign == "-" else number
    return out


@contextmanager
def _walk_log_silenced() -> Iterator[None]:
    """Drop the walker's own warning about a folder reached twice: add-media reports every
    skipped path itself, in its ``skipped: <path>: <reason>`` form."""
    logger = logging.getLogger(walk_module.__name__)

    def drop(record: logging.LogRecord) -> bool:
        return False

    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def _category(text: str | None) -> Category | None:
    return Category.parse(text) if text else None


def _thresholds_text(thresholds: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(thresholds.items())) or "defaults"


@app.command("create")
def create(
    name: str = typer.Argument(..., help=f"Bank name: {BANK_NAME_RULE}."),
    description: str = typer.Option("", help="What the list is."),
    source: str = typer.Option("", help="Who supplies the list, e.g. ncmec or local."),
    threshold: list[str] = typer.Option(
        [], "--threshold", help="Distance threshold for a signal type, e.g. pdq=24 (repeatable)."
    ),
    category: str | None = typer.Option(
        None, help="Category scheme:code given to entries added without one."
    ),
    match_action: str = typer.Option("review", help=_MATCH_ACTION_HELP),
) -> None:
    """Create an empty bank."""
    with handle_errors():
        thresholds = parse_threshold_options(threshold)
        bank = get_bank_service().create_bank(
            name,
            description=description,
            source=source,
            thresholds=thresholds,
            category=_category(category),
            match_action=match_action.strip().lower(),
        )
    typer.echo(f"created bank {bank.name} (thresholds: {_thresholds_text(bank.thresholds)})")


@app.command("update")
def update(
    name: str = typer.Argument(..., help="Bank to change."),
    description: str | None = typer.Option(None, help="New description."),
    source: str | None = typer.Option(None, help="New source."),
    threshold: list[str] = typer.Option(
        [], "--threshold", help="Set a signal type's threshold, e.g. pdq=24 (repeatable)."
    ),
    reset_thresholds: bool = typer.Option(
        False, "--reset-thresholds", help="Drop every threshold first (back to the defaults)."
    ),
    category: str | None = typer.Option(
        None, help="New category scheme:code for entries added from now on."
    ),
    clear_category: bool = typer.Option(
        False, "--clear-category", help="Remove the bank's category (entries keep theirs)."
    ),
    match_action: str | None = typer.Option(None, help=_MATCH_ACTION_HELP),
    shared: bool | None = typer.Option(
        None,
        "--shared/--not-shared",
        help="Publish the bank to federation peers, or stop (docs/exchanges.md).",
    ),
) -> None:
    """Change a bank's description, source, thresholds, category, match action or federation
    sharing (other thresholds are kept)."""
    with handle_errors():
        given = parse_threshold_options(threshold)
        service = get_bank_service()
        thresholds: dict[str, int] | None = None
        if given or reset_thresholds:
            kept = {} if reset_thresholds else service.get_bank(name).thresholds
            thresholds = {**kept, **given}
        bank = service.update_bank(
            name,
            description=description,
            source=source,
            thresholds=thresholds,
            category=_category(category),
            clear_category=clear_category,
            match_action=match_action.strip().lower() if match_action is not None else None,
            shared=shared,
        )
    typer.echo(f"updated bank {bank.name} (thresholds: {_thresholds_text(bank.thresholds)})")


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
            display_text(b.source),
            _thresholds_text(b.thresholds),
            b.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    with handle_errors():
        make_console().print(table)


@app.command("show")
def show(name: str = typer.Argument(..., help="Bank name (any case).")) -> None:
    """Show a bank's details and entry counts per signal type and category (no hashes)."""
    with handle_errors():
        summary = get_bank_service().summarize_bank(name)
    b = summary.bank
    lines = [
        ("bank", b.name),
        ("description", display_text(b.description, markup=False)),
        ("source", display_text(b.source, markup=False)),
        ("enabled", "yes" if b.enabled else "no"),
        ("thresholds", _thresholds_text(b.thresholds)),
        ("category", display_text(str(b.category), markup=False) if b.category else "-"),
        ("on match", b.match_action),
        ("shared", "yes (federation feed)" if b.shared else "no"),
        ("entries", f"{summary.total():,} ({summary.total(enabled_only=True):,} enabled)"),
        ("created", b.created_at.isoformat(timespec="seconds")),
    ]
    with handle_errors():
        for label, value in lines:
            typer.echo(f"{label + ':':<13}{value}")
        if summary.counts:
            table = Table()
            for column in ("signal type", "category", "enabled", "disabled"):
                table.add_column(column, justify="right" if column.endswith("abled") else "left")
            for c in summary.counts:
                category = display_text(str(c.category)) if c.category else "-"
                table.add_row(c.signal_type, category, f"{c.enabled:,}", f"{c.disabled:,}")
            make_console().print(table)


app.command("import")(bank_transfer.import_)
app.command("export")(bank_transfer.export)
for _name, _command in bank_curate.COMMANDS.items():
    app.command(_name)(_command)


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
    """Hash media files and add their signals to a bank; every path skipped is reported.

    Exit status: 0 when any file was hashed (its entries may all be duplicates), 1 when no
    file could be hashed (every path failed, or no file found), 2 on an error.

    Folders are walked as ``safehold scan`` walks them (sorted, symbolic links followed, each
    folder once); special files (FIFOs, sockets, devices), broken links and unreadable paths
    are reported and skipped.
    """
    console = stderr_console()
    failed = hashed = 0
    with handle_errors():
        service = get_bank_service()
        bank = service.get_bank(name)
        cat = _category(category)
        hasher = MediaHasher(load_settings(), signal_type or None)
        entries: list[NewEntry] = []
        with progress_bar(console) as progress, _walk_log_silenced():
            task = progress.add_task("hashing", total=None, rows="")
            for n, item in enumerate(walk(paths), start=1):
                progress.update(task, completed=n, rows=count_noun(n, "path"))
                shown = display_path(item.path, markup=False)
                if item.duplicate_dir or item.duplicate_file:
                    what = "folder already walked" if item.duplicate_dir else "file already hashed"
                    console.print(f"skipped: {shown}: {what} (reached twice)", markup=False)
                    continue
                if item.error is not None:
                    failed += 1
                    console.print(f"skipped: {shown}: {item.error.message}", markup=False)
                    continue
                result = hasher.hash_file(Path(item.path), category=cat, source=source, note=note)
                for reason in result.skipped:
                    console.print(f"note: {shown}: {reason}", markup=False)
                if result.error is not None:
                    failed += 1
                    console.print(f"skipped: {shown}: {result.error.message}", markup=False)
                    continue
                hashed += 1
                entries.extend(result.entries)
        added = service.add_entries(bank.name, entries)
        console.print(
            f"{bank.name}: {count_noun(hashed, 'file')} hashed, "
            f"{count_noun(added, 'entry', 'entries')} added, "
            f"{count_noun(len(entries) - added, 'duplicate')} skipped, "
            f"{count_noun(failed, 'file')} failed",
            markup=False,
        )
    if not entries:
        console.print("error: no file could be hashed; nothing was added", markup=False)
        raise typer.Exit(EXIT_NOTHING_READ)
