"""Bank file bytes to text lines: strict UTF-8, bounded line length, problems by line number.

Bank files come from many tools. Decoding with replacement characters would import mojibake
(a Latin-1 note becomes U+FFFD soup) and a UTF-16 file would fail on every row with a
misleading message, so each line is decoded strictly: a line that is not UTF-8 is reported as
a bad row with its number, and a UTF-16/UTF-32 file is refused once, up front. A line longer
than the bound is skipped in chunks without ever being held whole, so memory stays bounded
however the file is made.
"""

from __future__ import annotations

import codecs
import re
from collections import deque
from collections.abc import Iterator
from typing import BinaryIO

from safehold.errors import InvalidInputError

#: Longest line of a plain list: a hash line is under 100 bytes.
PLAIN_LINE_LIMIT = 1024 * 1024
#: Longest line of a CSV file: a whole vPDQ value may sit on one line (python-threatexchange's
#: JSON form; about 1.2 MB for a 4-hour video), bounded like a CSV field.
CSV_LINE_LIMIT = 64 * 1024 * 1024

_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
_SNIFF_BYTES = 4096
_CHUNK = 1024 * 1024
#: Two or more empty lines: read as one item (see :class:`DecodedLines`).
_EMPTY_RUN = re.compile(rb"\n\n+")
#: The items of a block of whole lines: a run of empty lines, or one line with its newline.
_ITEMS = re.compile(r"\n\n+|[^\n]*\n")


def not_utf8_message(name: str, encoding: str) -> str:
    """The message for a file in a wide encoding (``encoding`` is ``UTF-16`` or ``UTF-32``),
    or for binary data (``encoding`` is ``binary``)."""
    if encoding == BINARY:
        return f"{name}: binary data, not a text file (NUL bytes throughout its first block)"
    return f"{name}: not UTF-8 text ({encoding}? re-save it as UTF-8)"


#: What :func:`_wide_encoding` calls data that is no text in any encoding it knows.
BINARY = "binary"


def _size(limit: int) -> str:
    mib = 1024 * 1024
    return f"{limit // mib} MiB" if limit % mib == 0 else f"{limit:,} bytes"


def _wide_encoding(head: bytes) -> str | None:
    """``"UTF-16"``/``"UTF-32"`` when ``head`` (the first bytes) looks like one, :data:`BINARY`
    for data that is mostly NUL bytes in no such pattern (``/dev/zero``, an image), else None.

    A byte-order mark decides; without one, NUL bytes in at least a quarter of the positions
    mean a wide encoding when the other bytes are not NUL (ASCII in UTF-16 is every other byte
    NUL, in UTF-32 three bytes of four; UTF-8 text has none), else binary data.
    """
    for bom, encoding in _WIDE_BOMS:
        if head.startswith(bom):
            return encoding
    if len(head) < 4 or head.count(0) * 4 < len(head):
        return None
    if head.count(0) == len(head):
        return BINARY
    for width, encoding in ((4, "UTF-32"), (2, "UTF-16")):
        lanes = [head[i::width] for i in range(width)]
        text_lanes = [lane for lane in lanes if lane.count(0) * 10 < len(lane)]
        zero_lanes = [lane for lane in lanes if lane.count(0) * 10 >= len(lane) * 9]
        if len(text_lanes) == 1 and len(zero_lanes) == width - 1:
            return encoding
    return BINARY


