"""What ``safehold scan`` and ``safehold demo`` share around a scan run.

- :func:`record_sink`: JSON Lines out (opened only once the walk is done and checked, flushed
  per record so a reader sees each file as it finishes) and the progress bar;
- :func:`check_outputs`: ``--output``/``--html`` checked before anything is hashed;
- :func:`print_summary`: the totals, with a hint when nothing could match;
- :func:`guard_run`: the exit status contract around a run: Ctrl-C exits 130 (a second
  Ctrl-C during shutdown is ignored, so the scan cache is always committed), and an
  unexpected exception (a bug) exits 2 with ``error: ...``, never 1/4/5, which mean "match"
  and "file errors".
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import IO

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

from safehold.banks.service import BankService
from safehold.cli.common import EXIT_ERROR, display_text
from safehold.errors import InvalidInputError
from safehold.output_files import open_stream
from safehold.scanning import ScanRecord, ScanSummary
from safehold.scanning.outputs import check_destination
from safehold.scanning.report import HtmlReport
from safehold.scanning.summary import summary_table

#: Exit status after Ctrl-C (128 + SIGINT), as shells report it; Click's default (1) would read
#: as "match found".
EXIT_INTERRUPTED = 130

Sink = tuple[Callable[[ScanRecord], None], Callable[[int], None], HtmlReport | None]


class _RateColumn(ProgressColumn):
    """Files per second, from Rich's moving-window speed estimate."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- files/s" if speed is None else f"{speed:,.1f} files/s", style="cyan")


def check_outputs(output: Path | None, html: Path | None) -> tuple[Path, ...]:
    """Check the output files before scanning; return them for ``ScanConfig.output_paths``.

    Raises:
        InvalidInputError: a path is a folder, symbolic link, device or other special file, its
            folder is missing or not writable, or ``--output`` and ``--html`` name the same
            file.
    """
    outputs = tuple(p for p in (output, html) if p is not None)
    for path in outputs:
        check_destination(path)
    if output is not None and html is not None:
        same = os.path.abspath(output) == os.path.abspath(html)
        if not same and output.exists() and html.exists():
            same = os.path.samefile(output, html)
        if same:
            raise InvalidInputError("--output and --html name the same file")
    return outputs


@contextmanager
def record_sink(
    output: Path | None, html: Path | None, console: Console, show_progress: bool
) -> Iterator[Sink]:
    """Yield ``(on_record, on_total, report)`` writing JSON Lines and driving a progress bar.

    ``output`` (None = stdout) is opened by ``on_total``, which the scan calls after its walk
    and its check that no output overwrites a file to scan; a scan refused before that leaves
    an existing file untouched.
    """
    report = HtmlReport() if html is not None else None
    opened: list[IO[str]] = []
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

    def stream() -> IO[str]:
        if not opened:
            opened.append(open_stream(output) if output else sys.stdout)
        return opened[0]

    def on_total(total: int) -> None:
        stream()
        progress.update(task, total=total)

    def on_record(record: ScanRecord) -> None:
        out = stream()
        out.write(record.to_json() + "\n")
        out.flush()
        if report is not None:
            report.add(record)
        progress.advance(task)

    try:
        with progress:
            yield on_record, on_total, report
    finally:
        if opened:
            opened[0].flush()
            if output is not None:
                opened[0].close()


def _nothing_to_match_hint(banks: BankService | None, bank_names: Sequence[str]) -> str:
    """Why no bank entry was loaded, and what to do about it."""
    load = (
        "Load a bank with `safehold bank import` or `safehold bank add-media` (or pass "
        "--hash-only to only hash)."
    )
    known = banks.list_banks() if banks is not None else []
    if not known:
        return f"No bank entries to match against: files were hashed only. {load}"
    named = [b for b in known if b.name in set(bank_names)] if bank_names else known
    if named and not any(b.enabled for b in named):
        return (
            "No bank entries to match against: every bank is disabled, so files were hashed "
            "only. Enable one with `safehold bank enable NAME`."
        )
    return (
        "No bank entries to match against: the banks hold no enabled entries of the signal "
        f"types scanned, so files were hashed only. {load}"
    )


def warn_nothing_to_match(
    console: Console, banks: BankService | None, bank_names: Sequence[str] = ()
) -> None:
    """Print why no bank entry was loaded (shown even with ``--quiet``: exit status 8)."""
    hint = _nothing_to_match_hint(banks, bank_names)
    console.print(f"[yellow]warning: {display_text(hint)}[/yellow]")


def print_summary(
    console: Console,
    summary: ScanSummary,
    banks: BankService | None = None,
    bank_names: Sequence[str] = (),
    *,
    hash_only: bool = False,
) -> None:
    """Print the summary table, and a hint (naming the cause) when no bank entry was loaded
    (not for a ``--hash-only`` scan, which loads none on purpose)."""
    console.print(summary_table(summary))
    if summary.bank_entries == 0 and not hash_only:
        warn_nothing_to_match(console, banks, bank_names)


def _ignore_later_sigint(signum: int, frame: FrameType | None) -> None:
    """First Ctrl-C: stop the scan; every later one is ignored while it shuts down."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


@contextmanager
def guard_run(console: Console, interrupted_message: str) -> Iterator[None]:
    """Map Ctrl-C to exit status 130 and any unexpected exception to ``error: ...`` and 2.

    The first SIGINT raises ``KeyboardInterrupt`` in the run; from then on SIGINT is ignored
    (``timeout -s INT`` and a terminal's Ctrl-C reach the process twice or more), so the
    shutdown (committing the scan cache, stopping workers) always completes. Click's own
    exits (usage errors, ``typer.Exit``) pass through unchanged.
    """
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, _ignore_later_sigint) if in_main else None
    interrupted = False
    try:
        yield
    except KeyboardInterrupt:
        interrupted = True
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        console.print(f"[yellow]{interrupted_message}[/yellow]")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except (typer.Exit, typer.Abort, typer.TyperException):
        raise
    except Exception as exc:  # a bug: report it, but never as "match found"
        traceback.print_exc(file=sys.stderr)
        reason = display_text(f"{type(exc).__name__}: {exc}", markup=False)
        typer.echo(f"error: unexpected {reason} (a bug in Safehold; please report it)", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    finally:
        # After Ctrl-C SIGINT stays ignored: the process is exiting, and a late second Ctrl-C
        # must not turn exit status 130 into a traceback.
        if in_main and not interrupted:
            signal.signal(
                signal.SIGINT, signal.default_int_handler if previous is None else previous
            )
