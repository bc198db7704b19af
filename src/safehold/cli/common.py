"""What every command group shares: error reporting, settings, consoles and safe file names.

``handle_errors`` turns any :class:`~safehold.errors.SafeholdError` (and a malformed
``SAFEHOLD_*`` setting) into ``error: <message>`` on stderr and exit status 2 (the documented
status for usage and fatal errors), so commands never show a traceback for an expected
failure. ``load_settings`` reads the settings with the same error. ``get_bank_service`` opens
the database named by the settings (``SAFEHOLD_DATABASE_URL``, else the default SQLite file,
created on first use). ``make_console`` gives Rich consoles that do not wrap or cut lines when
the output is a pipe or a file, and ``display_path`` renders a file name so it cannot drive the
terminal (escape sequences in names) or Rich markup.
"""

from __future__ import annotations

import errno
import os
import re
import sys
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console
from rich.markup import escape as escape_markup

from safehold.banks.service import BankService
from safehold.errors import ConfigurationError, SafeholdError
from safehold.settings import Settings, get_settings
from safehold.storage.engine import open_database

#: Exit status for usage errors and Safehold errors (Click uses 2 for usage errors too).
EXIT_ERROR = 2

#: Exit status after stdout was closed early (e.g. piped into ``head``): 128 + SIGPIPE, as a
#: shell reports a command killed by SIGPIPE.
EXIT_BROKEN_PIPE = 141

#: Console width when the output is not a terminal: wide enough that no name, path or hash is
#: wrapped or cut with an ellipsis (paths are at most 4096 bytes on Linux, a few times that
#: once escaped).
UNWRAPPED_WIDTH = 1 << 16

#: How pydantic-settings' SettingsError names the field it could not parse.
_SETTINGS_FIELD = re.compile(r'field "(\w+)"')
_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
#: Unicode categories escaped by :func:`display_path`: controls, format characters (bidi
#: overrides, zero-width), line and paragraph separators, and lone surrogates.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


class _Console(Console):
    """Rich's console, exiting with :data:`EXIT_BROKEN_PIPE` (not 1) on a closed pipe."""

    def on_broken_pipe(self) -> None:
        """Called by Rich when the reader of its output went away (e.g. ``| head``)."""
        _exit_broken_pipe()


def make_console(*, stderr: bool = False) -> Console:
    """A Rich console on stdout (or stderr) for tables, progress bars and messages.

    On a terminal it behaves as Rich does (fits the terminal's width). When the stream is a
    pipe or a file, lines are neither wrapped nor cut (width :data:`UNWRAPPED_WIDTH`,
    ``soft_wrap``), so a long name, path or hash stays whole on one line for ``grep``.
    Emoji codes are off (``a:smile:.jpg`` stays as written).
    """
    console = _Console(stderr=stderr, emoji=False)
    if not console.is_terminal:
        console.width = UNWRAPPED_WIDTH
        console.soft_wrap = True
    return console


def stderr_console() -> Console:
    """A Rich console on stderr, for progress bars, summaries and messages (see
    :func:`make_console`)."""
    return make_console(stderr=True)


def _escape_char(char: str) -> str:
    code = ord(char)
    if char in _ESCAPES:
        return _ESCAPES[char]
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, as os.fsdecode smuggles it in
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def display_text(text: str, *, markup: bool = True) -> str:
    """Render free text (a description, source, note, category) safely for a terminal.

    As :func:`display_path` but a backslash is left as it is: control characters, Unicode
    format characters, line/paragraph separators and lone surrogates become backslash escapes,
    and with ``markup=True`` (default) Rich markup is escaped.
    """
    return _render(text, markup=markup, double_backslash=False)


def display_path(path: Path | str, *, markup: bool = True) -> str:
    """Render a file name for a terminal: ``a\\x1b[2Jb.jpg`` instead of raw escape codes.

    Control characters (C0, DEL, C1), Unicode format characters (bidi overrides, zero-width),
    line/paragraph separators and lone surrogates become backslash escapes (``\\n``,
    ``\\x1b``, ``\\u202e``); a byte that is not valid in the file-system encoding (which
    Python carries as a surrogate, PEP 383) shows as ``\\xNN``. On POSIX a literal backslash is
    doubled, so the rendering is unambiguous. With ``markup=True`` (the default) the result is
    also escaped for Rich markup, so it can go into ``console.print`` with markup on; pass
    ``markup=False`` for ``typer.echo``/``print`` or ``markup=False`` consoles.

    Args:
        path: the name as Python holds it (``os.fsdecode`` form; bytes are decoded so too).
        markup: escape Rich markup (``[bold]`` in a name prints as text).

    Returns:
        A string that encodes as UTF-8 and holds no terminal control characters.
    """
    return _render(os.fsdecode(path), markup=markup, double_backslash=os.sep == "/")


