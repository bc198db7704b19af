"""``safehold demo``: the main job end to end on benign demo media, in one command.

Builds the demo set (:mod:`safehold.scanning.demo_media`), loads the bank ``demo-known`` from
its originals, scans the set with dihedral matching on, writes ``results.jsonl`` and
``report.html`` in the work directory, and prints the summary and the matches. Exit status 0
when every edited copy matched and no unrelated image did, 1 otherwise, 2 on a fatal error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from safehold.cli.common import get_bank_service, handle_errors
from safehold.cli.scan import print_summary, record_sink
from safehold.scanning import ScanConfig, ScanRecord
from safehold.scanning import scan as run_scan
from safehold.scanning.demo_bank import DEMO_BANK, load_demo_bank
from safehold.scanning.demo_media import DemoMedia, build_demo_media
from safehold.settings import get_settings


def _matches_table(records: list[ScanRecord], media: DemoMedia) -> Table:
    table = Table(title=f"Matches against bank {DEMO_BANK!r}", title_justify="left")
    for column in ("file", "signal", "distance", "variant", "category"):
        table.add_column(column, justify="right" if column == "distance" else "left")
    for record in records:
        name = str(Path(record.path).relative_to(media.scan_dir))
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


def demo(
    workdir: Path = typer.Option(
        Path("demo-output"),
        "--workdir",
        "-w",
        help="Where the demo media and results go.",
        file_okay=False,
    ),
    workers: int | None = typer.Option(
        None, "--workers", "-j", min=1, help="Worker processes Default: one per CPU core."
    ),
    video: bool = typer.Option(
        True, "--video/--no-video", help="Include a synthetic video and a re-encoded copy."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Build benign demo media, load a demo bank, scan, and show the matches."""
    console = Console()
    err = Console(stderr=True)
    settings = get_settings()
    workdir = workdir.resolve()
    with handle_errors():
        console.print(f"Building the demo set in [bold]{workdir}[/bold] ...")
        media = build_demo_media(workdir, video=video)
        overrides: dict[str, Any] = {"dihedral": True, "banks": (DEMO_BANK,)}
        if workers is not None:
            overrides["workers"] = workers
        config = ScanConfig.from_settings(settings, **overrides)
        service = get_bank_service()
        added = load_demo_bank(service, media.originals, settings)
        console.print(
            f"Bank [bold]{DEMO_BANK}[/bold]: {added} entries added "
            f"from {len(media.originals)} originals (category local:demo)."
        )
        records: list[ScanRecord] = []
        results, report_path = workdir / "results.jsonl", workdir / "report.html"
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
    print_summary(console, summary)
    console.print(_matches_table(records, media))
    console.print(f"Records: {results}\nReport:  {report_path}")
    problems = check_expectations(records, media)
    if problems:
        console.print("[red]Unexpected demo results:[/red] " + "; ".join(problems))
        raise typer.Exit(1)
    console.print(
        f"[green]All {len(media.expected_matches)} edited copies matched; "
        f"none of the {len(media.expected_misses)} unrelated files did.[/green]"
    )
