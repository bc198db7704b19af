"""Writing bank files (``safehold bank export``): CSV, plain lists and VICS JSON.

The formats themselves are described in :mod:`safehold.banks.formats` (which re-exports these
writers). Kept apart so reading and writing each stay a readable size.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
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


#: VICS Media fields of the signal types a VICS file can hold.
VICS_FIELDS = {"md5": "MD5", "sha1": "SHA1", "sha256": "SHA256"}
#: The OData context of a VICS 2.0 Media file; ``{variant}`` is e.g. ``US``.
VICS_CONTEXT = (
    "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/{variant}/$metadata#Media"
)


@dataclass(slots=True)
class VicsExport:
    """What :func:`write_vics` wrote and left out.

    Attributes:
        media: Media objects written.
        entries: entries written (a media item holds up to one MD5, SHA1 and SHA256).
        skipped_types: entries left out per signal type (VICS has no field for it).
        other_categories: entries written without ``Category``: their category is in another
            scheme than the file's.
    """

    media: int = 0
    entries: int = 0
    skipped_types: dict[str, int] = field(default_factory=dict)
    other_categories: int = 0


def _media_groups(entries: Iterable[BankEntry]) -> Iterator[list[BankEntry]]:
    """Entries imported from one VICS media item (adjacent, one note ``MediaID N``, category
    and time added) as one group; a group never holds two values of one hash field (two
    files' ``MediaID 5`` added at once stay two media)."""
    group: list[BankEntry] = []
    key: object = None
    fields: set[str] = set()
    for e in entries:
        field = VICS_FIELDS[e.signal_type]
        this = (e.note, e.category, e.added_at) if e.note.startswith("MediaID ") else e.id
        if group and (this != key or field in fields):
            yield group
            group, fields = [], set()
        group.append(e)
        key = this
        fields.add(field)
    if group:
        yield group


def write_vics(
    entries: Iterable[BankEntry], out: TextIO, *, scheme: str = "vics-us", variant: str = "US"
) -> VicsExport:
    """Write entries as a VICS 2.0 Media file (``{"@odata.context": ..., "value": [...]}``).

    Each md5, sha1 or sha256 entry becomes a Media object (``MediaID`` counts from 1); entries
    read from one VICS media item (adjacent, with the note ``MediaID N`` the VICS reader
    gives them, added together: ``iter_entries(media_order=True)`` brings them together) are
    written back as one object. ``Category`` is the entry's code when its
    category is in ``scheme`` (a number when the code is digits), else null. Other signal
    types are counted and left out. Streams: memory does not grow with the bank.
    """
    report = VicsExport()
    context = VICS_CONTEXT.format(variant=variant)
    out.write('{"@odata.context":' + json.dumps(context) + ',"value":[')
    for group in _media_groups(_vics_entries(entries, report)):
        media: dict[str, object] = {"MediaID": report.media + 1, "Category": None}
        for e in group:
            if e.category is not None and e.category.scheme == scheme:
                code = e.category.code
                media["Category"] = int(code) if code.isascii() and code.isdigit() else code
            elif e.category is not None:
                report.other_categories += 1
            media[VICS_FIELDS[e.signal_type]] = e.value.upper()
            report.entries += 1
        out.write(("," if report.media else "") + "\n" + json.dumps(media))
        report.media += 1
    out.write("\n]}\n")
    return report


def _vics_entries(entries: Iterable[BankEntry], report: VicsExport) -> Iterator[BankEntry]:
    for e in entries:
        if e.signal_type in VICS_FIELDS:
            yield e
        else:
            report.skipped_types[e.signal_type] = report.skipped_types.get(e.signal_type, 0) + 1
