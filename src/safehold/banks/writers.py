"""Writing bank files (``safehold bank export``): CSV and plain lists, and what plain can hold.

The formats themselves are described in :mod:`safehold.banks.formats` (which re-exports these
writers). Kept apart so reading and writing each stay a readable size.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import TextIO

from safehold.banks.models import BankEntry
from safehold.errors import InvalidInputError

CSV_COLUMNS = ("signal_type", "signal_str", "collab", "category", "tags", "quality", "note")
#: Signal types whose values span several lines: CSV only (one quoted field).
MULTILINE_SIGNAL_TYPES = frozenset({"vpdq"})


def check_plain_exportable(signal_types: Iterable[str]) -> None:
    """Refuse a plain export of entries of these types before anything is written.

    Raises:
        InvalidInputError: one of them (vPDQ) has values that span several lines.
    """
    multiline = sorted(set(signal_types) & MULTILINE_SIGNAL_TYPES)
    if multiline:
        raise _multiline_error(multiline)


def _multiline_error(names: list[str]) -> InvalidInputError:
    return InvalidInputError(
        f"{', '.join(names)} values span several lines and cannot be written as a plain list; "
        "export them with --format csv, or choose another --signal-type"
    )


def write_csv(entries: Iterable[BankEntry], out: TextIO) -> int:
    """Write entries as CSV with a header row of :data:`CSV_COLUMNS`; return rows written.

    ``collab`` holds the entry's source, ``category`` its ``scheme:code``, ``tags`` is empty.
    """
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for e in entries:
        quality = "" if e.quality is None else str(e.quality)
        category = "" if e.category is None else str(e.category)
        writer.writerow((e.signal_type, e.value, e.source, category, "", quality, e.note))
        count += 1
    return count


def write_plain(
    entries: Iterable[BankEntry], out: TextIO, *, include_signal_type: bool = False
) -> int:
    """Write one hash per line (``<signal_type> <hash>`` with ``include_signal_type``).

    Raises:
        InvalidInputError: an entry's value spans several lines (vPDQ); nothing after it is
            written (call :func:`check_plain_exportable` first to refuse before writing).
    """
    count = 0
    for e in entries:
        if e.signal_type in MULTILINE_SIGNAL_TYPES or "\n" in e.value:
            raise _multiline_error([e.signal_type])
        out.write(f"{e.signal_type} {e.value}\n" if include_signal_type else f"{e.value}\n")
        count += 1
    return count