class DecodedLines:
    """Iterate a binary stream as UTF-8 text lines (``\\n`` ends a line, kept in the text).

    Every physical line is accounted for, so line numbers stay true: :attr:`line` is the
    number of the last physical line of the item last yielded. A line that is not valid UTF-8,
    or longer than ``max_line_bytes``, is recorded (line number and message) and yields a
    stand-in: the line decoded with U+FFFD replacements (so a CSV reader keeps its place in
    quoted fields) or ``"\\n"`` for an over-long line. Readers ask :meth:`problem_in` for the
    lines of each row and report the row as bad.

    A stream whose first block ends its lines with a carriage return alone (no ``\\n`` in it:
    classic Mac OS line ends) is read with each ``\\r`` taken as ``\\n``.

    A run of empty lines (``"\\n\\n..."``) is one item holding the whole run: blank lines cost
    no per-line work (a body of 30 MB of newlines used to take 30 s, one Python round per
    line), and a CSV reader reads the run as one blank row outside quotes and keeps it
    verbatim inside a quoted field. The stream is read in blocks of 1 MiB.

    Args:
        binary: the byte stream (a file opened ``"rb"``, ``sys.stdin.buffer``).
        name: the file's name for messages (already made terminal-safe by the caller).
        max_line_bytes: longest accepted line, in bytes (newline included).

    Raises:
        InvalidInputError: (from the constructor) the stream starts like UTF-16 or UTF-32
            text; nothing is read as rows.
    """

    def __init__(self, binary: BinaryIO, *, name: str = "the file", max_line_bytes: int) -> None:
        self.binary = binary
        self.max_line_bytes = max_line_bytes
        #: ``(line, message)`` of bad lines not yet asked about, line ascending (readers may
        #: test it for emptiness before asking :meth:`problem_in`).
        self.problems: deque[tuple[int, str]] = deque()
        self._line = 0  # physical lines read so far
        #: Last physical line of the item last yielded by iteration (0 before the first).
        self.line = 0
        self._pending: deque[tuple[int, str]] = deque()  # (last line, text) read ahead
        self._buf = bytearray()
        self._pos = 0
        self._eof = False
        self._items: list[str] = []  # decoded items of the current block
        self._next_item = 0
        self._slow_until = 0  # lines up to this one are read one by one (a bad block)
        #: The stream ends its lines with a carriage return alone (classic Mac OS, old Excel
        #: exports): decided on the first block (CR and no LF in it), then CR is read as LF.
        self._cr_lines: bool | None = None
        self.name = name
        self.head(1)  # a UTF-16 file is refused here, before any row is read

    def _fill(self) -> bool:
        """Read the next block into the buffer; False at the end of the stream."""
        if self._eof:
            return False
        chunk = self.binary.read(_CHUNK)
        if not chunk:
            self._eof = True
            return False
        if self._cr_lines is None:  # the first block decides
            self._cr_lines = b"\r" in chunk and b"\n" not in chunk
        if self._cr_lines:
            chunk = chunk.replace(b"\r", b"\n")
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += chunk
        return True

    def _raw_line(self) -> bytes:
        """The next line's bytes (newline included), at most ``max_line_bytes``."""
        limit = self.max_line_bytes
        seen = 0  # bytes after the read position already searched for a newline
        while True:
            end = self._buf.find(b"\n", self._pos + seen, self._pos + limit)
            if end >= 0:
                line = bytes(self._buf[self._pos : end + 1])
                self._pos = end + 1
                return line
            seen = len(self._buf) - self._pos
            if seen >= limit or not self._fill():  # _fill may move the read position to 0
                stop = min(len(self._buf), self._pos + limit)
                line = bytes(self._buf[self._pos : stop])
                self._pos = stop
                return line

    def _first_line(self, raw: bytes) -> bytes:
        wide = _wide_encoding(raw[:_SNIFF_BYTES])
        if wide is not None:
            raise InvalidInputError(not_utf8_message(self.name, wide))
        return raw.removeprefix(codecs.BOM_UTF8)

    def _skip_rest_of_line(self) -> None:
        while True:
            end = self._buf.find(b"\n", self._pos)
            if end >= 0:
                self._pos = end + 1
                return
            self._pos = len(self._buf)
            if not self._fill():
                return

    def _empty_run(self) -> str | None:
        """A run of two or more empty lines at the read position, consumed whole, or None."""
        if self._pos >= len(self._buf):
            self._fill()
        found = _EMPTY_RUN.match(self._buf, self._pos)
        if found is None:
            return None
        count = found.end() - self._pos
        self._pos = found.end()
        self._line += count
        return "\n" * count

    def _decode_block(self) -> bool:
        """Decode the whole lines in the buffer into items; False when there is none, or when
        a line in it is longer than ``max_line_bytes`` (the line-by-line path handles those
        lines, up to the end of that block)."""
        if self._line < self._slow_until:
            return False
        end = self._buf.rfind(b"\n", self._pos)
        if end < 0 and self._fill():
            end = self._buf.rfind(b"\n", self._pos)
        if end < 0:
            return False
        block = bytes(self._buf[self._pos : end + 1])
        try:
            items = _ITEMS.findall(block.decode("utf-8"))
        except UnicodeDecodeError:
            items = []
        if not items or self._too_long(items, len(block)):
            self._slow_until = self._line + block.count(b"\n")
            return False
        self._pos = end + 1
        self._items = items
        self._next_item = 0
        return True

    def _too_long(self, items: list[str], block_bytes: int) -> bool:
        """Whether a line among ``items`` (not a run of empty lines) is over the bound."""
        limit = self.max_line_bytes
        if block_bytes <= limit:
            return False
        return any(
            len(item) * 4 > limit and item[0] != "\n" and len(item.encode()) > limit
            for item in items
        )

    def _next_text(self) -> tuple[int, str] | None:
        """The next item and its last physical line number, or None at the end."""
        if self._next_item < len(self._items) or (self._line > 0 and self._decode_block()):
            item = self._items[self._next_item]
            self._next_item += 1
            self._line += len(item) if item[0] == "\n" else 1
            return self._line, item
        if self._line > 0:
            run = self._empty_run()
            if run is not None:
                return self._line, run
        raw = self._raw_line()
        if not raw:
            return None
        too_long = len(raw) >= self.max_line_bytes and not raw.endswith(b"\n")
        if self._line == 0:
            raw = self._first_line(raw)
        self._line += 1
        if too_long:
            self._skip_rest_of_line()
            self.problems.append((self._line, f"line longer than {_size(self.max_line_bytes)}"))
            return self._line, "\n"
        try:
            return self._line, raw.decode("utf-8")
        except UnicodeDecodeError:
            self.problems.append((self._line, "not UTF-8 text (re-save the file as UTF-8)"))
            return self._line, raw.decode("utf-8", errors="replace")

    def head(self, count: int) -> list[str]:
        """Read up to ``count`` lines ahead (for sniffing the format) without consuming them."""
        while len(self._pending) < count:
            text = self._next_text()
            if text is None:
                break
            self._pending.append(text)
        return [text for _, text in self._pending][:count]

    def __iter__(self) -> Iterator[str]:
        while True:
            item = self._pending.popleft() if self._pending else self._next_text()
            if item is None:
                return
            self.line, text = item
            yield text

    def problem_in(self, first: int, last: int) -> str | None:
        """The problem of the first bad line among lines ``first..last`` (1-based), if any.

        Readers ask in ascending line order; problems of lines before ``first`` are dropped
        (so memory does not grow with the number of bad lines).
        """
        problems = self.problems
        while problems and problems[0][0] < first:
            problems.popleft()
        found = problems[0][1] if problems and problems[0][0] <= last else None
        while problems and problems[0][0] <= last:
            problems.popleft()
        return found
