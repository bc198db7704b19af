"""``safehold hash``: print the signals of files, without banks or a database.

For checking what Safehold computes for a file (and comparing with another tool). Each file
is sniffed and hashed on its own: a bad file prints its error and the rest still run. Errors
use the codes of ``safehold scan`` (``not_found``, ``unreadable``, ``corrupt``, ...; see
``docs/scanning.md``), and a video hashed only in part (``Signal.partial``) prints its signal
and a ``corrupt`` error. Output is a Rich table (lines never wrapped when piped), or one JSON
object per file with ``--json``. Exit status: 0 when every file was hashed whole, 4 when any
file had an error (as ``safehold scan``), 2 for usage errors and bad settings.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from safehold.cli.common import display_path, handle_errors, load_settings, make_console
from safehold.cli.scan import check_paths, check_preshrink_option
from safehold.errors import CorruptContentError, NotFoundError, SafeholdError
from safehold.scanning.errors import UnreadableContentError
from safehold.scanning.walk import describe_file_kind
from safehold.settings import Settings
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
    """Signals of one file, and the first error met (path, detection, a signal type, or a
    signal computed only in part)."""

    path: Path
    content_type: str | None = None
    signals: dict[str, Signal] = field(default_factory=dict)
    error: SafeholdError | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON form: path, content type, signals (value, quality, named variants with their
        qualities, ``partial``), error."""
        return {
            "path": str(self.path),
            "content_type": self.content_type,
            "signals": {
                name: {
                    "value": s.value,
                    "quality": s.quality,
                    "variants": {s.variant_name(i): v for i, v in enumerate(s.variants)},
                    "variant_qualities": {
                        s.variant_name(i): s.variant_quality(i) for i in range(len(s.variants))
                    },
                    "partial": s.partial,
                }
                for name, s in sorted(self.signals.items())
            },
            "error": self.error.to_dict() if self.error else None,
        }


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory (safehold hash takes files; use safehold scan for folders)"
    return describe_file_kind(mode)


def path_error(path: Path) -> SafeholdError | None:
    """Why ``path`` cannot be hashed before it is opened, in ``safehold scan``'s terms.

    Returns:
        ``NotFoundError`` (``not_found``) for a missing file or a broken symbolic link,
        ``UnreadableContentError`` (``unreadable``) for a directory, a special file or a
        path that cannot be examined, or None for a regular file.
    """
    try:
        mode = os.stat(path).st_mode  # follows symbolic links
    except FileNotFoundError:
        if os.path.islink(path):
            return NotFoundError("broken symbolic link")
        return NotFoundError("no such file or directory")
    except OSError as exc:
        return UnreadableContentError(f"cannot read: {exc.strerror or type(exc).__name__}")
    if not stat.S_ISREG(mode):
        return UnreadableContentError(f"cannot hash: {_kind(mode)}")
    return None


def hash_file(path: Path, types: Sequence[SignalType], settings: Settings) -> FileSignals:
    """Hash ``path`` with every type in ``types`` that handles its content type.

    Never raises for a bad file: the first ``SafeholdError`` is kept in ``error``, and the
    signals that did succeed (e.g. md5 of a corrupt JPEG) are kept too. A signal computed
    from part of the file (``Signal.partial``) is kept, and its message becomes a
    ``CorruptContentError`` when nothing else went wrong.
    """
    result = FileSignals(path)
    result.error = path_error(path)
    if result.error is not None:
        return result
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
    for signal in result.signals.values():
        if signal.partial and result.error is None:
            result.error = CorruptContentError(signal.partial)
    return result


def _show_value(name: str, signal: Signal) -> str:
    if name == "vpdq":
        return f"{signal.value.count(chr(10)) + 1} frames"
    return signal.value


def _show_quality(signal: Signal, cls: type[SignalType], min_quality: int | None) -> str:
    if signal.quality is None:
        return "-"
    text = str(signal.quality)
    if not cls.is_matchable(signal, min_quality):
        usable = cls.matchable_queries(signal, min_quality)
        text += " (low: variants only)" if usable else " (low: not matched)"
    return text


def _show_variants(signal: Signal) -> str:
    if not signal.variants:
        return "-"
    shown = []
    for i in range(len(signal.variants)):
        quality = signal.variant_quality(i)
        own = quality == signal.quality or quality is None
        shown.append(signal.variant_name(i) + ("" if own else f" (quality {quality})"))
    return ", ".join(shown)


def _table(results: Sequence[FileSignals], min_quality: int) -> Table:
    table = Table(title="Signals")
    for column in ("file", "type", "signal", "value", "quality", "variants"):
        table.add_column(column, overflow="fold")
    for r in results:
        path, content_type = display_path(r.path), r.content_type or "-"
        if r.error is not None:
            message = f"[red]{escape(f'{r.error.code}: {r.error.message}')}[/red]"
            table.add_row(path, content_type, "error", message, "", "")
        for name, s in sorted(r.signals.items()):
            cls = get_signal_type(name)
            floor = min_quality if name == "pdq" else None
            table.add_row(
                path,
                content_type,
                name,
                _show_value(name, s),
                _show_quality(s, cls, floor),
                _show_variants(s),
            )
    return table


@app.callback(invoke_without_command=True)
def hash_files(
    file_names: list[str] = typer.Argument(
        ...,
        metavar="FILES...",
        help="Files to hash (content is sniffed, not the name).",
        callback=check_paths,
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
        None,
        "--preshrink",
        callback=check_preshrink_option,
        help="Longest side (px) photos shrink to before PDQ: 0 = never, else at least 64.",
    ),
    json_lines: bool = typer.Option(False, "--json", help="Print one JSON object per file."),
) -> None:
    """Print the signals of FILES (a bad file gets an error line; the others still run)."""
    with handle_errors():
        settings = load_settings()
        defaults = HashOptions()
        options = HashOptions(
            dihedral=dihedral,
            unletterbox=unletterbox,
            preshrink=defaults.preshrink if preshrink is None else preshrink,
            vpdq_seconds_per_frame=settings.vpdq_seconds_per_frame,
            max_image_pixels=settings.max_image_pixels,
            max_video_seconds=settings.max_video_seconds,
            min_variant_quality=settings.pdq_min_quality,
        )
        try:
            classes = [get_signal_type(n) for n in (signal_type or SIGNAL_TYPES.names())]
        except SafeholdError as exc:
            raise typer.BadParameter(exc.message, param_hint="--signal-type") from None
        types = [cls(options) for cls in classes]
        results: list[FileSignals] = []
        for path in map(Path, file_names):
            result = hash_file(path, types, settings)
            results.append(result)
            if json_lines:
                typer.echo(json.dumps(result.to_json(), sort_keys=True))
        if not json_lines:
            make_console().print(_table(results, settings.pdq_min_quality))
    if any(r.error is not None for r in results):
        raise typer.Exit(EXIT_FILE_ERRORS)
