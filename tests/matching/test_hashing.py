"""hash_upload: the scan's recipe on bytes or files, with the service's bounds and errors."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest

from safehold.errors import (
    ContentTooLargeError,
    CorruptContentError,
    EmptyContentError,
    InvalidInputError,
    UnsupportedContentError,
)
from safehold.matching import hash_upload
from safehold.settings import Settings
from safehold.signals.pdq import PdqSignalType


def test_bytes_and_files_give_the_reference_hashes(
    images: Path, expected_hashes: dict[str, dict[str, str]], settings: Settings
) -> None:
    path = images / "bridge-mods" / "aaa-orig.jpg"
    expected = expected_hashes["aaa-orig.jpg"]
    from_bytes = hash_upload(path.read_bytes(), settings)
    from_file = hash_upload(path, settings)
    for hashed in (from_bytes, from_file):
        assert (hashed.content_type, hashed.format_name) == ("photo", "JPEG")
        assert hashed.size == path.stat().st_size
        assert sorted(hashed.signals) == ["md5", "pdq", "sha1", "sha256"]
        assert hashed.signals["md5"].value == expected["md5"]
        assert hashed.signals["sha1"].value == hashlib.sha1(path.read_bytes()).hexdigest()
        assert hashed.signals["sha256"].value == expected["sha256"]
        pdq = hashed.signals["pdq"]
        assert PdqSignalType.distance(pdq.value, expected["pdq"]) <= 8
        assert pdq.quality == int(expected["pdq_quality"])
        assert hashed.error is None
    assert from_bytes.signals == from_file.signals


def test_videos_get_vpdq_and_file_hashes(videos: Path, settings: Settings) -> None:
    with (videos / "expected-file-hashes.csv").open() as f:
        expected = {Path(row["path"]).name: row for row in csv.DictReader(f)}
    path = videos / "chair-20-sd-bar.mp4"
    hashed = hash_upload(path.read_bytes(), settings)
    assert (hashed.content_type, hashed.format_name) == ("video", "MP4")
    assert sorted(hashed.signals) == ["md5", "sha1", "sha256", "vpdq"]
    assert hashed.signals["md5"].value == expected[path.name]["md5"]
    assert hashed.signals["sha256"].value == expected[path.name]["sha256"]
    assert hashed.signals["vpdq"].value.count("\n") >= 10  # one frame per second


def test_requested_types_only(images: Path, settings: Settings) -> None:
    path = images / "reg-test-input" / "pen-and-coaster.png"
    assert sorted(hash_upload(path, settings, ["md5"]).signals) == ["md5"]
    with pytest.raises(UnsupportedContentError, match="vpdq"):
        hash_upload(path, settings, ["vpdq"])
    with pytest.raises(InvalidInputError, match="unknown signal type"):
        hash_upload(path, settings, ["nosuch"])


def test_bounds(images: Path, settings: Settings) -> None:
    path = images / "bridge-mods" / "aaa-orig.jpg"
    small = settings.model_copy(update={"max_upload_bytes": 1000})
    with pytest.raises(ContentTooLargeError, match="1000 bytes"):
        hash_upload(path.read_bytes(), small)
    with pytest.raises(ContentTooLargeError):
        hash_upload(path, small)
    few_pixels = settings.model_copy(update={"max_image_pixels": 10_000})
    with pytest.raises(ContentTooLargeError):
        hash_upload(path, few_pixels, ["pdq"])


def test_refusals_carry_their_http_status(shared_data: Path, settings: Settings) -> None:
    with pytest.raises(EmptyContentError) as empty:
        hash_upload(b"", settings)
    assert empty.value.http_status == 422
    with pytest.raises(UnsupportedContentError) as text:
        hash_upload(b"just some text, not an image", settings)
    assert text.value.http_status == 415
    corrupt = shared_data / "pngsuite" / "png" / "xcsn0g01.png"  # IDAT fails its CRC
    with pytest.raises(CorruptContentError):
        hash_upload(corrupt.read_bytes(), settings, ["pdq"])


def test_partly_hashed_content_keeps_its_signals(shared_data: Path, settings: Settings) -> None:
    corrupt = shared_data / "pngsuite" / "png" / "xcsn0g01.png"
    hashed = hash_upload(corrupt.read_bytes(), settings)
    assert sorted(hashed.signals) == ["md5", "sha1", "sha256"]
    assert hashed.error is not None
    assert hashed.error.type == "corrupt"
