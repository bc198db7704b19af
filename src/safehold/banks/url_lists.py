"""URL list files: read lists of URLs (plain or CSV) into ``url`` bank entries with their version.

Lists of URLs where abuse material was found (the IWF's URL list, a member's own) come as one
URL per line or as CSV with a ``url`` column. Each URL is canonicalised into a Safe Browsing
expression (:mod:`safehold.signals.url`); one that cannot be (no host, a scheme other than
http/https) is a bad row reported by its line number, never by its text: URL lists are as
confidential as hash lists.

**Plain** (``plain``): one URL per line, surrounding spaces ignored. A ``#`` is part of a URL
(a fragment, dropped by canonicalisation), so only lines *starting* with ``#`` are comments.
A comment before the first URL may carry the list version: ``# list-version: 2026-11-30`` (also
``# version: ...``).

**CSV** (``csv``): a header row naming a ``url`` column (``url``, ``address``, ``value`` or
``signal_str``), and optionally ``category`` (``scheme:code``), ``source`` (or ``collab``),
``note`` and ``list_version`` (or ``version``) columns; other columns are ignored. Without a
header row the URL is read from the first column.

**List version.** Each entry keeps the version of the list it was imported from (the
``--list-version`` option, else the row's ``list_version`` column, else the header comment),
so a match says which list version named the URL. Until the bank entry table has a column for
it, the version is stored at the start of the entry's note as ``list-version: <version>``
(followed by ``; <note>`` when the row has a note); :func:`list_version_of` reads it back. A
URL already in the bank is a duplicate and keeps the version it was first imported with.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator

from safehold.banks.formats.csv_format import line_cells
from safehold.banks.lines import DecodedLines
from safehold.banks.models import Category, NewEntry
from safehold.banks.validation import validate_category, validate_text
from safehold.errors import FormatError, InvalidInputError, SafeholdError
from safehold.signals.url import URL, UrlSignalType
from safehold.storage.tables import SOURCE_LENGTH

#: Formats of URL list files.
URL_FORMATS = ("plain", "csv")
#: What a note holding a list version starts with.
LIST_VERSION_PREFIX = "list-version: "
#: List versions: 1-64 characters, letters, digits and ``. _ : + -``, starting with a letter
#: or digit (dates, serial numbers, ``v2026.11``).
LIST_VERSION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,63}")

_HEADER_VERSION = re.compile(r"#\s*(?:list[-_ ]?)?version\s*[:=]\s*(\S+)\s*$", re.IGNORECASE)
_NOTE_VERSION = re.compile(re.escape(LIST_VERSION_PREFIX) + r"(\S+?)(?:;|$)")
_COLUMNS = {
    "url": "url",
    "address": "url",
    "value": "url",
    "signal_str": "url",
    "category": "category",
    "source": "source",
    "collab": "source",
    "note": "note",
    "list_version": "list_version",
    "version": "list_version",
}
_ReadItem = NewEntry | FormatError


def check_list_version(version: str) -> str:
    """Return ``version`` stripped if it matches :data:`LIST_VERSION_PATTERN`.

    Raises:
        InvalidInputError: anything else (the message states the rule).
    """
    version = version.strip()
    if not LIST_VERSION_PATTERN.fullmatch(version):
        raise InvalidInputError(
            "a list version is 1-64 letters, digits, '.', '_', ':', '+' or '-', "
            "starting with a letter or digit"
        )
    return version


def note_with_version(version: str | None, note: str = "") -> str:
    """The note stored for an entry of list ``version`` (module docstring)."""
    if version is None:
        return note
    return LIST_VERSION_PREFIX + version + (f"; {note}" if note else "")


def list_version_of(note: str) -> str | None:
    """The list version kept at the start of an entry's ``note``, or None."""
    found = _NOTE_VERSION.match(note)
    return found.group(1) if found else None


def sniff_url_format(lines: Iterable[str]) -> str:
    """``"csv"`` when the first line that is not blank or a comment is a header row naming a
    URL column (:data:`_COLUMNS`), else ``"plain"``."""
    for line in lines:
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        return "csv" if _header(line_cells(text)) is not None else "plain"
    return "plain"


