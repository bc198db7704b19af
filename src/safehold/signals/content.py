"""Decide what a file is from its first bytes, never from its name.

A scanner meets files with wrong or missing extensions (``photo.dat``, a video named ``.jpg``),
so :func:`detect_content` reads the first 4 KiB and matches the magic numbers of the formats
Safehold decodes (:data:`SIGNATURES`); the list below cites the specification of each.

Photos (decoded with Pillow, plus pillow-heif for HEIC), magic bytes and their source:

- JPEG: ``FF D8 FF`` (SOI marker, then the next marker); ITU-T T.81 (ISO/IEC 10918-1) B.1.1.3.
- PNG/APNG: ``89 50 4E 47 0D 0A 1A 0A``; PNG specification (W3C, 3rd edition) 5.2.
- GIF: ``GIF87a`` / ``GIF89a``; GIF89a specification, section 17.
- WebP: ``RIFF`` <size> ``WEBP``; RFC 9649, section 2.5.
- BMP: ``BM`` and a known DIB header size at offset 14; Microsoft BITMAPFILEHEADER and
  BITMAPINFOHEADER (V1-V5) documentation.
- TIFF: ``II*\\0`` / ``MM\\0*`` (BigTIFF: ``+`` for ``*``); TIFF 6.0 section 2, BigTIFF.
- JPEG 2000: ``00 00 00 0C 6A 50 20 20 0D 0A 87 0A`` (JP2) or ``FF 4F FF 51`` (codestream);
  ISO/IEC 15444-1 I.5.1 and A.4.
- HEIF/HEIC/AVIF: an ISO BMFF ``ftyp`` box with an image brand (``heic``, ``heix``, ``mif1``,
  ``msf1``, ``avif``, ...); ISO/IEC 23008-12 Annex B, AV1 Image File Format 1.0 section 6.

Videos (decoded with PyAV / FFmpeg):

- MP4/MOV/3GP/M4V: an ISO BMFF ``ftyp`` box with any other brand, or a QuickTime file opening
  with a ``moov``/``mdat``/``wide``/``free``/``skip`` atom; ISO/IEC 14496-12 4.3, Apple
  QuickTime File Format "Atoms".
- WebM/Matroska: ``1A 45 DF A3`` (EBML header); RFC 8794 section 8.
- AVI: ``RIFF`` <size> ``AVI ``; Microsoft AVI RIFF File Reference.
- MPEG-TS: sync byte ``47`` at three 188-byte packet starts (192 for M2TS); ISO/IEC 13818-1
  2.4.3.2.
- MPEG-PS: ``00 00 01 BA`` (pack start code); ISO/IEC 13818-1 2.5.3.3.
- FLV: ``FLV`` ``01``; Adobe Flash Video File Format Specification v10.1 E.2.
- ASF/WMV: header object GUID ``30 26 B2 75 8E 66 CF 11 A6 D9 00 AA 00 62 CE 6C``; Microsoft
  ASF Specification 10.1.

ISO BMFF audio-only brands (``M4A``, ``M4B``, ``M4P``) are refused as unsupported.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from safehold.errors import (
    ContentError,
    ContentTooLargeError,
    EmptyContentError,
    UnsupportedContentError,
)
from safehold.settings import Settings
from safehold.signals.base import Content, ContentType, HashOptions

#: Bytes read to sniff a file (MPEG-TS needs three packets: 3 * 188 < 4096).
SNIFF_BYTES = 4096

#: Default bound on file size, the same as ``Settings.max_file_bytes``.
DEFAULT_MAX_FILE_BYTES = 4 * 1024**3

#: ISO BMFF brands of still images: HEIF (ISO/IEC 23008-12 Annex B) and AVIF.
HEIF_BRANDS = frozenset(
    {
        b"heic",
        b"heix",
        b"heim",
        b"heis",
        b"hevc",
        b"hevx",
        b"hevm",
        b"hevs",
        b"mif1",
        b"msf1",
        b"mif2",
        b"avif",
        b"avis",
    }
)
#: The HEVC-coded (HEIC) subset of :data:`HEIF_BRANDS`.
HEVC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
#: ISO BMFF brands of audio-only files (iTunes audio, audiobooks, protected audio).
AUDIO_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P "})
#: QuickTime top-level atoms that may open a ``.mov`` file written without an ``ftyp`` box.
QUICKTIME_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})
#: ASF header object GUID (Microsoft ASF specification, 10.1).
ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
#: BITMAPINFOHEADER family sizes (core, info, v2, v3, OS/2 2, v4, v5).
BMP_DIB_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})


def _iso_bmff(head: bytes) -> tuple[ContentType, str] | None:
    """Classify an ISO BMFF (``ftyp``) or bare QuickTime file."""
    if head[4:8] == b"ftyp":
        box_size = int.from_bytes(head[0:4], "big")
        end = min(len(head), box_size if box_size >= 16 else 16)
        major = head[8:12]
        brands = {major} | {head[i : i + 4] for i in range(16, end - 3, 4)}
        if major in AUDIO_BRANDS:
            raise UnsupportedContentError("ISO media file with an audio-only brand")
        # The major brand decides; compatible brands only for an unknown major brand.
        if major in HEIF_BRANDS or (not _video_brand(major) and brands & HEIF_BRANDS):
            avif = bool(brands & {b"avif", b"avis"}) and not brands & HEVC_BRANDS
            return ContentType.PHOTO, "AVIF" if avif else "HEIF"
        return ContentType.VIDEO, "MOV" if major == b"qt  " else "MP4"
    if head[4:8] in QUICKTIME_ATOMS:
        return ContentType.VIDEO, "MOV"
    return None


def _video_brand(brand: bytes) -> bool:
    """True for ISO BMFF major brands that announce a movie (mp4, mov, 3gp, ...)."""
    return brand[:3] in {b"iso", b"mp4", b"avc", b"3gp", b"3g2", b"M4V", b"qt ", b"dash"}


def _mpeg_ts(head: bytes) -> bool:
    """Three MPEG-TS sync bytes (0x47) 188 bytes apart, or 192 for M2TS (4-byte prefix)."""
    for start, step in ((0, 188), (4, 192)):
        if len(head) >= start + 2 * step + 1 and all(
            head[start + i * step] == 0x47 for i in range(3)
        ):
            return True
    return False


def _bmp(head: bytes) -> bool:
    return head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in BMP_DIB_SIZES


Sniffer = Callable[[bytes], bool]

#: ``(test, content type, format name)`` checked in order; the first match wins.
SIGNATURES: tuple[tuple[Sniffer, ContentType, str], ...] = (
    (lambda h: h[:3] == b"\xff\xd8\xff", ContentType.PHOTO, "JPEG"),
    (lambda h: h[:8] == b"\x89PNG\r\n\x1a\n", ContentType.PHOTO, "PNG"),
    (lambda h: h[:6] in (b"GIF87a", b"GIF89a"), ContentType.PHOTO, "GIF"),
    (lambda h: h[:4] == b"RIFF" and h[8:12] == b"WEBP", ContentType.PHOTO, "WEBP"),
    (_bmp, ContentType.PHOTO, "BMP"),
    (lambda h: h[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"), ContentType.PHOTO, "TIFF"),
    (
        lambda h: h[:12] == b"\0\0\0\x0cjP  \r\n\x87\n" or h[:4] == b"\xff\x4f\xff\x51",
        ContentType.PHOTO,
        "JPEG2000",
    ),
    (lambda h: h[:4] == b"\x1a\x45\xdf\xa3", ContentType.VIDEO, "MATROSKA"),
    (lambda h: h[:4] == b"RIFF" and h[8:12] == b"AVI ", ContentType.VIDEO, "AVI"),
    (lambda h: h[:4] == b"FLV\x01", ContentType.VIDEO, "FLV"),
    (lambda h: h[:16] == ASF_GUID, ContentType.VIDEO, "ASF"),
    (lambda h: h[:4] == b"\0\0\x01\xba", ContentType.VIDEO, "MPEG-PS"),
    (_mpeg_ts, ContentType.VIDEO, "MPEG-TS"),
)


def sniff(head: bytes) -> tuple[ContentType, str]:
    """Classify a file from its first bytes (up to :data:`SNIFF_BYTES`).

    Returns:
        ``(content type, format name)``, e.g. ``(ContentType.PHOTO, "JPEG")``.

    Raises:
        UnsupportedContentError: no known signature (or an audio-only ISO media file).
    """
    for test, content_type, name in SIGNATURES:
        if test(head):
            return content_type, name
    found = _iso_bmff(head) if len(head) >= 12 else None
    if found is not None:
        return found
    raise UnsupportedContentError("not an image or video format Safehold decodes")


def _read_head(path: Path) -> bytes:
    """First bytes of a file whose size is reported as 0: empty, or a kernel pseudo-file.

    procfs and similar file systems report size 0 for files that do hold data
    (``/proc/self/status``), so such a file is read before it is called empty. The read does
    not block (``O_NONBLOCK``; ``/proc/kmsg`` would wait for kernel messages).

    Raises:
        EmptyContentError: nothing to read.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        head = os.read(fd, SNIFF_BYTES)
    except BlockingIOError:
        head = b""
    finally:
        os.close(fd)
    if not head:
        raise EmptyContentError("the file is empty (0 bytes)")
    return head


