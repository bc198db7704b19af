"""Explain why FFmpeg cannot open an MP4/MOV file: is it cut short?

An MP4 written in one pass keeps its index (the ``moov`` box) after the media data
(``mdat``), so the first part of such a file, the usual result of an interrupted upload or
copy, has no index at all and FFmpeg reports only "Invalid data found when processing input".
:func:`cut_short` walks the top-level boxes (ISO/IEC 14496-12 section 4.2: a 32-bit size, a
four-character type, a 64-bit size when the 32-bit one is 1, "to the end of the file" when it
is 0) and names the box the file ends inside, so the error can say what happened.
"""

from __future__ import annotations

import io
from typing import IO

from safehold.signals.base import Content

#: Sniffed formats (``signals.content``) whose files are ISO BMFF box structures.
ISO_BMFF_FORMATS = frozenset({"MP4", "MOV"})
#: Largest number of top-level boxes walked (real files have a handful).
MAX_TOP_LEVEL_BOXES = 10_000


def _name(box_type: bytes) -> str:
    text = box_type.decode("latin-1")
    return text if text.isprintable() else box_type.hex()


def cut_short(stream: IO[bytes], size: int) -> str | None:
    """Say how an ISO BMFF file (MP4, MOV, 3GP) is cut short, or None when it is not.

    Args:
        stream: the file, seekable; its position is changed.
        size: the file's size in bytes.

    Returns:
        ``"it ends inside its 'mdat' box, 16820 of 53533 bytes in; the 'moov' index is
        missing"``, ``"the 'moov' index is missing"``, or None when every top-level box is
        whole and a ``moov`` box is present (or the bytes are not a box structure at all, so
        there is nothing to say).
    """
    offset = 0
    seen: set[bytes] = set()
    for _ in range(MAX_TOP_LEVEL_BOXES):
        if offset + 8 > size:
            break
        stream.seek(offset)
        head = stream.read(16)
        box_size, box_type, header = int.from_bytes(head[:4], "big"), head[4:8], 8
        if box_size == 1:
            if len(head) < 16:
                return f"it ends inside the header of its '{_name(box_type)}' box"
            box_size, header = int.from_bytes(head[8:16], "big"), 16
        elif box_size == 0:
            box_size = size - offset
        if box_size < header:
            return None  # not a box structure: FFmpeg's own message is all there is
        seen.add(box_type)
        if offset + box_size > size:
            where = (
                f"it ends inside its '{_name(box_type)}' box, "
                f"{size - offset} of {box_size} bytes in"
            )
            return where if b"moov" in seen else f"{where}; the 'moov' index is missing"
        offset += box_size
    return None if b"moov" in seen or not seen else "the 'moov' index is missing"


def content_cut_short(content: Content) -> str | None:
    """:func:`cut_short` for an MP4/MOV ``content``; None for other formats or when the file
    cannot be read again."""
    if content.format_name not in ISO_BMFF_FORMATS:
        return None
    try:
        if content._data is not None:
            return cut_short(io.BytesIO(content._data), len(content._data))
        with content.path.open("rb") as f:
            return cut_short(f, content.path.stat().st_size)
    except OSError:
        return None
