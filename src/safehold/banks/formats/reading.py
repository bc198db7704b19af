"""One entry point for every bank file format: detect or take the format, stream the rows.

Used by the importer (``banks.importing``) for files, uploads and exchange downloads alike.
Formats (see docs/banks.md): ``csv`` (python-threatexchange/HMA CSV), ``plain`` (one hash per
line), ``iwf`` (a column per hash type), ``vics`` (VICS JSON). Detection reads the first bytes:
a JSON object with an OData context or a ``value`` array is VICS; otherwise the first line that
is not blank or a ``#`` comment decides: a header naming ``signal_str`` (or an alias) is CSV, a
header naming hash columns (``md5``, ``sha1``, ...) is IWF-style, anything else a plain list.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from safehold.banks.formats.csv_format import (
    header_map,
    line_cells,
    read_csv_rows,
    read_unquoted_csv_rows,
    unquoted_text,
)
from safehold.banks.formats.fields import (
    CLI_OPTIONS,
    OptionNames,
    RowBuilder,
    RowItem,
    canonical_signal_type,
)
from safehold.banks.formats.iwf import IWF_SCHEME, iwf_header, read_iwf_rows
from safehold.banks.formats.plain import read_plain_rows
from safehold.banks.formats.vics import (
    HEAD_BYTES,
    VicsLayout,
    looks_like_json,
    looks_like_vics,
    read_vics_rows,
    vics_layout,
)
from safehold.banks.lines import CSV_LINE_LIMIT, PLAIN_LINE_LIMIT, DecodedLines
from safehold.banks.models import Category
from safehold.banks.writers import MULTILINE_SIGNAL_TYPES
from safehold.errors import InvalidInputError
from safehold.signals.base import SIGNAL_TYPES

FORMATS = ("csv", "plain", "iwf", "vics")
#: Lines read ahead to tell a CSV file (header row) from a plain list.
SNIFF_LINES = 64

__all__ = [
    "FORMATS", "HEAD_BYTES", "BankFileRows", "CountingReader", "csv_file_format", "open_bank_file",
    "open_csv_bytes", "sniff_format",
]  # fmt: skip


def sniff_format(lines: Iterable[str]) -> str:
    """``"csv"`` when the first line that is not blank or a ``#`` comment is a CSV header row
    naming a hash column (``signal_str``, ``hash``, ...) or a header-less CSV row whose first
    cell is a signal type (``md5,d41d8...``: python-threatexchange's column order), ``"iwf"``
    when it names hash-type columns (``md5``, ``sha1``, ``sha256``, ``pdq``), else
    ``"plain"``."""
    for line in lines:
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        cells = line_cells(text)
        if header_map(cells) is not None:
            return "csv"
        if iwf_header(text) is not None:
            return "iwf"
        if len(cells) >= 2 and canonical_signal_type(cells[0]) in SIGNAL_TYPES.names():
            return "csv"  # a data row of a CSV file without a header (a plain list has no comma)
        return "plain"
    return "plain"


def csv_file_format(head: bytes) -> str | None:
    """The format of a file said to be CSV (a ``*.csv`` name, a ``text/csv`` upload) from its
    first bytes: ``iwf`` for a header of hash-type columns (content beats the name), ``csv``
    otherwise (a threatexchange CSV may have no header), None (detect) for VICS JSON."""
    if looks_like_vics(head):
        return None
    text = head.decode("utf-8", "replace")
    lines = text.splitlines()
    if len(head) >= HEAD_BYTES and len(lines) > 1:
        lines.pop()  # maybe cut short
    return "iwf" if sniff_format(lines[:SNIFF_LINES]) == "iwf" else "csv"


class CountingReader:
    """A byte stream that counts what was read (``count``): the progress of an import.

    It first returns ``head`` (bytes already read for detection), then the rest of ``binary``.
    """

    def __init__(self, binary: BinaryIO, head: bytes = b"") -> None:
        self.binary = binary
        self.head = head
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all when negative)."""
        if self.head:
            n = len(self.head) if size < 0 else min(size, len(self.head))
            out, self.head = self.head[:n], self.head[n:]
        else:
            out = self.binary.read(size)
        self.count += len(out)
        return out


@dataclass(slots=True)
class BankFileRows:
    """An opened bank file: its format, its rows and what the reader noticed.

    Attributes:
        fmt: the format read (given or detected).
        rows: :data:`~safehold.banks.formats.fields.Row` tuples or ``FormatError`` per row.
        stream: the counting stream (``stream.count`` is bytes read so far).
        vics: the VICS layout (variant, scheme, PhotoDNA values skipped), for VICS files.
    """

    fmt: str
    rows: Iterator[RowItem]
    stream: CountingReader
    vics: VicsLayout | None = None


def open_bank_file(
    binary: BinaryIO,
    *,
    fmt: str | None = None,
    name: str = "the file",
    signal_type: str | None = None,
    category: Category | None = None,
    source: str = "",
    category_scheme: str | None = None,
    options: OptionNames = CLI_OPTIONS,
    vics_items: tuple[int, int | None] = (1, None),
) -> BankFileRows:
    """Open ``binary`` as a bank file of format ``fmt`` (detected when None).

    Args:
        signal_type, category, source: for rows that do not carry their own.
        category_scheme: scheme of bare category codes (VICS: overrides the variant's scheme;
            IWF-style: default ``iwf``).
        name: what messages call the stream (terminal-safe).
        options: how messages name the caller's options.
        vics_items: VICS only: the numbers of the stream's first and last media items when it
            is a part of a cut file (``read_vics_rows``'s ``items``).

    Raises:
        InvalidInputError: unknown format, a UTF-16/UTF-32 text stream, vPDQ given as the
            signal type of a plain list.
        InvalidSignalError: unknown ``signal_type``.
    """
    if fmt is not None and fmt not in FORMATS:
        raise InvalidInputError(f"unknown bank file format; use {', '.join(FORMATS)}")
    builder = RowBuilder(signal_type, category, source, options)
    head = binary.read(HEAD_BYTES)
    stream = CountingReader(binary, head)
    if fmt == "vics" or (fmt is None and looks_like_vics(head)):
        layout = vics_layout(head, category_scheme)
        stream.head = b""
        stream.count = len(head)
        rows = read_vics_rows(stream, builder, layout, head, vics_items)
        return BankFileRows("vics", rows, stream, layout)
    if fmt is None and looks_like_json(head):
        raise InvalidInputError(
            f'{name} is JSON but not VICS JSON (no "value" array of media at its start); '
            f"the formats read are {', '.join(FORMATS)}"
        )
    # A line over 1 MiB only belongs in a CSV file (a vPDQ value on one line): the bound is
    # raised once the format is known to be CSV-like.
    limit = CSV_LINE_LIMIT if fmt in ("csv", "iwf") else PLAIN_LINE_LIMIT
    lines = DecodedLines(stream, name=name, max_line_bytes=limit)  # type: ignore[arg-type]
    if fmt is None:
        fmt = sniff_format(lines.head(SNIFF_LINES))
    if fmt != "plain":
        lines.max_line_bytes = CSV_LINE_LIMIT
    else:
        if builder.signal_type in MULTILINE_SIGNAL_TYPES:
            raise InvalidInputError(
                f"vpdq values span several lines; import them with {options.csv_format}"
            )
        return BankFileRows(fmt, read_plain_rows(lines, builder), stream)
    if fmt == "iwf":
        rows = read_iwf_rows(lines, builder, category_scheme=category_scheme or IWF_SCHEME)
        return BankFileRows(fmt, rows, stream)
    return BankFileRows(fmt, read_csv_rows(lines, builder), stream)


def open_csv_bytes(
    data: bytes,
    *,
    signal_type: str | None = None,
    category: Category | None = None,
    source: str = "",
    options: OptionNames = CLI_OPTIONS,
    **ignored: object,
) -> BankFileRows:
    """A CSV bank file (or a part of one with its header line first) held whole in memory:
    :func:`open_bank_file` with ``fmt="csv"``, the same rows and errors, read by a split in C
    when every line is certainly one row (``csv_format.unquoted_text``; the large-import
    parser's fast path), else by the ordinary reader. Other arguments of
    :func:`open_bank_file` are accepted and ignored (they do not apply to CSV).

    Raises:
        InvalidInputError, InvalidSignalError: as :func:`open_bank_file`.
    """
    text = unquoted_text(data)
    if text is None:
        return open_bank_file(
            io.BytesIO(data), fmt="csv", signal_type=signal_type, category=category,
            source=source, options=options, name=str(ignored.get("name", "the file")),
        )  # fmt: skip
    builder = RowBuilder(signal_type, category, source, options)
    stream = CountingReader(io.BytesIO(b""))
    stream.count = len(data)
    return BankFileRows("csv", read_unquoted_csv_rows(text, builder), stream)
