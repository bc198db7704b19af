"""VICS JSON (Project VIC data model 2.0, and 1.x) hash lists: ``--format vics``.

A VICS file is one OData JSON document::

    {"@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media",
     "value": [{"MediaID": 1, "Category": 1, "MD5": "...", "SHA1": "...", "PhotoDNA": "..."}, ...]}

or, for whole cases (``#Cases``), ``"value": [{"CaseID": ..., "Media": [...]}, ...]``. VICS 1.x
files use ``"odata.metadata"`` for the context (structure as read by IPED's
``HashDBTool.java``, sepinf-inc/IPED). Each Media object's ``MD5``, ``SHA1`` and ``SHA256``
become one entry each; ``PhotoDNA`` is skipped (Safehold does not compute PhotoDNA) and counted.

The file is parsed as a stream with ijson's C backend (yajl2): a file of a million media never
sits in memory. The ``Category`` code is kept as written, under the scheme of the file's
data-model variant (``vics_schemes.toml``: ``US`` -> ``vics-us``, ``DHS`` -> ``vics-dhs``;
codes are never translated between schemes). A bad media item is reported by its position
(``media item 12 (MediaID 40)``): JSON has no useful line numbers.

A malformed media item (a syntax error inside it, or one past a bound of
``formats.json_bounds``: nested over 32 deep, a string or number over 1 MiB, the item over 4
MiB) is one error naming it (``media item 1400: malformed JSON (...); the item was skipped``),
and the items after it are read: the bad item is skipped by scanning, not parsed (the bracket
depths of ``json_bounds.bracket_depths``, strings skipped, one chunk in memory at a time) up to
the bracket that closes it at the media item depth, and a fresh parser reads on from there with
the item replaced by a placeholder. Where the boundary cannot be known (a string that never
ends, as after a stray ``"``; brackets that never balance or do not match; damage outside the
media items, in the document's head or between two cases) the read ends with one error naming
the item the damage lies in (``inside media item 5``), else the last media item read or skipped
(``after media item 4``; ``the rest was not read``).

Every element of the media array is a media item, numbered in order: an object, or anything
else (``null``, a number, a string, an array: ``media item 2 is not a JSON object``), as the
cut pass of ``banks.vics_parts`` counts them. Which item is bad is known from how many
elements the parser read; the scan, which sees only brackets, is given the count of those
that open with one (objects and arrays). Damage between two items (a missing comma) costs the
item after it, and so does damage inside an element without brackets (``nul``): it is
reported under that element's number, and the items after it are numbered one lower than
their place in the file. The scan counts the objects at the media depth as media items; where
it sees another array there (a ``#Cases`` case's ``"Tags": [{...}]``, or a damaged
``"Media"`` key) the read ends as above, but one opened before the chunk the scan starts
from goes unseen and shifts the count. Two damages whose brackets balance each other (a
``}`` lost in one item, a ``{`` in a later one) make the items between them one bad item.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Protocol

import ijson  # type: ignore[import-untyped]
import numpy as np

from safehold.banks.formats.fields import RowBuilder, RowItem
from safehold.banks.formats.json_bounds import (
    BoundedJson,
    JsonBoundError,
    Unparsed,
    bracket_depths,
)
from safehold.errors import FormatError
from safehold.output_files import printable

#: Scheme of category codes when the file's variant does not say.
DEFAULT_VICS_SCHEME = "vics"
#: Bytes read ahead to find the OData context (it comes first in every exporter we know).
HEAD_BYTES = 64 * 1024
_CONTEXT = re.compile(rb'"(?:@odata\.context|odata\.metadata)"\s*:\s*"([^"]{0,500})"')
_VARIANT = re.compile(r"DataModels/[0-9.]+\.xml/([A-Za-z0-9_-]+)/")
# The key just before a value: ``"Media" :`` (ends where the search ends).
_KEY_BEFORE = re.compile(rb'("(?:[^"\\]|\\.)*+")\s*+:\s*+\Z', re.DOTALL)
_HASH_FIELDS = (("MD5", "md5"), ("SHA1", "sha1"), ("SHA256", "sha256"))
UTF8_BOM = b"\xef\xbb\xbf"
#: Bytes read at a time while a malformed media item is skipped. The scan's arrays cost up to
#: ~40 bytes a bracket: a 48 MB item of brackets (``[[],[],...]``) peaked 43 MB above the
#: reader with 1 MiB chunks, 10 MB with these (measured; about 1 s of scan either way).
_SKIP_CHUNK = 256 * 1024

__all__ = [
    "DEFAULT_VICS_SCHEME",
    "VicsLayout",
    "looks_like_vics",
    "read_vics_rows",
    "vics_layout",
    "vics_schemes",
]


class ByteSource(Protocol):
    """What the VICS reader needs of a stream: ``read(size) -> bytes``."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes; ``b""`` at the end."""
        ...


