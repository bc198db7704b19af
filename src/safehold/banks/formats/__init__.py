"""Bank files: read and write hash lists in the formats members exchange.

Formats (details in docs/banks.md and each module's docstring):

* ``csv`` (:mod:`.csv_format`): python-threatexchange / HMA CSV
  (``signal_type,signal_str,collab,category,tags`` plus ``quality,note``);
* ``plain`` (:mod:`.plain`): one hash per line, or ``<signal_type> <hash>``;
* ``iwf`` (:mod:`.iwf`): a row per image with MD5, SHA-1, SHA-256 and PDQ columns;
* ``vics`` (:mod:`.vics`): Project VIC VICS JSON 2.0 (and 1.x), category scheme kept.

Readers are streaming iterators that yield a :class:`NewEntry` per good row and a
:class:`~safehold.errors.FormatError` (with its 1-based line number where the format has lines)
per bad row, so one bad row is reported and skipped and an import of millions of rows never
stops on it. Messages never contain hash values (hash lists are confidential). The importer
uses the tuple-yielding readers behind these (:func:`open_bank_file`), which skip building a
``NewEntry`` per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import BinaryIO

from safehold.banks.formats.csv_format import CSV_FIELD_LIMIT, read_csv_rows
from safehold.banks.formats.fields import (
    API_OPTIONS,
    CLI_OPTIONS,
    SIGNAL_TYPE_ALIASES,
    OptionNames,
    ReadItem,
    Row,
    RowBuilder,
    RowItem,
    canonical_signal_type,
)
from safehold.banks.formats.iwf import IWF_SCHEME, read_iwf_rows
from safehold.banks.formats.plain import read_plain_rows
from safehold.banks.formats.reading import (
    FORMATS,
    BankFileRows,
    CountingReader,
    open_bank_file,
    sniff_format,
)
from safehold.banks.formats.vics import read_vics_rows, vics_layout
from safehold.banks.models import Category, NewEntry
from safehold.banks.vpdq_sampling import VpdqResampler
from safehold.banks.writers import (  # the writers, re-exported: formats is the public module
    CSV_COLUMNS,
    MULTILINE_SIGNAL_TYPES,
    check_plain_exportable,
    write_csv,
    write_plain,
    write_vics,
)
from safehold.errors import FormatError, InvalidInputError

__all__ = [
    "API_OPTIONS",
    "CLI_OPTIONS",
    "CSV_COLUMNS",
    "CSV_FIELD_LIMIT",
    "FORMATS",
    "IWF_SCHEME",
    "MULTILINE_SIGNAL_TYPES",
    "SIGNAL_TYPE_ALIASES",
    "BankFileRows",
    "CountingReader",
    "OptionNames",
    "ReadItem",
    "Row",
    "RowItem",
    "canonical_signal_type",
    "check_plain_exportable",
    "entries",
    "open_bank_file",
    "read_bank_file",
    "read_csv",
    "read_iwf",
    "read_plain",
    "read_vics",
    "sniff_format",
    "write_csv",
    "write_plain",
    "write_vics",
]


def entries(items: Iterable[RowItem]) -> Iterator[ReadItem]:
    """``items`` with each :data:`Row` made a :class:`NewEntry` (errors pass through)."""
    for item in items:
        yield item if isinstance(item, FormatError) else NewEntry(*item)


def read_csv(
    lines: Iterable[str],
    *,
    signal_type: str | None = None,
    category: Category | None = None,
    source: str = "",
    options: OptionNames = CLI_OPTIONS,
) -> Iterator[ReadItem]:
    """Read a CSV bank file (columns in :mod:`.csv_format`).

    Args:
        lines: text lines, e.g. a file opened with ``newline=""``, or ``DecodedLines``
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
    return entries(read_csv_rows(lines, RowBuilder(signal_type, category, source, options)))


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
    builder = RowBuilder(signal_type, category, source, options)
    return entries(read_plain_rows(lines, builder, note))


def read_iwf(
    lines: Iterable[str],
    *,
    category: Category | None = None,
    source: str = "",
    category_scheme: str = IWF_SCHEME,
) -> Iterator[ReadItem]:
    """Read a multi-hash list (a column per hash type, :mod:`.iwf`): one entry per hash cell.

    ``category_scheme`` is the scheme of bare category codes (``A`` -> ``iwf:A``).
    """
    builder = RowBuilder(None, category, source)
    return entries(read_iwf_rows(lines, builder, category_scheme=category_scheme))


def read_vics(
    binary: BinaryIO,
    *,
    category: Category | None = None,
    source: str = "",
    category_scheme: str | None = None,
) -> Iterator[ReadItem]:
    """Read a VICS JSON file (:mod:`.vics`) from a byte stream: one entry per MD5, SHA1 and
    SHA256 of each media item, its ``Category`` kept as ``<scheme>:<code>``.

    ``category_scheme`` overrides the scheme named by the file's data-model variant.
    """
    head = binary.read(64 * 1024)
    layout = vics_layout(head, category_scheme)
    builder = RowBuilder(None, category, source)
    return entries(read_vics_rows(CountingReader(binary, head), builder, layout))


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
    """Dispatch text lines to :func:`read_csv`, :func:`read_plain` or :func:`read_iwf` by
    ``fmt`` (VICS is JSON: read it with :func:`read_vics` or :func:`open_bank_file`).

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
    elif fmt == "iwf":
        items = read_iwf(lines, category=category, source=source)
    if items is not None:
        return items if resampler is None else resampler.items(items)
    raise InvalidInputError(
        f"unknown bank file format {fmt!r} (known: {', '.join(f for f in FORMATS if f != 'vics')})"
    )
