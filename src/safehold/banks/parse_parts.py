"""Large CSV bank files cut into parts that several parser processes read side by side.

A part is a byte range of the file that starts and ends at a row boundary; every part but the
first is read with the file's header line in front of it (:class:`PartReader`), so each parser
maps columns as a reader of the whole file would, and reports line numbers of the whole file
(:meth:`FilePart.file_line`). The cuts are newlines before the file's first ``"``: a
newline after a quote may sit inside a quoted field, and in a malformed file no count of
quotes can tell (Python's ``csv`` reader recovers from a stray quote in its own way), so a file
is cut only where a row is certainly a line. Hash lists rarely quote anything; a file with
quoted fields early is read by one parser. Only CSV files that start with a header line are
cut (a data row first would be read twice; a comment first would hide the header).

Finding the cuts reads the file once with ``bytes.count`` and ``bytes.find`` (C loops; about
0.3 s for a 700 MB file in the page cache).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import BinaryIO

from safehold.banks.formats.csv_format import header_map, line_cells
from safehold.banks.vics_parts import PART_TAIL, plan_vics_cuts

#: Bytes per part after the first few (a file under this is one part). Each part is one
#: transaction (``parse_worker``): about 600,000 rows of a hash list, near
#: ``bulk_load.ROWS_PER_TRANSACTION``. Smaller transactions cost more at scale: a commit
#: writes every index page it touched, and random keys touch most of them (5M rows with a
#: 125,000-row transaction after each 500,000: 1.2 s each, 10 us a row).
PART_BYTES = 48 * 1024 * 1024
_BLOCK = 8 * 1024 * 1024
_HEADER_LIMIT = 64 * 1024


@dataclass(frozen=True, slots=True)
class FilePart:
    """Bytes ``start``..``end`` (exclusive) of a file; ``head``: the header line read before
    them (empty for the first part); ``first_line``: the file's number of the part's first
    line, counted from the first line read (1-based).

    VICS parts (``banks.vics_parts``): ``head`` is the file's head up to the ``value`` array,
    ``tail`` the bytes read after them (``]}``, empty for the last part), ``first_item`` and
    ``last_item`` the numbers of the part's first and last media items (last: None for the
    last part).
    """

    start: int
    end: int
    head: bytes = b""
    first_line: int = 1
    tail: bytes = b""
    first_item: int = 1
    last_item: int | None = None

    def file_line(self, line: int | None) -> int | None:
        """The file's number of line ``line`` of this part as read (the head is line 1)."""
        if line is None or not self.head:
            return line
        return line - 2 + self.first_line


class PartReader(io.RawIOBase):
    """The bytes of ``part`` of the file at ``path``, ``part.head`` first (a raw stream;
    wrap it in :class:`io.BufferedReader`)."""

    def __init__(self, path: str, part: FilePart) -> None:
        super().__init__()
        self._file = open(path, "rb")  # noqa: SIM115 (closed by close())
        self._file.seek(part.start)
        self._head = part.head
        self._tail = part.tail
        self._left = part.end - part.start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        if self._left <= 0:
            n = min(len(view), len(self._tail))
            view[:n] = self._tail[:n]
            self._tail = self._tail[n:]
            return n
        n = self._file.readinto(view[: min(len(view), self._left)])
        self._left -= n
        return n

    def close(self) -> None:
        self._file.close()
        super().close()


def open_part(path: str, part: FilePart) -> BinaryIO:
    """A buffered binary stream of ``part`` (see :class:`PartReader`)."""
    return io.BufferedReader(PartReader(path, part), 1024 * 1024)


def plan_parts(path: str, offset: int, fmt: str | None, parts: int) -> list[FilePart]:
    """Cut the file at ``path``, read from byte ``offset``, into at most ``parts`` parts at
    newlines near :func:`cut_points`.
    One part (the whole rest of the file) unless ``fmt`` is ``"csv"`` and the first line is a
    CSV bank file header (no cut after the first ``"``), or ``fmt`` is ``"vics"`` and the file
    can be cut between media items (``banks.vics_parts``).
    """
    size = os.stat(path).st_size
    whole = [FilePart(offset, size)]
    if fmt not in ("csv", "vics") or parts < 2 or size - offset < PART_BYTES:
        return whole
    if fmt == "vics":
        return _vics_parts(path, offset, size, parts) or whole
    with open(path, "rb") as f:
        f.seek(offset)
        header = f.readline(_HEADER_LIMIT)
        if not _is_header(header):
            return whole
        cuts = _cuts(f, offset + len(header), cut_points(offset, size, parts))
    starts = [(offset, 1), *cuts]
    ends = [start for start, _ in cuts] + [size]
    return [
        FilePart(start, end, header if i else b"", line)
        for i, ((start, line), end) in enumerate(zip(starts, ends, strict=True))
    ]


def _vics_parts(path: str, offset: int, size: int, parts: int) -> list[FilePart] | None:
    """A VICS file's parts between media items (``banks.vics_parts``), or None."""
    with open(path, "rb") as f:
        planned = plan_vics_cuts(f, offset, cut_points(offset, size, parts))
    if planned is None or not planned[1]:
        return None
    head, cuts = planned
    starts = [(offset, 1), *((c.start, c.items_before + 1) for c in cuts)]
    ends = [(c.end, c.items_before) for c in cuts]
    return [
        FilePart(start, end, head if i else b"", tail=PART_TAIL, first_item=first, last_item=last)
        for i, ((start, first), (end, last)) in enumerate(zip(starts, ends, strict=False))
    ] + [FilePart(starts[-1][0], size, head, first_item=starts[-1][1])]


def cut_points(offset: int, size: int, parts: int) -> list[int]:
    """Where to cut bytes ``offset``..``size`` into at most ``parts`` parts: the first parts
    grow from an eighth of :data:`PART_BYTES` by doubling, then each is :data:`PART_BYTES`;
    a last part under half of that joins the one before. Small first parts let the importer
    start early (5M rows on 2 cores: it waited 4.7 s for the first full part)."""
    points: list[int] = []
    step, at = max(1, PART_BYTES // 8), offset
    while len(points) + 1 < parts:
        at += step
        if size - at < PART_BYTES // 2:
            break
        points.append(at)
        step = min(PART_BYTES, step * 2)
    return points


def _is_header(line: bytes) -> bool:
    if not line.endswith(b"\n"):
        return False
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return header_map(line_cells(text.rstrip("\r\n"))) is not None


def _cuts(f: BinaryIO, start: int, targets: list[int]) -> list[tuple[int, int]]:
    """``(byte after the first newline at or after each target, the number of the line that
    starts there)``, for targets before the first ``"`` after the header line, which ends at
    ``start`` (the cuts end at that quote: see the module doc)."""
    cuts: list[tuple[int, int]] = []
    f.seek(start)
    block_start, newlines = start, 1
    pending = list(targets)
    while pending:
        block = f.read(_BLOCK)
        if not block:
            break
        quote = block.find(b'"')
        usable = len(block) if quote < 0 else quote
        while pending and pending[0] - block_start < usable:
            i = block.find(b"\n", max(0, pending[0] - block_start), usable)
            if i < 0:
                break
            cuts.append((block_start + i + 1, newlines + block.count(b"\n", 0, i) + 2))
            while pending and pending[0] <= block_start + i:
                pending.pop(0)
        if quote >= 0:
            break
        newlines += block.count(b"\n")
        block_start += len(block)
    return cuts