@cache
def vics_schemes() -> dict[str, Any]:
    """The parsed ``vics_schemes.toml`` (``variants`` -> scheme, ``labels`` per scheme)."""
    text = resources.files(__package__).joinpath("vics_schemes.toml").read_text("utf-8")
    return tomllib.loads(text)


@dataclass(slots=True)
class VicsLayout:
    """What the head of a VICS file says: where the media are and the category scheme."""

    prefix: str
    variant: str | None
    scheme: str
    context: str | None
    skipped_photodna: int = field(default=0)


def looks_like_vics(head: bytes) -> bool:
    """True when ``head`` (the first bytes) opens a JSON object with an OData context or a
    ``value`` array."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text.startswith(b"{") and (
        _CONTEXT.search(head) is not None or re.search(rb'"value"\s*:\s*\[', head) is not None
    )


def looks_like_json(head: bytes) -> bool:
    """True when ``head`` (the first bytes) opens a JSON object or array: no hash list of the
    other formats starts with ``{`` or ``[``."""
    return head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")


def vics_layout(head: bytes, category_scheme: str | None = None) -> VicsLayout:
    """Read the context from ``head``: ``#Cases`` files hold media under each case.

    ``category_scheme`` (given by the user) wins over the variant's scheme.
    """
    found = _CONTEXT.search(head)
    context = found.group(1).decode("utf-8", "replace") if found else None
    variant_match = _VARIANT.search(context or "")
    variant = variant_match.group(1) if variant_match else None
    cases = (context or "").endswith("#Cases") or (
        context is None and re.search(rb'"Media"\s*:\s*\[', head) is not None
    )
    variants: dict[str, str] = vics_schemes()["variants"]
    scheme = category_scheme or variants.get(variant or "", DEFAULT_VICS_SCHEME)
    prefix = "value.item.Media.item" if cases else "value.item"
    return VicsLayout(prefix, variant, scheme, context)


class _Replay:
    """A byte stream that first returns ``head`` again, then the rest of ``binary``."""

    def __init__(self, head: bytes, binary: ByteSource) -> None:
        self.head = head
        self.binary = binary

    def read(self, size: int = -1) -> bytes:
        if self.head:
            n = len(self.head) if size < 0 else min(size, len(self.head))
            out, self.head = self.head[:n], self.head[n:]
            return out
        return self.binary.read(size)


def read_vics_rows(
    binary: ByteSource,
    builder: RowBuilder,
    layout: VicsLayout | None = None,
    head: bytes = b"",
    items: tuple[int, int | None] = (1, None),
) -> Iterator[RowItem]:
    """Entries of a VICS file (module docstring), streamed from ``binary``.

    Args:
        binary: the byte stream, positioned after ``head`` when ``head`` is given.
        builder: validates each hash (its source and default category apply).
        layout: from :func:`vics_layout` (read from the head when None).
        head: bytes already read from ``binary``.
        items: the numbers of the stream's first and last media items when it is a part of
            a file cut between items (``banks.vics_parts``; last: None for the file's last
            part), so messages number items as in the whole file.
    """
    if not head:
        head = binary.read(HEAD_BYTES)
    layout = layout or vics_layout(head)
    # A UTF-8 byte-order mark is dropped, as for the text formats (JSON parsers refuse it).
    body = head[len(UTF8_BOM) :] if head.startswith(UTF8_BOM) else head
    source = _Replay(body, binary)
    first_item, last_item = items
    position = first_item - 1  # elements of the media array read (of any kind)
    scalars = 0  # of them, those that are not an object or array (no bracket to scan for)

    def items_read() -> int:
        # What the skip scan counts: the elements that open with a bracket.
        return position - scalars

    resumed = 0  # bytes of the stream's start known good: a stand-in for a skipped item
    while True:
        stream = BoundedJson(source, layout.prefix.count(".") + 2, mark=items_read)
        try:
            media_items = ijson.items(stream, layout.prefix, use_float=True)
            if resumed:
                next(media_items, None)
            for media in media_items:
                position += 1
                if not isinstance(media, dict):
                    scalars += not isinstance(media, list)
                    yield FormatError(f"media item {position} is not a JSON object")
                    continue
                yield from _media_rows(media, position, media.get("MediaID"), builder, layout)
        except (ijson.JSONError, JsonBoundError) as exc:
            bound = isinstance(exc, JsonBoundError)
            rest = _skip_bad_item(stream, position - scalars, layout.prefix, bound, resumed)
            if not isinstance(rest, bytes):
                if rest:  # the bad item opened, its end is unknown
                    after = f"inside media item {position + 1}"
                elif position:
                    after = f"after media item {position}"
                else:
                    after = "before any media item"
                unread = "the rest was not read"
                if last_item is not None:  # a part: the parts after it are read
                    unread = f"the rest up to media item {last_item} was not read"
                yield FormatError(f"malformed JSON {after} ({_short(exc)}); {unread}")
                return
            position += 1
            what = _short(exc) if bound else f"malformed JSON ({_short(exc)})"
            yield FormatError(f"media item {position}: {what}; the item was skipped")
            stand_in = _opening(layout.prefix) + b"0"
            source = _Replay(stand_in + rest + source.head, source.binary)
            resumed = len(stand_in)
            continue
        break
    if position == first_item - 1:
        yield FormatError(_no_media(head, layout))


def _skip_bad_item(
    stream: BoundedJson, items_read: int, prefix: str, bound: bool, trusted: int
) -> bytes | bool:
    """After a parse error of ``stream`` (``bound``: a :class:`JsonBoundError`), skip the bad
    media item: the item after the ``items_read``-th, which opens in the bytes handed to the
    parser (a syntax error lies inside them; a bound error is raised before the item that
    passed it, or inside it). Scans from the last chunk handed on (its depth is known) with
    :func:`bracket_depths`: past the closing brackets of the items read from that chunk, then
    to the bracket that closes the bad item at the media depth, reading the stream's source
    on a chunk at a time (bounded memory). ``trusted``: the stream's first bytes stand in for
    an item skipped before (as if an item ended there); 0 for none.

    ``items_read`` counts only the elements of the media array that open with a bracket (an
    object or array; ``null``, numbers and strings have none to scan for): the reader passes
    its count of elements less those.

    Returns:
        the bytes the scan read after that closing bracket (the stream's source holds the
        rest); where the boundary cannot be known (module doc; the rest is not read), True
        when the bad item was seen to open (the damage lies inside it), else False.
    """
    item_depth = stream.item_depth
    unparsed = stream.unparsed()
    data = unparsed.data
    closes = items_read - unparsed.mark  # items of the chunk read before the bad one
    # The bad item opens at or before this byte of ``data``.
    limit = unparsed.handed if bound else unparsed.handed - 1
    depth, in_string, escaped, start = unparsed.depth, False, False, 0
    inside = closes == 0 and depth >= item_depth  # the bad item opened before the chunk
    prev_end: int | None = None  # just after the last item read, when in ``data``
    trusted -= unparsed.offset
    if trusted > 0 and closes == 0:
        prev_end = trusted
    bad_open: int | None = None
    structural = False  # brackets outside items lie between the last item read and the bad one
    chunk = data
    while chunk:
        scan, escaped = _unescaped(chunk, escaped)
        at, opens, depths, quotes = bracket_depths(scan, depth, in_string)
        # Brackets that open or close an item, or lie outside every item.
        level = np.flatnonzero(np.where(opens, depths <= item_depth, depths < item_depth))
        for i in level.tolist():
            where, opening = start + int(at[i]), bool(opens[i])
            if where < trusted:
                continue
            if inside:  # the first such bracket closes the bad item
                if bad_open is not None and data[bad_open] + 2 != chunk[where - start]:
                    return True  # "{" closed by "]": the brackets do not balance
                return chunk[where - start + 1 :]
            if where > limit:
                return False  # the bad item would open after the error: damage outside items
            if (
                opening
                and int(depths[i]) == item_depth - 1
                and _foreign(chunk, where - start, prefix)
            ):
                return False  # objects at the item depth that are not items: the count fails
            if closes:
                if not opening and int(depths[i]) == item_depth - 1:
                    closes -= 1
                    prev_end = where + 1 if not closes else None
            elif opening and int(depths[i]) == item_depth:
                bad_open, inside = where, True
                if structural and not _leads_to_item(data, prev_end, bad_open, unparsed, prefix):
                    return False
            else:
                structural = True
        if not inside and start + len(chunk) > limit:
            return False
        if depths.size:
            depth = int(depths[-1])
        in_string ^= bool(quotes % 2)
        start += len(chunk)
        chunk = stream.source.read(_SKIP_CHUNK)
    return inside


def _foreign(chunk: bytes, at: int, prefix: str) -> bool:
    """Whether the bracket at ``chunk[at]``, one level above the media items, surely opens
    something other than their array (an object, or an array under another key than the
    prefix's last, e.g. ``"Medi": [``): the scan would count its objects as media items.
    False where the key is not in sight (it lies in an earlier chunk)."""
    if chunk[at] != ord("["):
        return True
    key = _KEY_BEFORE.search(chunk, max(0, at - 256), at)
    expected = json.dumps(prefix.split(".")[-2]).encode()
    return key is not None and key.group(1) != expected


def _unescaped(chunk: bytes, escaped: bool) -> tuple[bytes, bool]:
    """``chunk`` with each escape (a backslash and the byte after it) as ``__``, for
    :func:`bracket_depths` (same length); ``escaped``: the chunk before ended inside an escape
    (its first byte is escaped), returned for the next chunk."""
    if escaped:
        chunk = b"_" + chunk[1:]
    if b"\\" not in chunk:
        return chunk, False
    chunk = chunk.replace(b"\\\\", b"__")
    escaped = chunk.endswith(b"\\")
    return chunk.replace(b'\\"', b"__"), escaped


def _leads_to_item(
    data: bytes, prev_end: int | None, bad_open: int, unparsed: Unparsed, prefix: str
) -> bool:
    """Whether the bytes of ``data`` before the bad item (from the end of the last item read,
    or from the stream's start) are well-formed JSON that leads to an item under ``prefix``
    (checked by ijson with placeholders for the items, the bad one last): brackets outside
    items between a good item and the bad one (the end of one case's media, the start of the
    next) are trusted only then."""
    closing = b"".join(b"]" if key == "item" else b"}" for key in reversed(prefix.split(".")))
    if prev_end is not None:
        doc = _opening(prefix) + b"0" + data[prev_end:bad_open] + b"1" + closing
    elif unparsed.offset == 0:
        doc = data[:bad_open] + b"1" + closing
    else:
        return False  # what came before the chunk is gone
    try:
        found = list(ijson.items(doc, prefix))
    except ijson.JSONError:
        return False
    return bool(found) and found[-1] == 1 and type(found[-1]) is int


def _opening(prefix: str) -> bytes:
    """The shortest JSON text that opens the array of items under ``prefix``:
    ``value.item.Media.item`` -> ``{"value":[{"Media":[``."""
    return b"".join(
        b"[" if key == "item" else b"{" + json.dumps(key).encode() + b":"
        for key in prefix.split(".")
    )


def _no_media(head: bytes, layout: VicsLayout) -> str:
    """Why a well-formed JSON document held no media item."""
    if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return 'the top level is not a VICS object ({"value": [media, ...]})'
    if re.search(rb'"value"\s*+:\s*+\[\s*+\]', head):
        return 'no media item: the "value" array is empty'
    where = '"value"' if layout.prefix == "value.item" else '"Media" of a case in "value"'
    if where != '"value"' and re.search(rb'"Media"\s*+:\s*+\[', head):
        return 'no media item: each case\'s "Media" array is empty'
    return f"no media item: VICS keeps them in an array under {where}"


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return printable(text[:120])


def _media_rows(
    media: dict[str, Any], position: int, media_id: object, builder: RowBuilder, layout: VicsLayout
) -> Iterator[RowItem]:
    category = media.get("Category")
    code = ""
    if isinstance(category, bool) or not isinstance(category, int | float | str | None):
        yield FormatError(f"{_where(position, media_id)}: Category must be a number or text")
        return
    if category is not None and str(category).strip():
        code = f"{layout.scheme}:{_code(category)}"
    note = f"MediaID {media_id}" if isinstance(media_id, int | str) and media_id != "" else ""
    if media.get("PhotoDNA"):
        layout.skipped_photodna += 1
    found = False
    for key, signal_type in _HASH_FIELDS:
        value = media.get(key)
        if value is None or value == "":
            continue
        found = True
        if not isinstance(value, str):
            yield FormatError(f"{_where(position, media_id)}: {key} must be text")
            continue
        item = builder.build(None, signal_type, value, "", category=code, note=note)
        if isinstance(item, FormatError):
            item = FormatError(f"{_where(position, media_id)}: {key}: {item.message}")
        yield item
    if not found and not media.get("PhotoDNA"):
        yield FormatError(f"{_where(position, media_id)}: no MD5, SHA1 or SHA256")


def _where(position: int, media_id: object) -> str:
    """How messages name a media item (made only for an error: 11 % of a VICS parse when
    made for every item, measured)."""
    return f"media item {position}" + (
        f" (MediaID {printable(str(media_id))[:100]})"
        if isinstance(media_id, int | float | str)
        else ""
    )


def _code(category: int | float | str) -> str:
    if isinstance(category, float) and category.is_integer():
        return str(int(category))
    return str(category).strip()
