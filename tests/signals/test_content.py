"""detect_content: magic bytes decide, the extension never does; bounds and bad files."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from safehold.errors import (
    ContentError,
    ContentTooLargeError,
    EmptyContentError,
    UnsupportedContentError,
)
from safehold.settings import Settings
from safehold.signals.base import ContentType, HashOptions
from safehold.signals.content import detect_content, sniff


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\0\0\0\0" + b"".join(compatible)
    return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body + b"\0" * 64


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\0\x10JFIF", (ContentType.PHOTO, "JPEG")),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", (ContentType.PHOTO, "PNG")),
        (b"GIF89a\x01\0\x01\0", (ContentType.PHOTO, "GIF")),
        (b"GIF87a\x01\0\x01\0", (ContentType.PHOTO, "GIF")),
        (b"RIFF\x24\0\0\0WEBPVP8 ", (ContentType.PHOTO, "WEBP")),
        (b"BM" + b"\0" * 12 + (40).to_bytes(4, "little"), (ContentType.PHOTO, "BMP")),
        (b"II*\0\x08\0\0\0", (ContentType.PHOTO, "TIFF")),
        (b"MM\0*\0\0\0\x08", (ContentType.PHOTO, "TIFF")),
        (b"\0\0\0\x0cjP  \r\n\x87\n", (ContentType.PHOTO, "JPEG2000")),
        (_ftyp(b"heic", b"mif1", b"heic"), (ContentType.PHOTO, "HEIF")),
        (_ftyp(b"mif1", b"heic"), (ContentType.PHOTO, "HEIF")),
        (_ftyp(b"msf1", b"hevc"), (ContentType.PHOTO, "HEIF")),
        (_ftyp(b"avif", b"mif1", b"miaf"), (ContentType.PHOTO, "AVIF")),
        (_ftyp(b"mif1", b"avif"), (ContentType.PHOTO, "AVIF")),
        (_ftyp(b"isom", b"iso2", b"avc1", b"mp41"), (ContentType.VIDEO, "MP4")),
        (_ftyp(b"mp42", b"isom"), (ContentType.VIDEO, "MP4")),
        (_ftyp(b"qt  ", b"qt  "), (ContentType.VIDEO, "MOV")),
        (_ftyp(b"3gp4", b"isom"), (ContentType.VIDEO, "MP4")),
        (b"\0\0\0\x08wide\0\0\0\x10mdat", (ContentType.VIDEO, "MOV")),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01", (ContentType.VIDEO, "MATROSKA")),
        (b"RIFF\x24\0\0\0AVI LIST", (ContentType.VIDEO, "AVI")),
        (b"FLV\x01\x05\0\0\0\x09", (ContentType.VIDEO, "FLV")),
        (bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c"), (ContentType.VIDEO, "ASF")),
        (b"\0\0\x01\xba\x44\0\x04\0\x04\x01", (ContentType.VIDEO, "MPEG-PS")),
        ((b"\x47" + b"\0" * 187) * 4, (ContentType.VIDEO, "MPEG-TS")),
        ((b"\0\0\0\0\x47" + b"\0" * 187) * 4, (ContentType.VIDEO, "MPEG-TS")),
    ],
)
def test_sniff_known_signatures(head: bytes, expected: tuple[ContentType, str]) -> None:
    assert sniff(head) == expected


@pytest.mark.parametrize(
    "head",
    [
        b"%PDF-1.7\n",
        b"PK\x03\x04zipfile",
        b"hello, world\n",
        b"BM" + b"\0" * 12 + (999).to_bytes(4, "little"),  # 'BM' text, not a DIB header
        b"RIFF\x24\0\0\0WAVEfmt ",
        _ftyp(b"M4A ", b"isom"),  # audio only
        b"\x47" + b"\0" * 300,  # one sync byte is not a transport stream
    ],
)
def test_sniff_rejects_other_content(head: bytes) -> None:
    with pytest.raises(UnsupportedContentError):
        sniff(head)


def test_reference_media_are_classified(reference: Path, image_rows: list[dict[str, str]]) -> None:
    for row in image_rows:
        content = detect_content(reference / row["path"])
        assert content.content_type is ContentType.PHOTO
        assert content.size == (reference / row["path"]).stat().st_size
    for clip in (reference / "videos").glob("*.mp4"):
        content = detect_content(clip)
        assert (content.content_type, content.format_name) == (ContentType.VIDEO, "MP4")


def test_extension_is_ignored(tmp_path: Path, blobs: Callable[..., Image.Image]) -> None:
    png_named_jpg = tmp_path / "photo.jpg"
    blobs().save(png_named_jpg, format="PNG")
    assert detect_content(png_named_jpg).format_name == "PNG"
    no_suffix = tmp_path / "upload"
    blobs().save(no_suffix, format="JPEG")
    assert detect_content(no_suffix).format_name == "JPEG"


def test_generated_video_is_classified(tmp_path: Path) -> None:
    path = tmp_path / "clip.bin"
    with av.open(str(path), mode="w", format="matroska") as out:
        stream = out.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    content = detect_content(path)
    assert (content.content_type, content.format_name) == (ContentType.VIDEO, "MATROSKA")


def test_zero_bytes_is_empty(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(EmptyContentError, match="0 bytes"):
        detect_content(empty)


def test_random_bytes_named_jpg_are_unsupported(tmp_path: Path) -> None:
    fake = tmp_path / "fake.jpg"
    fake.write_bytes(np.random.default_rng(7).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(UnsupportedContentError):
        detect_content(fake)


def test_size_bound_from_settings_and_override(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    size = path.stat().st_size
    with pytest.raises(ContentTooLargeError, match=f"{size} bytes"):
        detect_content(path, Settings(max_file_bytes=size - 1))
    with pytest.raises(ContentTooLargeError):
        detect_content(path, HashOptions(), max_file_bytes=10)
    assert detect_content(path, Settings(max_file_bytes=size)).size == size


def test_missing_file_and_directory_are_content_errors(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match="cannot read"):
        detect_content(tmp_path / "missing.jpg")
    with pytest.raises(ContentError, match="not a regular file"):
        detect_content(tmp_path)


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux procfs")
def test_pseudo_files_reporting_zero_bytes_are_read_before_being_called_empty() -> None:
    assert Path("/proc/self/status").stat().st_size == 0
    with pytest.raises(UnsupportedContentError, match="not an image or video"):
        detect_content(Path("/proc/self/status"))


def test_iter_chunks_streams_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a.gif"
    data = b"GIF89a" + bytes(range(256)) * 10
    path.write_bytes(data)
    content = detect_content(path)
    chunks = list(content.iter_chunks(1000))
    assert [len(c) for c in chunks] == [1000, 1000, 566]
    assert b"".join(chunks) == data
    assert content._data is None  # streamed, not cached
    assert b"".join(content.iter_chunks(7)) == content.read_bytes() == data
    assert b"".join(content.iter_chunks(7)) == data  # from the cached bytes now
