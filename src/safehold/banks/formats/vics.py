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
(``media item 12 (MediaID 40)``): JSON has no useful line numbers. Malformed JSON ends the
read with one error naming the last good media item.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Protocol

import ijson  # type: ignore[import-untyped]

from safehold.banks.formats.fields import RowBuilder, RowItem
from safehold.banks.formats.json_bounds import BoundedJson, JsonBoundError
from safehold.errors import FormatError
from safehold.output_files import printable

#: Scheme of category codes when the file's variant does not say.
DEFAULT_VICS_SCHEME = "vics"
#: Bytes read ahead to find the OData context (it comes first in every exporter we know).
HEAD_BYTES = 64 * 1024
_CONTEXT = re.compile(rb'"(?:@odata\.context|odata\.metadata)"\s*:\s*"([^"]{0,500})"')
_VARIANT = re.compile(r"DataModels/[0-9.]+\.xml/([A-Za-z0-9_-]+)/")
_HASH_FIELDS = (("MD5", "md5"), ("SHA1", "sha1"), ("SHA256", "sha256"))
UTF8_BOM = b"\xef\xbb\xbf"

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
    stream = BoundedJson(_Replay(body, binary), item_depth=layout.prefix.count(".") + 2)
    first_item, last_item = items
    position = first_item - 1
    media_id: object = None
    try:
        for media in ijson.items(stream, layout.prefix, use_float=True):
            position += 1
            if not isinstance(media, dict):
                yield FormatError(f"media item {position} is not a JSON object")
                continue
            media_id = media.get("MediaID")
            yield from _media_rows(media, position, media_id, builder, layout)
    except (ijson.JSONError, JsonBoundError) as exc:
        after = f"after media item {position}" if position else "before any media item"
        rest = "the rest was not read"
        if last_item is not None:  # a part: the parts after it are read
            rest = f"the rest up to media item {last_item} was not read"
        yield FormatError(f"malformed JSON {after} ({_short(exc)}); {rest}")
        return
    if position == first_item - 1:
        yield FormatError(_no_media(head, layout))


def _no_media(head: bytes, layout: VicsLayout) -> str:
    """Why a well-formed JSON document held no media item."""
    if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return 'the top level is not a VICS object ({"value": [media, ...]})'
    where = '"value"' if layout.prefix == "value.item" else '"Media" of a case in "value"'
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
