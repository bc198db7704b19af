"""Multi-hash lists in the IWF style: one row per image, a column per hash (``--format iwf``).

The Internet Watch Foundation's hash list gives each known image its MD5, SHA-1, SHA-256 and
PDQ (and PhotoDNA, which Safehold does not compute) side by side, with the image's grade;
Project VIC's and many forensic tools' CSV exports look the same. Each hash cell of a row
becomes one bank entry; a bad cell is a bad row of its own (its line number and column named)
and the row's other hashes are still imported.

A header row is required; names are matched ignoring case, spaces, ``-`` and ``_``:

* hash columns: ``md5``, ``sha1``, ``sha256``, ``pdq`` (also ``md5_hash``, ``sha1_hash``,
  ``sha256_hash``, ``pdq_hash``); ``photodna`` is recognised and skipped.
* ``category`` (or ``grade``, ``severity``): ``scheme:code``, or a bare code taken in the
  reader's category scheme (``iwf`` by default: the IWF grades images A, B or C, the UK
  sentencing categories).
* ``quality`` (or ``pdq_quality``): the PDQ quality, 0-100, on the PDQ entry only.
* ``id`` (or ``hash_id``, ``image_id``, ``mediaid``): kept in each entry's note as ``id N``.

The delimiter is the one of ``,``, ``;`` and tab that splits the header into the most known
columns (ICSE exports use ``;``).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator

from safehold.banks.formats.csv_format import csv_rows, line_cells, row_problems
from safehold.banks.formats.fields import RowBuilder, RowItem
from safehold.banks.formats.plain import numbered
from safehold.banks.lines import DecodedLines
from safehold.errors import FormatError

#: Category scheme of bare category codes in an IWF-style list.
IWF_SCHEME = "iwf"
_HASH_COLUMNS = {
    "md5": "md5", "md5hash": "md5",
    "sha1": "sha1", "sha1hash": "sha1",
    "sha256": "sha256", "sha256hash": "sha256",
    "pdq": "pdq", "pdqhash": "pdq",
}  # fmt: skip
_OTHER_COLUMNS = {
    "photodna": "photodna",
    "category": "category", "grade": "category", "severity": "category",
    "quality": "quality", "pdqquality": "quality",
    "id": "id", "hashid": "id", "imageid": "id", "mediaid": "id",
}  # fmt: skip
_DELIMITERS = (",", ";", "\t")
_HEX = frozenset("0123456789abcdef")

__all__ = ["IWF_SCHEME", "iwf_header", "read_iwf_rows"]


def _key(name: str) -> str:
    return "".join(ch for ch in name.strip().lower() if ch not in " -_")


def iwf_header(line: str) -> tuple[str, dict[int, str]] | None:
    """``(delimiter, column index -> field)`` when ``line`` is the header row of a multi-hash
    list (at least one hash column and no ``signal_str``-like column), else None."""
    best: tuple[str, dict[int, str]] | None = None
    for delimiter in _DELIMITERS:
        cells = line_cells(line, delimiter)
        keys = [_key(c) for c in cells]
        if {"signalstr", "signal", "signaltype", "hash", "value"} & set(keys) or any(
            len(k) >= 16 and _HEX.issuperset(k) for k in keys
        ):
            return None  # a CSV bank file, or a data row (a hash where a name would be)
        columns = {
            i: _HASH_COLUMNS.get(k) or _OTHER_COLUMNS[k]
            for i, k in enumerate(keys)
            if k in _HASH_COLUMNS or k in _OTHER_COLUMNS
        }
        if any(f in _HASH_COLUMNS.values() for f in columns.values()) and (
            best is None or len(columns) > len(best[1])
        ):
            best = (delimiter, columns)
    return best


def read_iwf_rows(
    lines: Iterable[str], builder: RowBuilder, *, category_scheme: str = IWF_SCHEME
) -> Iterator[RowItem]:
    """Entries of a multi-hash list (module docstring): one per hash cell, in column order.

    Raises:
        FormatError: (as the first item) the first line that is not blank or a comment is not
            a header naming a hash column.
    """
    decoded = isinstance(lines, DecodedLines)
    it = lines if decoded else iter(lines)  # DecodedLines keeps its place between loops
    head: list[str] = []
    header = None
    for line in it:
        head.append(line)
        text = line.strip()
        if text and not text.startswith("#"):
            header = iwf_header(text)
            break
    if header is None:
        yield FormatError(
            "no header row naming a hash column (md5, sha1, sha256 or pdq)", len(head) or None
        )
        return
    delimiter, columns = header
    offset = 0 if decoded else len(head)
    hash_columns = [(i, f) for i, f in sorted(columns.items()) if f in _HASH_COLUMNS.values()]
    find = {f: i for i, f in sorted(columns.items(), reverse=True)}
    build = builder.build
    for start, row in _rows(it, delimiter, offset, problem_in=row_problems(lines)):
        if isinstance(row, FormatError):
            yield row
            continue
        if not row or row[0].lstrip().startswith("#") or not "".join(row).strip():
            continue
        category = _cell(row, find.get("category")).strip()
        if category and ":" not in category:
            category = f"{category_scheme}:{category}"
        ident = _cell(row, find.get("id")).strip()
        note = f"id {ident}" if ident else ""
        for i, signal_type in hash_columns:
            value = _cell(row, i)
            if not value.strip():
                continue
            item = build(
                start,
                signal_type,
                value,
                "",
                quality=_cell(row, find.get("quality")) if signal_type == "pdq" else "",
                category=category,
                note=note,
            )
            if isinstance(item, FormatError):
                item = FormatError(f"{signal_type} column: {_bare(item)}", start)
            yield item


def _bare(error: FormatError) -> str:
    prefix = f"line {error.line}: "
    return error.message.removeprefix(prefix)


def _cell(row: list[str], index: int | None) -> str:
    return row[index] if index is not None and index < len(row) else ""


def _rows(
    lines: Iterable[str],
    delimiter: str,
    offset: int,
    problem_in: Callable[[int, int], str | None] | None,
) -> Iterator[tuple[int, list[str] | FormatError]]:
    if delimiter == ",":
        first = lines.line + 1 if isinstance(lines, DecodedLines) else 1
        for start, row in csv_rows(lines, first):
            at = start + offset
            yield at, FormatError(_bare(row), at) if isinstance(row, FormatError) else row
        return
    for number, line in numbered(lines):  # one row per line: no quoted line breaks
        number += offset
        problem = problem_in(number, number) if problem_in else None
        if problem is not None:
            yield number, FormatError(problem, number)
        elif "\x00" in line:
            yield number, FormatError("a NUL character", number)
        else:
            try:
                yield number, next(csv.reader([line], delimiter=delimiter, strict=True), [])
            except csv.Error as exc:
                yield number, FormatError(f"malformed CSV ({exc})", number)
