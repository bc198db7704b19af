"""Hashing media files into bank entries, with per-file errors."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

from safehold.banks.media import MediaHasher
from safehold.errors import ContentError
from safehold.settings import Settings


def test_reference_image_gives_every_photo_signal(shared_data: Path, settings: Settings) -> None:
    images = shared_data / "reference" / "images"
    with (images / "expected-hashes.csv").open() as f:
        row = next(r for r in csv.DictReader(f) if r["path"].endswith("aaa-orig.jpg"))
    result = MediaHasher(settings).hash_file(images / "bridge-mods" / "aaa-orig.jpg", note="n")
    assert result.error is None
    values = {e.signal_type: e.value for e in result.entries}
    assert set(values) == {"md5", "sha1", "sha256", "pdq"}
    assert (values["md5"], values["sha256"]) == (row["md5"], row["sha256"])
    # SHA-1 has no column in expected-hashes.csv: OpenSSL's (hashlib) is the reference.
    data = (images / "bridge-mods" / "aaa-orig.jpg").read_bytes()
    assert values["sha1"] == hashlib.sha1(data).hexdigest()
    assert all(e.note == "n" for e in result.entries)


def test_corrupt_file_is_one_error_not_an_exception(shared_data: Path, settings: Settings) -> None:
    corrupt = sorted((shared_data / "pngsuite" / "png").glob("x*.png"))[0]
    result = MediaHasher(settings, ["pdq"]).hash_file(corrupt)
    assert isinstance(result.error, ContentError)
    assert result.entries == []
