"""``safehold url``: check URLs against the URL lists in the banks, import URL lists, and show
how a URL is canonicalised.

``url check`` follows ``safehold scan``'s exit statuses: 0 no match, 1 a match, 4 a URL that
could not be checked (it does not parse), 5 both, 8 nothing to match against (no enabled
``url`` entry: 12 with unparsable URLs), 2 usage or fatal error. ``url import`` follows
``safehold bank import``'s: 0 anything read, 1 nothing could be read, 2 error. URL list
entries are confidential: no command prints them; ``check`` prints the caller's own URLs, the
bank, entry id, kind of entry and list version of each match.
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from safehold.banks.lines import CSV_LINE_LIMIT
from safehold.banks.models import Category
from safehold.banks.url_lists import URL_FORMATS, read_url_list, sniff_url_format
from safehold.cli.bank_files import ImportTally, open_input, progress_bar
from safehold.cli.common import (
    count_noun,
    display_path,
    display_text,
    get_bank_service,
    handle_errors,
    make_console,
    stderr_console,
)
from safehold.errors import InvalidInputError, SafeholdError
from safehold.matching.url_check import UrlCheck, UrlMatcher, check_urls
from safehold.scanning.summary import (
    EXIT_CLEAN,
    EXIT_FILE_ERRORS,
    EXIT_MATCH,
    EXIT_MATCH_AND_FILE_ERRORS,
    EXIT_NOTHING_TO_MATCH,
)
from safehold.signals.url import URL
from safehold.signals.url_canonical import canonicalize_url
from safehold.signals.url_expressions import expression_kind, lookup_expressions

app = typer.Typer(
    help="Check URLs against URL lists (Safe Browsing canonicalisation); import URL lists.",
    no_args_is_help=True,
)

#: Exit status of ``url import`` when no row could be read (as ``bank import``).
EXIT_NOTHING_READ = 1
#: Lines read ahead to tell a CSV file (header row) from a plain list.
SNIFF_LINES = 64


def check_json(check: UrlCheck) -> dict[str, Any]:
    """The JSON object of one checked URL (``safehold url check --json``)."""
    return {
        "url": check.url,
        "canonical": check.canonical,
        "match": bool(check.matches),
        "matches": [
            {
                "bank": m.match.bank,
                "entry_id": m.match.entry_id,
                "kind": m.kind,
                "list_version": m.list_version,
                "category": m.match.category,
                "source": m.match.source,
            }
            for m in check.matches
        ],
        "error": None if check.error is None else check.error.to_dict(),
    }


def _table(checks: list[UrlCheck]) -> Table:
    table = Table("url", "canonical", "result")
    for check in checks:
        if check.error is not None:
            result = f"error ({check.error.code}): {check.error.message}"
        elif not check.matches:
            result = "no match"
        else:
            result = "\n".join(
                f"match: {m.match.bank} entry {m.match.entry_id} ({m.kind}"
                + (f", list version {m.list_version}" if m.list_version else "")
                + ")"
                for m in check.matches
            )
        table.add_row(display_path(check.url, markup=False), check.canonical or "", result)
    return table


def exit_status(checks: list[UrlCheck], entries: int) -> int:
    """0 clean, 1 match, 4 unparsable URLs, 5 both; plus 8 when no entry could match."""
    matched = any(c.matches for c in checks)
    errors = any(c.error is not None for c in checks)
    if matched:
        return EXIT_MATCH_AND_FILE_ERRORS if errors else EXIT_MATCH
    status = EXIT_FILE_ERRORS if errors else EXIT_CLEAN
    return status | (EXIT_NOTHING_TO_MATCH if entries == 0 else 0)


@app.command("check")
def check(
    urls: list[str] = typer.Argument(..., help="URLs to check (scheme optional)."),
    bank_names: list[str] = typer.Option(
        [], "--bank", "-b", help="Check only these banks (repeat the option)."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per URL."),
) -> None:
    """Check URLs against the banks' URL lists (host, path prefix, exact URL).

    Exit status: 0 no match; 1 a match; 4 a URL that does not parse; 5 both; 8 no URL list
    entry to match against (12 with unparsable URLs); 2 usage or fatal error.
    """
    with handle_errors():
        service = get_bank_service()
        matcher = UrlMatcher(service.engine, bank_names)
        checks = check_urls(urls, matcher, service.engine)
        entries = sum(service.count_matchable(URL, bank_names).values())
    if as_json:
        for item in checks:
            typer.echo(json.dumps(check_json(item), sort_keys=True))
    else:
        make_console().print(_table(checks))
    if entries == 0:
        stderr_console().print(
            "warning: no enabled url entries to match against; import a URL list with "
            "`safehold url import BANK FILE`",
            markup=False,
        )
    raise typer.Exit(exit_status(checks, entries))


@app.command("canonicalize")
def canonicalize(
    urls: list[str] = typer.Argument(..., help="URLs to canonicalise."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per URL."),
) -> None:
    """Show each URL's canonical form, the entry it would be stored as and the expressions
    it is looked up by. Exit status 4 when a URL does not parse."""
    failed = False
    table = Table("url", "canonical", "entry kind", "looked up by")
    for url in urls:
        shown = display_path(url, markup=False)
        try:
            canonical = canonicalize_url(url)
        except SafeholdError as exc:
            failed = True
            if as_json:
                typer.echo(json.dumps({"url": url, "error": exc.to_dict()}, sort_keys=True))
            else:
                table.add_row(shown, f"error ({exc.code}): {exc.message}", "", "")
            continue
        expressions = lookup_expressions(canonical)
        kind = expression_kind(canonical.expression)
        if as_json:
            found: dict[str, Any] = {"url": url, "canonical": canonical.url, "kind": kind}
            found |= {"expression": canonical.expression, "lookups": expressions, "error": None}
            typer.echo(json.dumps(found, sort_keys=True))
        else:
            table.add_row(shown, canonical.url, kind, "\n".join(expressions))
    if not as_json:
        make_console().print(table)
    raise typer.Exit(EXIT_FILE_ERRORS if failed else EXIT_CLEAN)


@app.command("import")
def import_list(
    bank: str = typer.Argument(..., help="Bank to add the URLs to."),
    file: str = typer.Argument(..., help="URL list to read ('-' for stdin)."),
    fmt: str = typer.Option(
        "",
        "--format",
        help="plain or csv (default: csv when the file starts with a header "
        "row naming a url column, else plain).",
    ),
    list_version: str | None = typer.Option(
        None, "--list-version", help="Version of this list, kept on each entry and match."
    ),
    category: str | None = typer.Option(
        None, help="Category scheme:code for rows without one, e.g. iwf:url."
    ),
    source: str = typer.Option("", help="Source for rows without one, e.g. iwf."),
) -> None:
    """Import a URL list; bad rows are reported with line numbers and skipped."""
    console = stderr_console()
    tally = ImportTally()
    shown = "standard input" if file == "-" else display_path(file, markup=False)
    with handle_errors():
        fmt = fmt.strip().lower()
        if fmt and fmt not in URL_FORMATS:
            raise InvalidInputError(f"unknown format {fmt!r}; use plain or csv")
        service = get_bank_service()
        name = service.get_bank(bank).name
        cat = Category.parse(category) if category else None
        lines, size = open_input(file, name=shown, max_line_bytes=CSV_LINE_LIMIT)
        try:
            fmt = fmt or sniff_url_format(lines.head(SNIFF_LINES))
            items = read_url_list(
                lines, fmt, list_version=list_version, category=cat, source=source
            )
            with progress_bar(console) as progress:
                task = progress.add_task(f"importing into {name}", total=size, rows="")

                def tick(rows: int) -> None:
                    done = lines.binary.tell() if size is not None else rows
                    progress.update(task, completed=done, rows=count_noun(rows, "row"))

                added = service.add_entries(name, tally.entries(items, tick), validated=True)
        finally:
            if file != "-":
                lines.binary.close()
    console.print(
        f"{name}: {added:,} added, {count_noun(tally.valid - added, 'duplicate')} skipped, "
        f"{count_noun(tally.bad, 'bad row')}",
        markup=False,
    )
    for error in tally.errors:
        console.print(f"  {display_text(error.message, markup=False)}", markup=False)
    if tally.bad > len(tally.errors):
        more = count_noun(tally.bad - len(tally.errors), "more bad row")
        console.print(f"  ... and {more}", markup=False)
    if tally.valid == 0:
        console.print(f"error: nothing could be read from {shown}", markup=False)
        raise typer.Exit(EXIT_NOTHING_READ)
