"""Bounds on a JSON byte stream before a streaming parser sees it: depth, token and item size.

ijson builds a prefix string per nesting level (``value.item.item...``), so a document nested
``n`` deep costs memory growing with ``n**2`` (60,000 levels in a 120 KB file took 7.7 GB); it
also buffers a whole string or number however long, and builds a whole item however many keys
it has. :class:`BoundedJson` sits between the byte stream and the parser: it scans each chunk
for brackets outside strings (one regex pass, strings skipped with the unrolled-loop pattern of
Friedl, *Mastering Regular Expressions*, 3rd ed., 6.4, made possessive) and stops the read with
:class:`JsonBoundError` once the depth, a single token or an item passes its bound, so memory
stays bounded whatever the file holds. A chunk is handed on only up to the last complete token;
an unfinished string or number is held back until it ends (and is bounded while held).

When a bound is passed inside an item, the bytes before that item are handed on first and the
error is raised by the read after them, so the parser has read every item before the bad one;
:meth:`BoundedJson.unparsed` then gives the bytes from the last chunk handed on, with the depth
where it starts, for a reader that skips the bad item and reads on (``formats.vics``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple, Protocol

import numpy as np

#: Deepest nesting allowed (a VICS media item sits 3 or 5 levels deep; its own fields a few more).
MAX_JSON_DEPTH = 32
#: Longest single string (quotes included), key or number, in bytes (a PhotoDNA value is ~200
#: bytes). Exact for a token held back across reads (user test 7: one completed by the next
#: read passed with up to a read's worth of slack) and for any token of reads up to this size
#: (ijson reads 64 KiB at a time); a token inside one larger read is not measured.
MAX_TOKEN_BYTES = 1024 * 1024
#: Largest single item (a VICS media object, everything inside it), in bytes.
MAX_ITEM_BYTES = 4 * 1024 * 1024
#: Bytes read from the source when the parser asks for "all".
_CHUNK = 64 * 1024

# Everything up to the next bracket outside a string (group 1), the start of a string left open
# at the end of the chunk (group 1 is '"'), or the end of the chunk (group 1 is empty).
# Possessive quantifiers: no backtracking, one pass over the chunk.
_TOKENS = re.compile(rb'(?:[^"\[\]{}]++|"[^"\\]*+(?:\\.[^"\\]*+)*+")*+([\[\]{}]|"|\Z)', re.DOTALL)
# Bytes that end a number or literal (an unfinished one at the end of a chunk is held back).
_DELIMITERS = b' \t\r\n"[]{},:'
# The token at the start of a chunk: a whole string, else a number or literal (to a delimiter).
_FIRST_TOKEN = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"|[^ \t\r\n"\[\]{},:]*+', re.DOTALL)
_OPEN = (b"[", b"{")

__all__ = [
    "MAX_ITEM_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_TOKEN_BYTES",
    "BoundedJson",
    "JsonBoundError",
    "Unparsed",
    "bracket_depths",
]


# bytes.translate table: an opening bracket -> 1, a closing one -> 2, a quote -> 3, else 0.
_OPEN_KIND, _CLOSE_KIND, _QUOTE_KIND = 1, 2, 3
_KINDS = bytes(
    _OPEN_KIND if b in b"{[" else _CLOSE_KIND if b in b"}]" else _QUOTE_KIND if b == 0x22 else 0
    for b in range(256)
)


def bracket_depths(
    data: bytes, depth: int, in_string: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The brackets of ``data`` outside strings, for JSON without an escaped quote (``\\"``):
    every ``"`` then opens or closes a string, so a bracket is outside every string when an
    even number of quotes (plus one when ``data`` starts inside a string) come before it.

    Returns:
        ``(positions, opens, depths, quotes)``: the brackets' byte offsets in ``data``
        (int64), whether each opens (bool), the depth after each starting from ``depth``
        (int64), and how many quotes ``data`` holds (odd: it ends inside a string, or flips
        the state it started in).
    """
    kinds = np.frombuffer(data.translate(_KINDS), dtype=np.uint8)
    at = np.flatnonzero(kinds)  # quotes and brackets
    kinds = kinds[at]
    quote = kinds == _QUOTE_KIND
    quotes_before = np.cumsum(quote) - quote
    outside = ~quote & ((quotes_before + in_string) % 2 == 0)
    at, kinds = at[outside], kinds[outside]
    opens = kinds == _OPEN_KIND
    depths = depth + np.cumsum(np.where(opens, 1, -1))
    return at, opens, depths, int(quote.sum())


