"""PNG critical-chunk CRC checks (Pillow skips them for IDAT)."""

from __future__ import annotations

import io
import zlib

import pytest
from PIL import Image

from safehold.errors import CorruptContentError
from safehold.signals.pngcheck import check_png_crcs


def _chunk(kind: bytes, data: bytes, crc: int | None = None) -> bytes:
    value = zlib.crc32(kind + data) if crc is None else crc
    return len(data).to_bytes(4, "big") + kind + data + value.to_bytes(4, "big")


def _png(*chunks: bytes) -> io.BytesIO:
    return io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"".join(chunks))


IHDR = _chunk(b"IHDR", (1).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0]))
IDAT = _chunk(b"IDAT", zlib.compress(b"\0\x80"))
IEND = _chunk(b"IEND", b"")


def test_valid_png_passes() -> None:
    check_png_crcs(_png(IHDR, IDAT, IEND))
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (9, 99, 199)).save(buffer, format="PNG")
    buffer.seek(0)
    check_png_crcs(buffer)


def test_damaged_idat_is_fatal() -> None:
    bad = _chunk(b"IDAT", zlib.compress(b"\0\x80"), crc=1234)
    with pytest.raises(CorruptContentError, match="IDAT chunk fails its CRC"):
        check_png_crcs(_png(IHDR, bad, IEND))


def test_damaged_ancillary_chunk_is_ignored() -> None:
    text = _chunk(b"tEXt", b"Comment\0hello", crc=0)
    check_png_crcs(_png(IHDR, text, IDAT, IEND))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n" + IHDR + IDAT, "no IEND"),
        (b"\x89PNG\r\n\x1a\n" + IHDR + IDAT[:10], "truncated"),
        (b"\x89PNG\r\n\x1a\n" + IHDR + IEND, "no IDAT"),
        (b"\x89PNG\r\n\x1a\x0a"[:7] + b"!" + IHDR, "signature"),
        (b"\x89PNG\r\n\x1a\n" + b"\0\0\0\x01I\0AT\0\0\0\0\0", "header is damaged"),
    ],
)
def test_broken_structure(data: bytes, message: str) -> None:
    with pytest.raises(CorruptContentError, match=message):
        check_png_crcs(io.BytesIO(data))
