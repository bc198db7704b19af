"""The CSV bank file (python-threatexchange style): ``--format csv``.

The columns of ``threatexchange dataset --print-signals --csv`` (python-threatexchange
``cli/dataset_cmd.py``: ``signal_type,signal_str,collab,category,tags``) plus Safehold's
``quality`` and ``note``. A header row is optional; without one, columns are taken in that
order. Column meanings on import:

* ``signal_type``: ``pdq``, ``md5``, ``sha1``, ``sha256``, ``vpdq``; python-threatexchange's
  ``video_md5`` / ``video_sha256`` map to ``md5`` / ``sha256``. Optional when the importer
  gives a signal type.
* ``signal_str``: the hash (also accepted as ``signal``, ``value`` or ``hash``). vPDQ values
  are multi-line text in one quoted field.
* ``collab``: becomes the entry's ``source`` (also accepted as ``source``).
* ``category``: a Safehold category ``scheme:code`` (e.g. ``ncmec-industry:A1``), or a
  python-threatexchange opinion: ``POSITIVE_CLASS`` / ``INVESTIGATION_SEED`` import without a
  category; ``NEGATIVE_CLASS`` (a known false positive or test signal) is refused as a bad row.
* ``tags``: space-separated; kept in ``note`` as ``tags: ...`` when the row has no note.
* ``quality``: integer 0-100 or empty. ``note``: free text.
"""

from __future__ import annotations

import csv
import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from operator import methodcaller

from safehold.banks.formats.fields import RowBuilder, RowItem, join_note
from safehold.banks.lines import CSV_LINE_LIMIT, DecodedLines
from safehold.banks.writers import CSV_COLUMNS
from safehold.errors import FormatError

HEADER_ALIASES = {
    "signal_type": "signal_type",
    "type": "signal_type",
    "signal_str": "signal_str",
    "signal": "signal_str",
    "value": "signal_str",
    "hash": "signal_str",
    "collab": "collab",
    "source": "collab",
    "category": "category",
    "tags": "tags",
    "quality": "quality",
    "note": "note",
}
# vPDQ of a 4-hour video is ~1.2 MB of text in one field; csv's default cap is 128 KiB.
CSV_FIELD_LIMIT = 64 * 1024 * 1024
_FIELDS = ("signal_type", "signal_str", "collab", "category", "tags", "quality", "note")
_IDENTITY = tuple(range(len(_FIELDS)))

__all__ = [
    "CSV_FIELD_LIMIT", "HEADER_ALIASES", "cells_to_rows", "csv_rows", "header_map", "line_cells",
    "read_csv_rows", "read_unquoted_csv_rows", "row_problems", "unquoted_text",
]  # fmt: skip


def header_map(row: list[str]) -> dict[int, str] | None:
    """Column index -> field for a header row, or None when ``row`` is data."""
    names = [cell.strip().lower() for cell in row]
    if "signal_str" not in {HEADER_ALIASES.get(n) for n in names}:
        return None
    return {i: HEADER_ALIASES[n] for i, n in enumerate(names) if n in HEADER_ALIASES}


def line_cells(line: str, delimiter: str = ",") -> list[str]:
    """The cells of one line read as a CSV row (for sniffing a header), ``[]`` when it is not
    one (a field over the csv module's limit, a NUL character, a quote left open)."""
    try:
        return next(csv.reader([line], delimiter=delimiter, strict=True), [])
    except csv.Error:
        return []


def row_problems(lines: Iterable[str]) -> Callable[[int, int], str | None] | None:
    """``lines.problem_in`` for :class:`DecodedLines` (undecodable or over-long lines)."""
    return lines.problem_in if isinstance(lines, DecodedLines) else None


def csv_rows(
    lines: Iterable[str], first_line: int = 1
) -> Iterator[tuple[int, list[str] | FormatError]]:
    """``(first physical line, cells)`` per CSV row, or a :class:`FormatError` for a row that
    is malformed, undecodable, over-long or holds a NUL character. ``first_line``: the number
    of the first line ``lines`` yields (a :class:`DecodedLines` read past a header).

    A malformed row that spans several lines (a quote opened and never closed, or closed where
    no field ends: a stray ``"``) is one bad row at its first line, and the lines after that
    one are read again as rows: the quote does not swallow the rest of the file. (A quoted
    field that does close where a field may end is read as the field it says it is.)
    """
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)
    source = _RowLines(lines, first_line)
    kept = source.kept
    reader = csv.reader(source, strict=True)  # strict: a quote left open is malformed
    while True:
        kept.clear()  # a new row
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            start, problem = source.row_start(), source.row_problem()
            why = _CSV_ERRORS.get(str(exc), str(exc))
            if source.read_again_after_first_line():
                message = f"malformed CSV ({why}; a quote here swallowed the lines after it)"
            else:
                message = f"malformed CSV ({why})"
            yield start, FormatError(problem or message, start)
            continue
        start = kept[0][1]
        problem = source.row_problem() if source.problems else None
        if problem is not None:
            yield start, FormatError(problem, start)
        elif "\x00" in "".join(row):
            yield start, FormatError("malformed CSV (a NUL character)", start)
        else:
            yield start, row


#: The ``csv`` module's messages that name its own internals, in a user's words.
_CSV_ERRORS = {
    "new-line character seen in unquoted field - do you need to open the file in "
    "universal-newline mode?": "a carriage return (\\r) inside a line, not at its end",
}


