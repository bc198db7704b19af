"""``safehold scan``: hash files and folders on every core, match them, write JSON Lines.

Records go to stdout (or ``--output``), one JSON object per file; progress (with rate and ETA)
and the summary table go to stderr, so stdout stays machine-readable. The exit status encodes
the outcome (``docs/scanning.md``): 0 clean, 1 match, 4 file errors, 5 both, 2 usage or fatal
error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from safehold.cli.common import get_bank_service, handle_errors
from safehold.scanning import ScanConfig, ScanRecord, ScanSummary
from safehold.scanning import scan as run_scan
from safehold.scanning.config import DEFAULT_MEMORY_LIMIT_BYTES
from safehold.scanning.report import HtmlReport
from safehold.scanning.summary import EXIT_USAGE, summary_table
from safehold.settings import get_settings

#: Exit status after Ctrl-C (128 + SIGINT), as shells report it; Click's default (1) would read
#: as "match found".
EXIT_INTERRUPTED = 130


class _RateColumn(ProgressColumn):
    """Files per second, from Rich's moving-window speed estimate."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- files/s" if speed is None else f"{speed:,.1f} files/s", style="cyan")


def parse_thresholds(values: list[str]) -> dict[str, int]:
    """Parse repeated ``TYPE=N`` options into ``{type: n}``.

    Raises:
        typer.BadParameter: a value is not ``name=integer`` (exit status 2).
    """
    out: dict[str, int] = {}
    for value in values:
        name, sep, number = value.partition("=")
        if not sep or not name.strip() or not number.strip().lstrip("-").isdigit():
            raise typer.BadParameter(
                f"{value!r} is not TYPE=N, e.g. pdq=20", param_hint="--threshold"
            )
        out[name.strip().lower()] = int(number)
    return out


@contextmanager
def record_sink(
    output: Path | None, html: Path | None, console: Console, show_progress: bool
) -> Iterator[tuple[Callable[[ScanRecord], None], Callable[[int], None], HtmlReport | None]]:
    """Yield ``(on_record, on_total, report)`` writing JSON Lines and driving a progress bar."""
    report = HtmlReport() if html is not None else None
    stream: IO[str] = (
        output.open("w", encoding="utf-8", newline="\n") if output is not None else sys.stdout
    )
    progress = Progress(
        TextColumn("[bold]scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not show_progress,
        transient=False,
    )
    task = progress.add_task("scan", total=None)

    def on_total(total: int) -> None:
        progress.update(task, total=total)

    def on_record(record: ScanRecord) -> None:
        stream.write(record.to_json() + "\n")
        if report is not None:
            report.add(record)
        progress.advance(task)

    try:
        with progress:
            yield on_record, on_total, report
    finally:
        stream.flush()
        if output is not None:
            stream.close()


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        fileno = sys.stdout.fileno()
    except (OSError, ValueError):  # not a real file (e.g. a test runner's buffer)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fileno)
    os.close(devnull)


def print_summary(console: Console, summary: ScanSummary) -> None:
    """Print the summary table, and a hint when no bank entry was loaded."""
    console.print(summary_table(summary))
    if summary.bank_entries == 0:
        console.print(
            "[yellow]No bank entries to match against: files were hashed only. "
            "Load a bank with `safehold bank import` or `safehold bank add-media`.[/yellow]"
        )


def scan(
    paths: list[Path] = typer.Argument(..., help="Files and folders to scan (recursively)."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write JSON Lines here instead of stdout.", dir_okay=False
    ),
    html: Path | None = typer.Option(
        None, "--html", help="Also write a self-contained HTML report here.", dir_okay=False
    ),
    workers: int | None = typer.Option(
        None, "--workers", "-j", min=1, help="Worker processes Default: one per CPU core."
    ),
    signal_types: list[str] = typer.Option(
        [], "--signal-type", "-s", help="Compute only this signal type (repeatable)."
    ),
    thresholds: list[str] = typer.Option(
        [],
        "--threshold",
        "-t",
        metavar="TYPE=N",
        help="Match distance for a signal type, overriding bank thresholds (repeatable).",
    ),
    bank_names: list[str] = typer.Option(
        [],
        "--bank",
        "-b",
        help="Match against this bank only (repeatable); default: every enabled bank.",
    ),
    dihedral: bool = typer.Option(
        False, "--dihedral", help="Also match photos rotated by 90/180/270 degrees or mirrored."
    ),
    unletterbox: bool = typer.Option(
        False, "--unletterbox", help="Also match photos with black bars removed."
    ),
    preshrink: int | None = typer.Option(
        None,
        "--preshrink",
        min=0,
        help="Shrink photos to this longest side before PDQ (0 = never).",
    ),
    timeout: float | None = typer.Option(
        None, "--timeout", min=0.1, help="Seconds per file; default: SAFEHOLD_FILE_TIMEOUT_SECONDS."
    ),
    memory_mib: int = typer.Option(
        DEFAULT_MEMORY_LIMIT_BYTES // 2**20,
        "--memory-limit",
        min=64,
        metavar="MIB",
        help="Address-space bound per worker process, in MiB.",
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Hash every file again and do not update the scan cache."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no summary."),
) -> None:
    """Scan files and folders for known material; write one JSON line per file.

    Exit status: 0 no match and no file errors; 1 match found; 4 file errors, no match;
    5 matches and file errors; 2 usage or fatal error.
    """
    console = Console(stderr=True)
    settings = get_settings()
    overrides: dict[str, Any] = {
        "thresholds": parse_thresholds(thresholds),
        "banks": tuple(bank_names),
        "signal_types": tuple(s.lower() for s in signal_types),
        "dihedral": dihedral,
        "unletterbox": unletterbox,
        "memory_limit_bytes": memory_mib * 2**20,
    }
    if preshrink is not None:
        overrides["preshrink"] = preshrink
    if workers is not None:
        overrides["workers"] = workers
    if timeout is not None:
        overrides["file_timeout_seconds"] = timeout
    try:
        with handle_errors():
            config = ScanConfig.from_settings(settings, use_cache=not no_cache, **overrides)
            banks = get_bank_service()
            show_progress = not quiet and console.is_terminal
            try:
                with record_sink(output, html, console, show_progress) as sink:
                    on_record, on_total, report = sink
                    summary = run_scan(
                        paths, config=config, banks=banks, on_record=on_record, on_total=on_total
                    )
            except BrokenPipeError:  # the reader went away (``safehold scan . | head``)
                _silence_stdout()
                raise typer.Exit(EXIT_USAGE) from None
            if report is not None and html is not None:
                report.write(html, summary)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted; the scan cache keeps the files done so far[/yellow]")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if not quiet:
        print_summary(console, summary)
    raise typer.Exit(summary.exit_status())
