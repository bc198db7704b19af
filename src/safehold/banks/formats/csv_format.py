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
from collections.abc import Callable, Iterable, Iterator

from safehold.banks.formats.fields import RowBuilder, RowItem, join_note
from safehold.banks.lines import DecodedLines
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
    "CSV_FIELD_LIMIT", "HEADER_ALIASES", "csv_rows", "header_map", "line_cells", "read_csv_rows",
    "row_problems",
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
    of the first line ``lines`` yields (a :class:`DecodedLines` read past a header)."""
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)
    problem_in = row_problems(lines)
    reader = csv.reader(lines, strict=True)  # strict: a quote left open is malformed
    # Physical line numbers: DecodedLines reads a run of empty lines as one item.
    decoded = lines if isinstance(lines, DecodedLines) else None
    last_line = first_line - 1
    while True:
        start = last_line + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            last_line = decoded.line if decoded else reader.line_num
            problem = problem_in(start, last_line) if problem_in else None
            yield start, FormatError(problem or f"malformed CSV ({exc})", start)
            continue
        last_line = decoded.line if decoded else reader.line_num
        problem = problem_in(start, last_line) if problem_in else None
        if problem is not None:
            yield start, FormatError(problem, start)
        elif "\x00" in "".join(row):
            yield start, FormatError("malformed CSV (a NUL character)", start)
        else:
            yield start, row


def read_csv_rows(lines: Iterable[str], builder: RowBuilder) -> Iterator[RowItem]:
    """Rows of a CSV bank file (module docstring) as :data:`Row` tuples or errors.

    Blank rows and rows whose first cell starts with ``#`` are skipped.
    """
    columns: dict[int, str] | None = None
    index: dict[str, int] = {}
    positions: tuple[int, ...] = ()
    type_where = "in column 1"
    build = builder.build
    for start, row in csv_rows(lines):
        if isinstance(row, FormatError):
            yield row
            continue
        if not row or (row[0].lstrip().startswith("#")) or not "".join(row).strip():
            continue
        if columns is None:
            header = header_map(row)
            columns = header or dict(enumerate(CSV_COLUMNS))
            index = {field: i for i, field in sorted(columns.items(), reverse=True)}
            positions = tuple(index.get(f, -1) for f in _FIELDS)
            type_where = next(
                (f"in column {i + 1}" for i, f in columns.items() if f == "signal_type"),
                "in the signal_type column",
            )
            if header is not None:
                continue
        cells = (
            row
            if positions == _IDENTITY and len(row) >= len(_FIELDS)
            else [row[i] if 0 <= i < len(row) else "" for i in positions]
        )
        note, tags = cells[6], cells[4]
        yield build(  # positional: this call runs once per row
            start, cells[0], cells[1], type_where, cells[5], cells[3], cells[2],
            join_note(note, tags) if (note or tags) else "",
        )  # fmt: skip