class _RowLines:
    """The lines a ``csv.reader`` reads, with their physical line numbers and problems (from
    :meth:`DecodedLines.problem_in`); the lines of the row being read are kept (:attr:`kept`,
    cleared by the caller at each row), so a malformed row can be read again from its second
    line (:func:`csv_rows`). Memory: one row's lines, which the ``csv`` module's field limit
    bounds."""

    def __init__(self, lines: Iterable[str], first_line: int) -> None:
        self._lines = iter(lines)
        self._decoded = lines if isinstance(lines, DecodedLines) else None
        self._again: deque[tuple[str, int, int, str | None]] = deque()
        #: ``(text, first line, last line, problem)`` of the current row's lines.
        self.kept: list[tuple[str, int, int, str | None]] = []
        #: How many lines read so far had a problem (none: rows skip the look-up).
        self.problems = 0
        self._line = first_line - 1  # last physical line read

    def __iter__(self) -> _RowLines:
        return self

    def __next__(self) -> str:
        if self._again:
            item = self._again.popleft()
        else:
            text = next(self._lines)
            first = self._line + 1
            decoded = self._decoded
            if decoded is None:
                item = (text, first, self._line + (text.count("\n") or 1), None)
            elif decoded.problems:
                problem = decoded.problem_in(first, decoded.line)
                self.problems += problem is not None
                item = (text, first, decoded.line, problem)
            else:  # a run of empty lines is one item
                item = (text, first, decoded.line, None)
        self._line = item[2]
        self.kept.append(item)
        return item[0]

    def row_start(self) -> int:
        """The first physical line of the row read last (the next line when none was read)."""
        return self.kept[0][1] if self.kept else self._line + 1

    def row_problem(self) -> str | None:
        """The first line problem (undecodable, over-long) among the row's lines."""
        return next((item[3] for item in self.kept if item[3] is not None), None)

    def read_again_after_first_line(self) -> bool:
        """Hand the row's lines after its first again; False when it had only one."""
        if len(self.kept) < 2:
            return False
        first, *rest = self.kept
        self._again.extendleft(reversed(rest))
        self._line = first[2]
        del self.kept[1:]
        return True


def read_csv_rows(lines: Iterable[str], builder: RowBuilder) -> Iterator[RowItem]:
    """Rows of a CSV bank file (module docstring) as :data:`Row` tuples or errors.

    Blank rows and rows whose first cell starts with ``#`` are skipped.
    """
    return cells_to_rows(csv_rows(lines), builder)


def unquoted_text(data: bytes) -> str | None:
    """CSV text ``data`` decoded, when each of its lines is certainly one row whose cells a
    plain split on ``,`` gives exactly as Python's ``csv`` reader would: valid UTF-8 with no
    ``"``, carriage return or NUL character, and no line over ``lines.CSV_LINE_LIMIT`` bytes
    (``data`` is not longer than that). None otherwise: read it with :func:`read_csv_rows`.
    A leading UTF-8 byte order mark is dropped, as :class:`~safehold.banks.lines.DecodedLines`
    drops it.
    """
    if len(data) > CSV_LINE_LIMIT or b'"' in data or b"\r" in data or b"\x00" in data:
        return None
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return None


def read_unquoted_csv_rows(text: str, builder: RowBuilder) -> Iterator[RowItem]:
    """:func:`read_csv_rows` of text :func:`unquoted_text` accepted, line 1 first: the same
    rows and errors, from a split in C instead of a line reader and the ``csv`` module in
    Python (a 48 MiB part of a hash list: 8 % less parser CPU, measured)."""
    cells = map(methodcaller("split", ","), _text_lines(text))
    return cells_to_rows(zip(itertools.count(1), cells), builder)


def _text_lines(text: str, block: int = 1 << 20) -> Iterator[str]:
    """The lines of ``text`` without their newlines, split a block of about ``block``
    characters at a time (a list of every line would hold the text twice)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start + block)
        if end < 0:
            end = len(text) - 1 if text.endswith("\n") else len(text)
        yield from text[start:end].split("\n")
        start = end + 1


def cells_to_rows(
    cell_rows: Iterable[tuple[int, list[str] | FormatError]], builder: RowBuilder
) -> Iterator[RowItem]:
    """Validated rows (or errors) of ``(first line, cells or error)`` per CSV row: the first
    non-blank row is the header when it names the columns (module docstring), else data in
    python-threatexchange's column order."""
    columns: dict[int, str] | None = None
    index: dict[str, int] = {}
    positions: tuple[int, ...] = ()
    identity = False  # the columns are python-threatexchange's, in order
    width = len(_FIELDS)
    type_where = "in column 1"
    build = builder.build
    for start, row in cell_rows:
        if isinstance(row, FormatError):
            yield row
            continue
        if not row:
            continue
        first = row[0].lstrip()
        if first.startswith("#") or (not first and not "".join(row).strip()):
            continue  # a comment, or a blank row (joined only when the first cell is blank)
        if columns is None:
            header = header_map(row)
            columns = header or dict(enumerate(CSV_COLUMNS))
            index = {field: i for i, field in sorted(columns.items(), reverse=True)}
            positions = tuple(index.get(f, -1) for f in _FIELDS)
            identity = positions == _IDENTITY
            type_where = next(
                (f"in column {i + 1}" for i, f in columns.items() if f == "signal_type"),
                "in the signal_type column",
            )
            if header is not None:
                continue
        cells = (
            row
            if identity and len(row) >= width
            else [row[i] if 0 <= i < len(row) else "" for i in positions]
        )
        note, tags = cells[6], cells[4]
        yield build(  # positional: this call runs once per row
            start, cells[0], cells[1], type_where, cells[5], cells[3], cells[2],
            join_note(note, tags) if (note or tags) else "",
        )  # fmt: skip
