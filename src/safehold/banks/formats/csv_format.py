"""Bank files: read and write hash lists as CSV (python-threatexchange style) or plain lists.

Readers are streaming iterators that yield a :class:`NewEntry` per good row and a
:class:`~safehold.errors.FormatError` (with its 1-based line number) per bad row, so one bad row
is reported and skipped and an import of millions of rows never stops on it. Messages never
contain hash values (hash lists are confidential).

**CSV** (``--format csv``): the columns of ``threatexchange dataset --print-signals --csv``
(python-threatexchange ``cli/dataset_cmd.py``: ``signal_type,signal_str,collab,category,tags``)
plus Safehold's ``quality`` and ``note``. A header row is optional; without one, columns are
taken in that order. Column meanings on import:

* ``signal_type``: ``pdq``, ``md5``, ``sha256``, ``vpdq``; python-threatexchange's
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

**Plain** (``--format plain``): one hash per line; blank lines and ``#`` comments are ignored.
A line may also read ``<signal_type> <hash>``, the python-threatexchange ``LocalFileSignal
ExchangeAPI`` file format (``exchanges/impl/file_api.py``). vPDQ values span several lines and
need the CSV format.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from safehold.banks.lines import DecodedLines
from safehold.banks.models import Category, NewEntry
from safehold.banks.validation import EntryValidator, known_signal_types
from safehold.banks.vpdq_sampling import VpdqResampler
from safehold.banks.writers import (  # the writers, re-exported: formats is the public module
    CSV_COLUMNS,
    MULTILINE_SIGNAL_TYPES,
    check_plain_exportable,
    write_csv,
    write_plain,
)
from safehold.errors import FormatError, InvalidInputError, SafeholdError

FORMATS = ("csv", "plain")


@dataclass(frozen=True, slots=True)
class OptionNames:
    """How messages name the importer's options: the CLI's flags or the API's parameters."""

    signal_type: str = "--signal-type"
    csv_format: str = "--format csv"


#: Option names of ``safehold bank import``.
CLI_OPTIONS = OptionNames()
#: Option names of ``POST /v1/banks/{bank_name}/import`` (query parameters).
API_OPTIONS = OptionNames(
    signal_type="the signal_type query parameter", csv_format="the query parameter format=csv"
)

SIGNAL_TYPE_ALIASES = {"video_md5": "md5", "video_sha256": "sha256"}
TE_OPINIONS_WITHOUT_CATEGORY = frozenset({"POSITIVE_CLASS", "INVESTIGATION_SEED"})
TE_NEGATIVE_OPINION = "NEGATIVE_CLASS"
_HEADER_ALIASES = {
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

__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "MULTILINE_SIGNAL_TYPES",
    "ReadItem",
    "canonical_signal_type",
    "check_plain_exportable",
    "read_bank_file",
    "read_csv",
    "read_plain",
    "sniff_format",
    "write_csv",
    "write_plain",
]

ReadItem = NewEntry | FormatError
_ASCII_DIGITS = frozenset("0123456789")


def canonical_signal_type(name: str) -> str:
    """Map a signal type name from a file to Safehold's (``video_md5`` -> ``md5``)."""
    name = name.strip().lower()
    return SIGNAL_TYPE_ALIASES.get(name, name)


