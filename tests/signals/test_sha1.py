"""sha1: the FIPS 180-4 example digests, and OpenSSL's value (hashlib) for reference files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from safehold.errors import InvalidSignalError
from safehold.signals import Content, ContentType, get_signal_type
from safehold.signals.content import detect_content
from safehold.signals.sha1 import Sha1SignalType

# FIPS 180-4 / NIST CSRC "SHA1.pdf" example: SHA-1("abc").
ABC = "a9993e364706816aba3e25717850c26c9cd0d89d"


def test_registered() -> None:
    assert get_signal_type("sha1") is Sha1SignalType


def test_fips_example(tmp_path: Path) -> None:
    path = tmp_path / "abc.bin"
    path.write_bytes(b"abc")
    content = Content(path=path, content_type=ContentType.PHOTO, size=3)
    assert Sha1SignalType().hash_content(content).value == ABC


def test_reference_images_and_videos(
    reference: Path, image_rows: list[dict[str, str]], video_rows: list[dict[str, str]]
) -> None:
    hasher = Sha1SignalType()
    for row in image_rows + video_rows:
        path = reference / row["path"]
        expected = hashlib.sha1(path.read_bytes()).hexdigest()
        assert hasher.hash_content(detect_content(path)).value == expected, row["path"]


def test_validate_signal() -> None:
    assert Sha1SignalType.validate_signal(ABC.upper()) == ABC
    with pytest.raises(InvalidSignalError, match="40 hexadecimal digits"):
        Sha1SignalType.validate_signal(ABC[:-1])