def _render(text: str, *, markup: bool, double_backslash: bool) -> str:
    out: list[str] = []
    for char in text:
        if char == "\\" and double_backslash:
            out.append("\\\\")
        elif unicodedata.category(char) in _UNSAFE_CATEGORIES:
            out.append(_escape_char(char))
        else:
            out.append(char)
    rendered = "".join(out)
    return escape_markup(rendered) if markup else rendered


def count_noun(count: int, singular: str, plural: str | None = None) -> str:
    """``"1 file"``, ``"2 files"``, ``"1,234 entries"`` (``plural`` defaults to singular + s)."""
    word = singular if count == 1 else (plural or f"{singular}s")
    return f"{count:,} {word}"


def settings_error(exc: ValidationError | SettingsError) -> ConfigurationError:
    """Turn pydantic's error for a bad ``SAFEHOLD_*`` variable into a one-line message.

    ``exc`` is a ``ValidationError`` (a value out of range or of the wrong type) or
    pydantic-settings' ``SettingsError`` (a list or dict setting that is not JSON; its message
    names the field as ``field "name"``).

    Returns:
        ``ConfigurationError("setting SAFEHOLD_PDQ_THRESHOLD: Input should be ...")``; several
        bad settings are joined with ``"; "``. The offending value is not echoed (a database
        URL may hold a password).
    """
    if isinstance(exc, SettingsError):
        found = _SETTINGS_FIELD.search(str(exc))
        name = f"SAFEHOLD_{found.group(1).upper()}" if found else "SAFEHOLD_*"
        return ConfigurationError(f'setting {name}: not valid JSON (a list is written ["a", "b"])')
    parts = []
    for err in exc.errors():
        field = ".".join(str(part) for part in err.get("loc", ())) or "?"
        parts.append(f"setting SAFEHOLD_{field.upper()}: {err.get('msg', 'invalid value')}")
    return ConfigurationError("; ".join(parts) or f"invalid settings: {exc.title}")


def load_settings() -> Settings:
    """Return :func:`safehold.settings.get_settings`, reporting a bad variable cleanly.

    Raises:
        ConfigurationError: a ``SAFEHOLD_*`` variable does not parse or is out of range
            (inside :func:`handle_errors` this prints ``error: setting SAFEHOLD_X: <reason>``
            and exits with status 2).
    """
    try:
        return get_settings()
    except (ValidationError, SettingsError) as exc:
        raise settings_error(exc) from None


def silence_stdout() -> None:
    """Point file descriptor 1 at ``/dev/null`` after writing to stdout failed (closed pipe,
    full disk), so the interpreter's final flush of buffered output does not fail again with
    an "Exception ignored" message. Does nothing when stdout has no file descriptor (tests)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _exit_broken_pipe() -> NoReturn:
    silence_stdout()
    raise SystemExit(EXIT_BROKEN_PIPE)


@contextmanager
def handle_errors() -> Iterator[None]:
    """Print ``error: <message>`` to stderr and exit with status 2 on an expected failure.

    Covers any :class:`SafeholdError`, a malformed ``SAFEHOLD_*`` setting (pydantic's
    ``ValidationError`` from :func:`get_settings`, as ``error: setting SAFEHOLD_X: <reason>``)
    and ``OSError`` (files named on the command line: ``error: <file>: <reason>``). A broken
    pipe on stdout (output piped into ``head``) exits quietly with status 141.
    """
    try:
        yield
    except SafeholdError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    except ValidationError as exc:
        if exc.title != Settings.__name__:
            raise
        typer.echo(f"error: {settings_error(exc).message}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    except SettingsError as exc:
        typer.echo(f"error: {settings_error(exc).message}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    except BrokenPipeError:
        _exit_broken_pipe()
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            _exit_broken_pipe()
        reason = exc.strerror or str(exc) or type(exc).__name__
        where = f"{display_path(exc.filename, markup=False)}: " if exc.filename else ""
        typer.echo(f"error: {where}{reason}", err=True)
        raise typer.Exit(EXIT_ERROR) from None


def get_bank_service() -> BankService:
    """Return a :class:`BankService` on the configured database.

    Raises:
        ConfigurationError: a ``SAFEHOLD_*`` setting is malformed.
        StorageError: the database cannot be reached.
        DatabaseNotMigratedError: a server database needs ``safehold db upgrade``.
    """
    return BankService(open_database(load_settings()))