def _token_length(data: bytes) -> int:
    """Bytes of the token ``data`` starts with (a string left open: all of ``data``)."""
    found = _FIRST_TOKEN.match(data)
    if found is None or (data[:1] == b'"' and found.end() == 0):
        return len(data)
    return found.end()


class JsonBoundError(Exception):
    """The JSON stream passed one of the bounds (message says which, terminal-safe).

    ``item_start``: the byte offset of the ``{`` or ``[`` opening the item (at the guard's
    ``item_depth``) that holds the violation; None when it lies outside every item.
    """

    def __init__(self, message: str, item_start: int | None = None) -> None:
        super().__init__(message)
        self.item_start = item_start


class Unparsed(NamedTuple):
    """What :meth:`BoundedJson.unparsed` returns: ``data`` starts at byte ``offset`` of the
    stream, at a token boundary outside strings, at nesting ``depth``; its first ``handed``
    bytes were handed on (the rest was taken from the source but not handed on); ``mark`` is
    what the guard's ``mark`` callable returned when that chunk was scanned (0 without one)."""

    offset: int
    depth: int
    data: bytes
    handed: int
    mark: int


class _Source(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class BoundedJson:
    """A byte stream (``read(size) -> bytes``) that raises :class:`JsonBoundError` from
    ``read`` when the JSON read so far is nested deeper than ``max_depth``, holds a string or
    number over ``max_token`` bytes, or an item opened at depth ``item_depth`` (1 = the top
    level value) spans over ``max_item`` bytes.

    ``depth`` and ``offset`` (bytes checked so far) are public. ``mark`` (optional) is called
    each time a new chunk is scanned; :meth:`unparsed` returns its value for the last chunk
    (a reader passes its count of items read, so it knows how many the chunk's start follows).
    """

    def __init__(
        self,
        source: _Source,
        item_depth: int,
        *,
        max_depth: int = MAX_JSON_DEPTH,
        max_token: int = MAX_TOKEN_BYTES,
        max_item: int = MAX_ITEM_BYTES,
        mark: Callable[[], int] | None = None,
    ) -> None:
        self.source = source
        self.item_depth = item_depth
        self.max_depth = max_depth
        self.max_token = max_token
        self.max_item = max_item
        self.depth = 0
        self.offset = 0
        self._ready = b""
        self._pending = b""
        self._item_start: int | None = None
        self._mark = mark
        # The last chunk handed on (scanned; from a token boundary), where it starts, the depth
        # there and mark() then; a bound error raised once that chunk is read (see read()).
        self._block = b""
        self._block_offset = 0
        self._block_depth = 0
        self._block_mark = 0
        self._error: JsonBoundError | None = None

    def unparsed(self) -> Unparsed:
        """The last chunk handed on and every byte taken from the source after it (bounded:
        a chunk, an unfinished token of at most ``max_token`` bytes, a read); see
        :class:`Unparsed`. Meant for after an error: the stream is not to be read on."""
        return Unparsed(
            self._block_offset,
            self._block_depth,
            self._block + self._pending,
            len(self._block) - len(self._ready),
            self._block_mark,
        )

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes (a chunk when negative) of checked JSON; ``b""`` at the end.

        Raises:
            JsonBoundError: a bound is passed. Nothing past the item that holds the violation
                is handed on; the bytes before that item are, and this read or a later one
                raises once they are read. Every later read raises it again.
        """
        if size == 0:
            return b""  # ijson asks for 0 bytes to learn the stream's type
        size = size if size > 0 else _CHUNK
        while not self._ready:
            if self._error is not None:
                raise self._error
            chunk = self.source.read(size)
            if not chunk:
                self._ready, self._pending = self._pending, b""
                if self._ready:  # an unfinished token at the end: handed on as it is
                    self._new_block(self._ready, self.offset, self.depth)
                break
            held = bool(self._pending)  # a token left unfinished by the chunk before
            data = self._pending + chunk if self._pending else chunk
            self._pending = data  # all of it stays unparsed() if a bound is passed
            base, depth = self.offset, self.depth
            try:
                if held and _token_length(data) > self.max_token:
                    raise JsonBoundError(
                        f"a string or number over {self.max_token} bytes", self._item_start
                    )
                cut = self._scan(data)
                if len(data) - cut > self.max_token:
                    raise JsonBoundError(
                        f"a string or number over {self.max_token} bytes", self._item_start
                    )
            except JsonBoundError as exc:
                self._error = exc
                if exc.item_start is None or exc.item_start <= base:
                    raise  # nothing before the bad item is left to hand on
                cut = exc.item_start - base
            self._ready, self._pending = data[:cut], data[cut:]
            if cut:
                self._new_block(self._ready, base, depth)
        out, self._ready = self._ready[:size], self._ready[size:]
        return out

    def _new_block(self, block: bytes, offset: int, depth: int) -> None:
        self._block, self._block_offset, self._block_depth = block, offset, depth
        self._block_mark = self._mark() if self._mark is not None else 0

    def _scan(self, data: bytes) -> int:
        """Track depth over ``data``; return where its unfinished last token starts."""
        if b"\\" not in data and (end := self._scan_unescaped(data)) is not None:
            return end
        depth, item_start, base = self.depth, self._item_start, self.offset
        end = len(data)
        for match in _TOKENS.finditer(data):
            token = match.group(1)
            if token == b'"':
                end = match.start(1)
                break
            if not token:
                end = 1 + max(data.rfind(byte) for byte in _DELIMITERS)
                break
            if token in _OPEN:
                depth += 1
                if depth > self.max_depth:
                    raise JsonBoundError(
                        f"JSON nested deeper than {self.max_depth} levels", item_start
                    )
                if depth == self.item_depth:
                    item_start = base + match.start(1)
            else:
                if depth == self.item_depth and item_start is not None:
                    self._check_item(base + match.start(1) - item_start, item_start)
                    item_start = None
                depth -= 1
        self.depth, self._item_start = depth, item_start
        self.offset = base + end
        if item_start is not None:
            self._check_item(base + end - item_start, item_start)
        return end

    def _scan_unescaped(self, data: bytes) -> int | None:
        """:meth:`_scan` for ``data`` without a backslash, with array operations: each ``"``
        then opens or closes a string (``data`` starts outside one), so a bracket is outside
        every string when an even number of quotes come before it. None, with nothing
        changed, when a bound is passed (the token walk then finds where, for the message).
        Hash lists rarely escape anything: on a 1M-media VICS file the guard cost 3.6 us an item
        walking tokens, 0.8 us this way (ijson itself: 2.2 us)."""
        at, opens, depths, quotes = bracket_depths(data, self.depth)
        # Held back: an unfinished string (from the last quote), else an unfinished number or
        # literal (after the last delimiter); no bracket outside strings lies past either.
        end = data.rfind(b'"') if quotes % 2 else 1 + max(map(data.rfind, _DELIMITERS))
        if depths.size and int(depths.max()) > self.max_depth:
            return None
        # Items open where depth reaches item_depth and close where it leaves it; they
        # alternate, after the item left open by the chunk before (if any).
        base = self.offset
        starts = base + at[opens & (depths == self.item_depth)]
        ends = base + at[~opens & (depths == self.item_depth - 1)]
        if self._item_start is not None:
            starts = np.concatenate(([self._item_start], starts))
        if ends.size > starts.size or int(np.max(ends - starts[: ends.size], initial=0)) > (
            self.max_item
        ):
            return None
        item_start = int(starts[-1]) if starts.size > ends.size else None
        if item_start is not None and base + end - item_start > self.max_item:
            return None
        self.depth = int(depths[-1]) if depths.size else self.depth
        self._item_start = item_start
        self.offset = base + end
        return end

    def _check_item(self, size: int, item_start: int) -> None:
        if size > self.max_item:
            raise JsonBoundError(f"an item over {self.max_item} bytes", item_start)
