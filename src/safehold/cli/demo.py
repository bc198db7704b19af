"""``safehold demo``: the main job end to end on benign demo media, in one command.

Builds the demo set (:mod:`safehold.scanning.demo_media`), loads the bank ``demo-known`` from
its originals, scans the set with dihedral matching on, writes ``results.jsonl`` and
``report.html`` in the work directory, and prints the summary and the matches. Exit status 0
when every edited copy matched and no unrelated image did, 1 otherwise, 2 on a fatal error,
130 when interrupted.

The demo keeps its bank and scan cache in its own data directory, ``<workdir>/data``, never in
the database the ``SAFEHOLD_*`` settings name: a demo bank in the real database would make
real scans match the demo's photos. ``--use-configured-database`` opts into the configured
database (and its scan cache) on purpose.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from safehold.banks.service import BankService
from safehold.cli.common import display_path, handle_errors, load_settings, make_console
from safehold.cli.scan import WORKERS_HELP, check_workers
from safehold.cli.scan_run import guard_run, print_summary, record_sink
from safehold.scanning import ScanConfig, ScanRecord
from safehold.scanning import scan as run_scan
from safehold.scanning.demo_bank import DEMO_BANK, load_demo_bank
from safehold.scanning.demo_media import DemoMedia, build_demo_media
from safehold.settings import Settings
from safehold.storage.engine import open_database

#: The demo's own data directory (bank database, scan cache), under ``--workdir``.
DEMO_DATA_DIR = "data"


def _matches_table(records: list[ScanRecord], media: DemoMedia) -> Table:
    table = Table(title=f"Matches against bank {DEMO_BANK!r}", title_justify="left")
    for column in ("file", "signal", "distance", "variant", "category"):
        table.add_column(column, justify="right" if column == "distance" else "left")
    for record in records:
        name = display_path(Path(record.path).relative_to(media.scan_dir))
        for m in record.matches:
            table.add_row(name, m.signal_type, str(m.distance), m.variant or "-", m.category or "-")
    return table


def check_expectations(records: list[ScanRecord], media: DemoMedia) -> list[str]:
    """Return the demo's failed expectations (empty when every copy matched and nothing else).

    A file is relative to ``media.scan_dir``; the check needs at least one match per expected
    file and none for the unrelated ones.
    """
    root = media.scan_dir
    matched = {str(Path(r.path).relative_to(root)) for r in records if r.matches}
    problems = [f"{name} did not match" for name in media.expected_matches if name not in matched]
    problems += [f"{name} matched" for name in media.expected_misses if name in matched]
    return problems


def demo_settings(settings: Settings, workdir: Path, use_configured: bool) -> Settings:
    """The settings the demo runs with: ``settings`` with its own data directory and SQLite
    database under ``workdir`` (:data:`DEMO_DATA_DIR`), unless ``use_configured``."""
    if use_configured:
        return settings
    return settings.model_copy(update={"data_dir": workdir / DEMO_DATA_DIR, "database_url": None})


def demo(
    workdir: Path = typer.Option(
        Path("demo-output"),
        "--workdir",
        "-w",
        metavar="DIR",
        help="Where the demo media, results and the demo's own database go.",
        file_okay=False,
    ),
    workers: int | None = typer.Option(
        None, "--workers", "-j", min=1, metavar="N", callback=check_workers, help=WORKERS_HELP
    ),
    video: bool = typer.Option(
        True, "--video/--no-video", help="Include a synthetic video and a re-encoded copy."
    ),
    use_configured: bool = typer.Option(
        False,
        "--use-configured-database",
        metavar="",
        help="Load the demo bank into the database the SAFEHOLD_* settings name (and use "
        "their scan cache) instead of DIR/data. The bank demo-known then stays there.",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", metavar="", help="No progress bar."),
) -> None:
    """Build benign demo media, load a demo bank, scan, and show the matches.

    Uses its own database in DIR/data, so your banks and scan cache are never touched.
    """
    console = make_console()
    err = make_console(stderr=True)
    workdir = workdir.resolve()
    with guard_run(err, "interrupted"), handle_errors():
        settings = demo_settings(load_settings(), workdir, use_configured)
        console.print(f"Building the demo set in [bold]{display_path(workdir)}[/bold] ...")
        media = build_demo_media(workdir, video=video)
        results, report_path = workdir / "results.jsonl", workdir / "report.html"
        overrides: dict[str, Any] = {
            "dihedral": True,
            "banks": (DEMO_BANK,),
            "output_paths": (results, report_path),
        }
        if workers is not None:
            overrides["workers"] = workers
        config = ScanConfig.from_settings(settings, **overrides)
        service = BankService(open_database(settings))
        added = load_demo_bank(service, media.originals, settings)
        console.print(
            f"Bank [bold]{DEMO_BANK}[/bold]: {added} entries added "
            f"from {len(media.originals)} originals (category local:demo)."
        )
        records: list[ScanRecord] = []
        show_progress = not quiet and err.is_terminal
        with record_sink(results, report_path, err, show_progress) as (on_record, on_total, report):

            def keep(record: ScanRecord) -> None:
                records.append(record)
                on_record(record)

            summary = run_scan(
                [media.scan_dir], config=config, banks=service, on_record=keep, on_total=on_total
            )
        if report is not None:
            report.write(report_path, summary)
        print_summary(console, summary, service, (DEMO_BANK,))
        console.print(_matches_table(records, media))
        console.print(f"Records: {display_path(results)}\nReport:  {display_path(report_path)}")
        problems = check_expectations(records, media)
    if problems:
        shown = "; ".join(display_path(p) for p in problems)
        console.print(f"[red]Unexpected demo results:[/red] {shown}")
        raise typer.Exit(1)
    console.print(
        f"[green]All {len(media.expected_matches)} edited copies matched; "
        f"none of the {len(media.expected_misses)} unrelated files did.[/green]"
    )