def detect_content(
    path: Path,
    limits: Settings | HashOptions | None = None,
    *,
    max_file_bytes: int | None = None,
) -> Content:
    """Sniff the file at ``path`` and return its :class:`Content` (bytes not read yet).

    Args:
        path: the file.
        limits: ``Settings`` (its ``max_file_bytes`` applies) or ``HashOptions`` / None
            (the default bound, 4 GiB).
        max_file_bytes: overrides the bound from ``limits``.

    Raises:
        EmptyContentError: the file has 0 bytes (a file whose size is reported as 0 is read
            first: procfs files report 0 and still hold data).
        ContentTooLargeError: the file is larger than the bound (checked before reading).
        UnsupportedContentError: not a photo or video format Safehold decodes.
        ContentError: the file cannot be read (missing, a directory, no permission).
    """
    if max_file_bytes is None:
        max_file_bytes = (
            limits.max_file_bytes if isinstance(limits, Settings) else DEFAULT_MAX_FILE_BYTES
        )
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise ContentError("not a regular file")
        if size > max_file_bytes:
            raise ContentTooLargeError(
                f"the file has {size} bytes, over the bound of {max_file_bytes} bytes"
            )
        if size == 0:
            head = _read_head(path)
        else:
            with path.open("rb") as f:
                head = f.read(SNIFF_BYTES)
    except OSError as exc:
        raise ContentError(f"cannot read the file: {exc.strerror or exc}") from None
    content_type, name = sniff(head)
    return Content(path=path, content_type=content_type, size=size, format_name=name)