class _RowBuilder:
    """Turns the fields of one row into a validated :class:`NewEntry`."""

    def __init__(
        self,
        signal_type: str | None,
        category: Category | None,
        source: str,
        options: OptionNames = CLI_OPTIONS,
    ) -> None:
        self.options = options
        self.signal_type = canonical_signal_type(signal_type) if signal_type else None
        self.category = category
        self.source = source
        self.validator = EntryValidator()
        if self.signal_type is not None:
            self.validator.signal_type(self.signal_type)  # unknown type: fail before any row

    def build(self, line: int, fields: dict[str, str], type_where: str) -> ReadItem:
        """Validate one row; ``type_where`` says where its signal type sits ("in column 1")."""
        value = fields.get("signal_str", "").strip()
        if not value:
            return FormatError("no signal value", line)
        from_row = canonical_signal_type(fields.get("signal_type", ""))
        type_name = from_row or self.signal_type
        if not type_name:
            return FormatError(f"no signal type (give one with {self.options.signal_type})", line)
        if from_row:
            try:
                self.validator.signal_type(from_row)
            except SafeholdError:
                # Never echo it: a truncated or shifted row can put part of a hash here.
                return FormatError(
                    f"unknown signal type {type_where} (known: {known_signal_types()})", line
                )
        try:
            entry = NewEntry(
                signal_type=type_name,
                value=value,
                quality=_parse_quality(fields.get("quality", "")),
                category=_parse_category(fields.get("category", "")) or self.category,
                source=fields.get("collab", "").strip() or self.source,
                note=_note(fields.get("note", ""), fields.get("tags", "")),
            )
            return self.validator.validate(entry)
        except SafeholdError as exc:
            return FormatError(exc.message, line)


def _parse_quality(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if len(text) > 3 or not _ASCII_DIGITS.issuperset(text):
        raise InvalidInputError("quality must be an integer from 0 to 100")
    return int(text)


def _parse_category(text: str) -> Category | None:
    text = text.strip()
    if not text or text.upper() in TE_OPINIONS_WITHOUT_CATEGORY:
        return None
    if text.upper() == TE_NEGATIVE_OPINION:
        raise InvalidInputError(
            "the row is marked NEGATIVE_CLASS (a known false positive or test signal); not imported"
        )
    try:
        return Category.parse(text)
    except InvalidInputError:
        raise InvalidInputError(
            "category must be written scheme:code (e.g. ncmec-industry:A1) or be a "
            "python-threatexchange opinion such as POSITIVE_CLASS"
        ) from None


def _note(note: str, tags: str) -> str:
    note, tags = note.strip(), " ".join(tags.split())
    return note or (f"tags: {tags}" if tags else "")


def _header_map(row: list[str]) -> dict[int, str] | None:
    """Column index -> field for a header row, or None when ``row`` is data."""
    names = [cell.strip().lower() for cell in row]
    if "signal_str" not in {_HEADER_ALIASES.get(n) for n in names}:
        return None
    return {i: _HEADER_ALIASES[n] for i, n in enumerate(names) if n in _HEADER_ALIASES}


def sniff_format(lines: Iterable[str]) -> str:
    """``"csv"`` when the first line that is not blank or a ``#`` comment is a CSV header row
    naming a hash column (``signal_str``, ``hash``, ...), else ``"plain"``."""
    for line in lines:
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        row = next(csv.reader([text]), [])
        return "csv" if _header_map(row) is not None else "plain"
    return "plain"


def _problems(lines: Iterable[str]) -> Callable[[int, int], str | None] | None:
    return lines.problem_in if isinstance(lines, DecodedLines) else None


def read_csv(
    lines: Iterable[str],
    *,
    signal_type: str | None = None,
    category: Category | None = None,
    source: str = "",
    options: OptionNames = CLI_OPTIONS,
) -> Iterator[ReadItem]:
    """Read a CSV bank file (columns in the module docstring).

    Args:
        lines: text lines, e.g. a file opened with ``newline=""``, or :class:`DecodedLines`
            (its undecodable or over-long lines make their rows bad rows).
        signal_type: used for rows without a signal type column or value.
        category: used for rows without a category of their own.
        source: used for rows without a ``collab``/``source`` value.
        options: how messages name the caller's options (CLI flags or API parameters).

    Returns:
        An iterator of a :class:`NewEntry` (canonical value) or a :class:`FormatError` per
        data row; blank rows and rows whose first cell starts with ``#`` are skipped.

    Raises:
        InvalidSignalError: ``signal_type`` is not a registered signal type (raised by the
            call, before any row is read).
    """
    return _read_csv(lines, _RowBuilder(signal_type, category, source, options))


def _read_csv(lines: Iterable[str], builder: _RowBuilder) -> Iterator[ReadItem]:
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)
    problem_in = _problems(lines)
    reader = csv.reader(lines)
    # Physical line numbers: DecodedLines reads a run of empty lines as one item.
    decoded = lines if isinstance(lines, DecodedLines) else None
    columns: dict[int, str] | None = None
    type_where = "in column 1"
    last_line = 0
    while True:
        start = last_line + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            last_line = decoded.line if decoded else reader.line_num
            problem = problem_in(start, last_line) if problem_in else None
            yield FormatError(problem or f"malformed CSV ({exc})", start)
            continue
        last_line = decoded.line if decoded else reader.line_num
        problem = problem_in(start, last_line) if problem_in else None
        if problem is not None:
            yield FormatError(problem, start)
            continue
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if columns is None:
            header = _header_map(row)
            columns = header or dict(enumerate(CSV_COLUMNS))
            type_where = next(
                (f"in column {i + 1}" for i, f in columns.items() if f == "signal_type"),
                "in the signal_type column",
            )
            if header is not None:
                continue
        fields = {columns[i]: cell for i, cell in enumerate(row) if i in columns}
        yield builder.build(start, fields, type_where)


