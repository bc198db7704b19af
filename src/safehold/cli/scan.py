"""``safehold scan``: hash files and folders on every core, match them, write JSON Lines.

Records go to stdout (or ``--output``), one JSON object per file; progress (with rate and ETA)
and the summary table go to stderr, so stdout stays machine-readable. The exit status encodes
the outcome (``docs/scanning.md``): 0 clean, 1 match, 4 file errors, 5 both, 8 nothing to
match against (12 with file errors), 2 usage or fatal error, 130 interrupted, 141 stdout
closed early.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from safehold.cli.bank import parse_threshold_options
from safehold.cli.common import get_bank_service, handle_errors, load_settings, make_console
from safehold.cli.scan_run import (
    check_outputs,
    guard_run,
    print_summary,
    record_sink,
    warn_nothing_to_match,
)
from safehold.errors import InvalidInputError
from safehold.scanning import ScanConfig
from safehold.scanning import scan as run_scan
from safehold.scanning.config import (
    DEFAULT_MEMORY_LIMIT_BYTES,
    MAX_WORKERS_PER_CPU,
    MIN_MEMORY_LIMIT_BYTES,
    check_preshrink,
    max_memory_limit_bytes,
    max_workers,
)


def parse_thresholds(values: list[str]) -> dict[str, int]:
    """Parse repeated ``TYPE=N`` options into ``{type: n}`` (the parser ``bank create``
    uses, :func:`safehold.cli.bank.parse_threshold_options`).

    Raises:
        typer.BadParameter: a value is not ``name=integer``, or a type is given twice
            (exit status 2).
    """
    try:
        return parse_threshold_options(values)
    except InvalidInputError as exc:
        raise typer.BadParameter(exc.message, param_hint="--threshold") from None


def check_paths(values: list[str]) -> list[str]:
    """Refuse an empty path (it would mean the working folder) and a lone ``-`` (stdin).

    Raises:
        typer.BadParameter: exit status 2 with a usage message.
    """
    for value in values:
        if not value:
            raise typer.BadParameter(
                "an empty path names no file; use . for the current folder", param_hint="PATH"
            )
        if value == "-" and not os.path.lexists(value):
            raise typer.BadParameter(
                "reading from standard input is not supported; name files or folders",
                param_hint="PATH",
            )
    return values


def check_workers(value: int | None) -> int | None:
    """Refuse more workers than :func:`max_workers` (4 per CPU core)."""
    if value is not None and value > max_workers():
        raise typer.BadParameter(
            f"at most {max_workers()} ({MAX_WORKERS_PER_CPU} per CPU core on this machine); "
            f"got {value}",
            param_hint="--workers",
        )
    return value


def _check_memory(value: int) -> int:
    most = max_memory_limit_bytes() // 2**20
    if value > most:
        raise typer.BadParameter(
            f"at most {most} MiB (this machine's RLIMIT_AS bound); got {value}",
            param_hint="--memory-limit",
        )
    if value * 2**20 < MIN_MEMORY_LIMIT_BYTES:
        raise typer.BadParameter(
            f"at least {MIN_MEMORY_LIMIT_BYTES // 2**20} MiB (a worker maps about 300 MiB "
            f"before it opens a file); got {value}",
            param_hint="--memory-limit",
        )
    return value


def check_preshrink_option(value: int | None) -> int | None:
    """``--preshrink`` (``scan`` and ``hash``): 0 or at least 64 (:func:`check_preshrink`).

    Raises:
        typer.BadParameter: exit status 2 with a usage message.
    """
    if value is not None:
        try:
            check_preshrink(value)
        except InvalidInputError as exc:
            raise typer.BadParameter(exc.message, param_hint="--preshrink") from None
    return value


def _file(value: str | None) -> Path | None:
    """``--output FILE``: None (and ``-``) mean standard output."""
    return None if value is None or value == "-" else Path(value)


def _check_file_name(param: typer.CallbackParam, value: str | None) -> str | None:
    if value == "":
        raise typer.BadParameter("an empty file name", param_hint=f"--{param.name}")
    if value == "-" and param.name == "html":
        raise typer.BadParameter(
            "the report cannot go to standard output; name a file", param_hint="--html"
        )
    return value


WORKERS_HELP = "Worker processes (at most 4 per CPU core). Default: one per CPU core."


def scan(
    paths: list[str] = typer.Argument(
        ...,
        metavar="PATH",
        help="Files and folders to scan (recursively).",
        callback=check_paths,
        show_default=False,
    ),
    output: str | None = typer.Option(
        None,
        "--output",
        "-o",
        metavar="FILE",
        callback=_check_file_name,
        help="Write JSON Lines to this regular file instead of stdout ('-': stdout). "
        "Links, devices and FIFOs are refused.",
    ),
    html: str | None = typer.Option(
        None,
        "--html",
        metavar="FILE",
        callback=_check_file_name,
        help="Also write a self-contained HTML report to this regular file.",
    ),
    workers: int | None = typer.Option(
        None, "--workers", "-j", min=1, metavar="N", callback=check_workers, help=WORKERS_HELP
    ),
    signal_types: list[str] = typer.Option(
        [],
        "--signal-type",
        "-t",
        metavar="TYPE",
        help="Compute only this signal type (repeatable): md5, sha256, pdq, vpdq.",
    ),
    thresholds: list[str] = typer.Option(
        [],
        "--threshold",
        metavar="TYPE=N",
        help="Match distance for a signal type, overriding bank thresholds (repeatable, "
        "once per type).",
    ),
    bank_names: list[str] = typer.Option(
        [],
        "--bank",
        "-b",
        metavar="NAME",
        help="Match against this bank only (repeatable). Default: every enabled bank.",
    ),
    dihedral: bool = typer.Option(
        False,
        "--dihedral",
        metavar="",
        help="Also match photos rotated by 90/180/270 degrees or mirrored.",
    ),
    unletterbox: bool = typer.Option(
        False, "--unletterbox", metavar="", help="Also match photos with black bars removed."
    ),
    preshrink: int | None = typer.Option(
        None,
        "--preshrink",
        metavar="PX",
        callback=check_preshrink_option,
        help="Shrink photos to this longest side before PDQ: 0 = never, else at least 64. "
        "Default: 512.",
    ),
    timeout: float | None = typer.Option(
        None,
        "--timeout",
        min=0.1,
        metavar="SECONDS",
        help="Seconds per file. Default: SAFEHOLD_FILE_TIMEOUT_SECONDS (120).",
    ),
    memory_mib: int = typer.Option(
        DEFAULT_MEMORY_LIMIT_BYTES // 2**20,
        "--memory-limit",
        metavar="MIB",
        callback=_check_memory,
        help=f"Address-space bound per worker process, in MiB (at least "
        f"{MIN_MEMORY_LIMIT_BYTES // 2**20}).",
    ),
    no_cache: bool = typer.Option(
        False,
        "--no-cache",
        metavar="",
        help="Hash every file again and do not update the scan cache.",
    ),
    hash_only: bool = typer.Option(
        False,
        "--hash-only",
        metavar="",
        help="Only hash: do not load banks or match (exit 0, not 8, without banks).",
    ),
    quiet: bool = typer.Option(
        False,
        "--quiet",
        "-q",
        metavar="",
        help="No progress bar and no summary (the nothing-to-match warning still shows).",
    ),
) -> None:
    """Scan files and folders for known material; write one JSON line per file.

    Exit status:
    0 no match and no file errors; 1 match found; 4 file errors, no match;
    5 matches and file errors; 8 nothing to match against (no bank entries: files
    only hashed; see --hash-only), 12 the same with file errors; 2 usage or fatal
    error; 130 interrupted (Ctrl-C); 141 output closed early (e.g. piped into head).
    """
    console = make_console(stderr=True)
    interrupted = "interrupted" + ("" if no_cache else "; the scan cache keeps the files done")
    with guard_run(console, interrupted), handle_errors():
        settings = load_settings()
        output_path, html_path = _file(output), _file(html)
        overrides: dict[str, Any] = {
            "thresholds": parse_thresholds(thresholds),
            "banks": tuple(bank_names),
            "signal_types": tuple(s.lower() for s in signal_types),
            "dihedral": dihedral,
            "unletterbox": unletterbox,
            "memory_limit_bytes": memory_mib * 2**20,
            "output_paths": check_outputs(output_path, html_path),
        }
        if preshrink is not None:
            overrides["preshrink"] = preshrink
        if workers is not None:
            overrides["workers"] = workers
        if timeout is not None:
            overrides["file_timeout_seconds"] = timeout
        config = ScanConfig.from_settings(settings, use_cache=not no_cache, **overrides)
        if hash_only and bank_names:
            raise InvalidInputError("--hash-only matches nothing; leave out --bank")
        banks = None if hash_only else get_bank_service()
        show_progress = not quiet and console.is_terminal
        with record_sink(output_path, html_path, console, show_progress) as sink:
            on_record, on_total, report = sink
            summary = run_scan(
                paths, config=config, banks=banks, on_record=on_record, on_total=on_total
            )
        if report is not None and html_path is not None:
            report.write(html_path, summary)
        if not quiet:
            print_summary(console, summary, banks, bank_names, hash_only=hash_only)
        elif not hash_only and summary.bank_entries == 0:
            warn_nothing_to_match(console, banks, bank_names)
    raise typer.Exit(summary.exit_status(hash_only=hash_only))
