"""``safehold hash``: print the signals of files, without banks or a database.

For checking what Safehold computes for a file (and comparing with another tool). Each file
is sniffed and hashed on its own: a bad file prints its error and the rest still run. Output
is a Rich table, or one JSON object per file with ``--json``. Exit status: 0 when every file
was hashed, 4 when any file had an error (as ``safehold scan``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from safehold.errors import SafeholdError
from safehold.settings import Settings, get_settings
from safehold.signals import SIGNAL_TYPES, HashOptions, Signal, SignalType, get_signal_type
from safehold.signals.content import detect_content

#: Exit status when at least one file could not be hashed (same as ``safehold scan``).
EXIT_FILE_ERRORS = 4

app = typer.Typer(
    help="Print the signals (hashes) of files: md5, sha256, pdq, vpdq.",
    no_args_is_help=True,
    # One command mounted as a group (``safehold hash FILE...``): let options follow the files.
    context_settings={"allow_interspersed_args": True},
    subcommand_metavar="",
)


@dataclass(slots=True)
class FileSignals:
    """Signals of one file, and the first error met (detection or one signal type)."""

    path: Path
    content_type: str | None = None
    signals: dict[str, Signal] = field(default_factory=dict)
    error: SafeholdError | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON form: path, content type, signals (value, quality, named variants), error."""
        return {
            "path": str(self.path),
            "content_type": self.content_type,
            "signals": {
                name: {
                    "value": s.value,
                    "quality": s.quality,
                    "variants": {s.variant_name(i): v for i, v in enumerate(s.variants)},
                }
                for name, s in sorted(self.signals.items())
            },
            "error": self.error.to_dict() if self.error else None,
        }


def hash_file(path: Path, types: Sequence[SignalType], settings: Settings) -> FileSignals:
    """Hash ``path`` with every type in ``types`` that handles its content type.

    Never raises for a bad file: the first ``SafeholdError`` is kept in ``error``, and the
    signals that did succeed (e.g. md5 of a corrupt JPEG) are kept too.
    """
    result = FileSignals(path)
    try:
        content = detect_content(path, settings)
    except SafeholdError as exc:
        result.error = exc
        return result
    result.content_type = str(content.content_type)
    for signal_type in types:
        if content.content_type not in signal_type.content_types:
            continue
        try:
            result.signals[signal_type.name] = signal_type.hash_content(content)
        except SafeholdError as exc:
            result.error = result.error or exc
    return result


def _show_value(name: str, signal: Signal) -> str:
    if name == "vpdq":
        return f"{signal.value.count(chr(10)) + 1} frames"
    return signal.value


def _table(results: Sequence[FileSignals], min_quality: int) -> Table:
    table = Table(title="Signals")
    for column in ("file", "type", "signal", "value", "quality", "variants"):
        table.add_column(column, overflow="fold")
    for r in results:
        if r.error is not None:
            message = f"[red]{r.error.code}: {r.error.message}[/red]"
            table.add_row(str(r.path), r.content_type or "-", "error", message, "", "")
        for name, s in sorted(r.signals.items()):
            quality = "-" if s.quality is None else str(s.quality)
            if name == "pdq" and not get_signal_type(name).is_matchable(s, min_quality):
                quality += " (low: not matched)"
            variants = ", ".join(s.variant_names) or (
                "-" if not s.variants else str(len(s.variants))
            )
            table.add_row(
                str(r.path), r.content_type or "-", name, _show_value(name, s), quality, variants
            )
    return table


@app.callback(invoke_without_command=True)
def hash_files(
    files: list[Path] = typer.Argument(
        ..., help="Files to hash (content is sniffed, not the name)."
    ),
    signal_type: list[str] = typer.Option(
        [], "--signal-type", "-t", help="Signal type to compute (repeatable; default: all)."
    ),
    dihedral: bool = typer.Option(
        False, "--dihedral", help="Also hash the 7 rotations/flips (pdq)."
    ),
    unletterbox: bool = typer.Option(
        False, "--unletterbox", help="Also hash without black bars (pdq)."
    ),
    preshrink: int | None = typer.Option(
        None, "--preshrink", min=0, help="Longest side (px) photos shrink to before PDQ; 0 = never."
    ),
    json_lines: bool = typer.Option(False, "--json", help="Print one JSON object per file."),
) -> None:
    """Print the signals of FILES (a bad file gets an error line; the others still run)."""
    settings = get_settings()
    defaults = HashOptions()
    options = HashOptions(
        dihedral=dihedral,
        unletterbox=unletterbox,
        preshrink=defaults.preshrink if preshrink is None else preshrink,
        vpdq_seconds_per_frame=settings.vpdq_seconds_per_frame,
        max_image_pixels=settings.max_image_pixels,
        max_video_seconds=settings.max_video_seconds,
    )
    try:
        classes = [get_signal_type(n) for n in (signal_type or SIGNAL_TYPES.names())]
    except SafeholdError as exc:
        raise typer.BadParameter(exc.message, param_hint="--signal-type") from None
    types = [cls(options) for cls in classes]
    console = Console()
    results: list[FileSignals] = []
    for path in files:
        result = hash_file(path, types, settings)
        results.append(result)
        if json_lines:
            typer.echo(json.dumps(result.to_json(), sort_keys=True))
    if not json_lines:
        console.print(_table(results, settings.pdq_min_quality))
    if any(r.error is not None for r in results):
        raise typer.Exit(EXIT_FILE_ERRORS)