def read_plain(
    lines: Iterable[str],
    *,
    signal_type: str | None = None,
    category: Category | None = None,
    source: str = "",
    note: str = "",
    options: OptionNames = CLI_OPTIONS,
) -> Iterator[ReadItem]:
    """Read a plain list: one hash per line, or ``<signal_type> <hash>`` per line.

    Text after ``#`` is a comment; blank lines are skipped. Items as for :func:`read_csv`.

    Raises:
        InvalidSignalError: ``signal_type`` is not a registered signal type.
        InvalidInputError: ``signal_type`` is ``vpdq`` (multi-line values need CSV).
    """
    if signal_type is not None and canonical_signal_type(signal_type) in MULTILINE_SIGNAL_TYPES:
        raise InvalidInputError(
            f"vpdq values span several lines; import them with {options.csv_format}"
        )
    return _read_plain(lines, _RowBuilder(signal_type, category, source, options), note)


def _numbered(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """``(line number, text)``; a :class:`DecodedLines` item's number is its last line."""
    if isinstance(lines, DecodedLines):
        for text in lines:
            yield lines.line, text
    else:
        yield from enumerate(lines, start=1)


def _read_plain(lines: Iterable[str], builder: _RowBuilder, note: str) -> Iterator[ReadItem]:
    problem_in = _problems(lines)
    for number, raw in _numbered(lines):
        problem = problem_in(number, number) if problem_in else None
        if problem is not None:
            yield FormatError(problem, number)
            continue
        text = raw.partition("#")[0].strip()
        if not text:
            continue
        if "," in text:
            yield FormatError(
                f"a comma in a plain list: is this CSV? use {builder.options.csv_format}", number
            )
            continue
        parts = text.split()
        if len(parts) == 1:
            fields = {"signal_str": parts[0]}
        elif len(parts) == 2:
            fields = {"signal_type": parts[0], "signal_str": parts[1]}
        else:
            yield FormatError(f"expected one hash per line, found {len(parts)} words", number)
            continue
        fields["note"] = note
        yield builder.build(number, fields, "in the first word")


def read_bank_file(
    lines: Iterable[str],
    fmt: str,
    *,
    signal_type: str | None = None,
    category: Category | None = None,
    source: str = "",
    resampler: VpdqResampler | None = None,
    options: OptionNames = CLI_OPTIONS,
) -> Iterator[ReadItem]:
    """Dispatch to :func:`read_csv` or :func:`read_plain` by ``fmt``.

    With ``resampler``, vPDQ entries are thinned to the scanner's sampling interval
    (:mod:`safehold.banks.vpdq_sampling`); it counts what it changed.

    Raises:
        InvalidInputError: unknown format.
    """
    items: Iterator[ReadItem] | None = None
    if fmt == "csv":
        items = read_csv(
            lines, signal_type=signal_type, category=category, source=source, options=options
        )
    elif fmt == "plain":
        items = read_plain(
            lines, signal_type=signal_type, category=category, source=source, options=options
        )
    if items is not None:
        return items if resampler is None else resampler.items(items)
    raise InvalidInputError(f"unknown bank file format {fmt!r} (known: {', '.join(FORMATS)})")