def _header(row: list[str]) -> dict[int, str] | None:
    """Column index -> field for a header row naming a URL column, or None (a data row)."""
    cells = [c.strip().lower() for c in row]
    if "url" not in {_COLUMNS.get(c) for c in cells}:
        return None
    return {i: _COLUMNS[c] for i, c in enumerate(cells) if c in _COLUMNS}


class _Rows:
    """Builds one ``url`` entry per row from the import's defaults."""

    def __init__(self, list_version: str | None, category: Category | None, source: str):
        self.list_version = None if list_version is None else check_list_version(list_version)
        self.category = validate_category(category)
        self.source = validate_text("source", source, SOURCE_LENGTH)

    def build(self, line: int, fields: dict[str, str], version: str | None) -> _ReadItem:
        """Validate one row (``fields``: url, and optionally category, source, note and
        list_version); ``version`` is the header comment's."""
        try:
            value = UrlSignalType.validate_signal(fields.get("url", ""))
            chosen = self.list_version or fields.get("list_version", "").strip() or version
            category = fields.get("category", "").strip()
            note = fields.get("note", "").strip()
            return NewEntry(
                signal_type=URL,
                value=value,
                category=validate_category(Category.parse(category)) if category else self.category,
                source=validate_text(
                    "source", fields.get("source", "").strip() or self.source, SOURCE_LENGTH
                ),
                note=note_with_version(
                    None if chosen is None else check_list_version(chosen),
                    validate_text("note", note, len(note)),
                ),
            )
        except SafeholdError as exc:
            return FormatError(exc.message, line)


def read_url_list(
    lines: DecodedLines,
    fmt: str,
    *,
    list_version: str | None = None,
    category: Category | None = None,
    source: str = "",
) -> Iterator[_ReadItem]:
    """Read a URL list: a :class:`NewEntry` (canonical ``url`` value) or a
    :class:`FormatError` (with its line) per row; blank lines and comments are skipped.

    Args:
        lines: the file's strictly decoded lines (an undecodable or over-long line is a bad
            row).
        fmt: ``"plain"`` or ``"csv"`` (see :func:`sniff_url_format`).
        list_version: the version of every entry (wins over the file's own).
        category, source: for rows that do not carry their own.

    Raises:
        InvalidInputError: an unknown format, a malformed ``list_version``, an over-long
            ``source`` or a bad ``category`` (before any row is read).
    """
    if fmt not in URL_FORMATS:
        raise InvalidInputError(f"unknown URL list format; use {' or '.join(URL_FORMATS)}")
    rows = _Rows(list_version, category, source)
    return _read_plain(lines, rows) if fmt == "plain" else _read_csv(lines, rows)


def _read_plain(lines: DecodedLines, rows: _Rows) -> Iterator[_ReadItem]:
    version: str | None = None
    seen_url = False
    for raw in lines:
        number = lines.line
        problem = lines.problem_in(number, number)
        if problem is not None:
            yield FormatError(problem, number)
            continue
        text = raw.strip()
        if not text:
            continue
        if text.startswith("#"):
            found = _HEADER_VERSION.match(text)
            if found and not seen_url:
                version = found.group(1)
            continue
        seen_url = True
        yield rows.build(number, {"url": text}, version)


def _read_csv(lines: DecodedLines, rows: _Rows) -> Iterator[_ReadItem]:
    columns: dict[int, str] | None = None
    version: str | None = None
    last = 0
    reader = csv.reader(lines, strict=True)  # strict: a quote left open is malformed
    while True:
        start = last + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            last = lines.line
            yield FormatError(lines.problem_in(start, last) or f"malformed CSV ({exc})", start)
            continue
        last = lines.line
        problem = lines.problem_in(start, last)
        if problem is not None:
            yield FormatError(problem, start)
            continue
        if not row or not "".join(row).strip():
            continue
        if row[0].lstrip().startswith("#"):
            found = _HEADER_VERSION.match(",".join(row).strip())
            if found and columns is None:
                version = found.group(1)
            continue
        if columns is None:
            columns = _header(row)
            if columns is not None:
                continue
            columns = {0: "url"}  # no header row: the URL is in the first column
        fields = {columns[i]: cell for i, cell in enumerate(row) if i in columns}
        yield rows.build(start, fields, version)
