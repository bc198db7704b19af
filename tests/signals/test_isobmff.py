"""Telling an MP4 cut short from other damage, by its top-level boxes (ISO/IEC 14496-12 4.2)."""

from __future__ import annotations

import io
from pathlib import Path

from safehold.signals.base import Content, ContentType
from safehold.signals.isobmff import content_cut_short, cut_short


def _box(kind: bytes, payload: bytes) -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


def _check(data: bytes) -> str | None:
    return cut_short(io.BytesIO(data), len(data))


FTYP = _box(b"ftyp", b"isom\0\0\2\0isomiso2")
MDAT = _box(b"mdat", bytes(1000))
MOOV = _box(b"moov", bytes(200))


def test_whole_files() -> None:
    assert _check(FTYP + MDAT + MOOV) is None
    assert _check(FTYP + MOOV + MDAT) is None
    large = (1).to_bytes(4, "big") + b"mdat" + (16 + 50).to_bytes(8, "big") + bytes(50)
    assert _check(FTYP + large + MOOV) is None  # 64-bit box size
    to_end = (0).to_bytes(4, "big") + b"mdat" + bytes(300)
    assert _check(FTYP + MOOV + to_end) is None  # size 0: the box runs to the end


def test_cut_inside_mdat_before_the_index() -> None:
    data = (FTYP + MDAT + MOOV)[: len(FTYP) + 500]
    assert _check(data) == (
        "it ends inside its 'mdat' box, 500 of 1008 bytes in; the 'moov' index is missing"
    )


def test_cut_inside_the_index_or_after_it() -> None:
    data = FTYP + MDAT + MOOV
    assert _check(data[:-10]) == "it ends inside its 'moov' box, 198 of 208 bytes in"
    assert (
        _check((FTYP + MOOV + MDAT)[:-1]) == "it ends inside its 'mdat' box, 1007 of 1008 bytes in"
    )


def test_missing_index_and_non_box_data() -> None:
    assert _check(FTYP + MDAT) == "the 'moov' index is missing"
    assert _check(b"\0\0\0\x03junkjunkjunk") is None  # box size below its header: not boxes
    assert _check(b"") is None


def test_only_for_iso_formats(tmp_path: Path) -> None:
    path = tmp_path / "cut.mp4"
    path.write_bytes((FTYP + MDAT + MOOV)[:100])
    mp4 = Content(path, ContentType.VIDEO, 100, format_name="MP4")
    assert content_cut_short(mp4) is not None
    mkv = Content(path, ContentType.VIDEO, 100, format_name="MATROSKA")
    assert content_cut_short(mkv) is None
    gone = Content(tmp_path / "gone.mp4", ContentType.VIDEO, 100, format_name="MP4")
    assert content_cut_short(gone) is None
