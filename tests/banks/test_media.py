"""Hashing media files into bank entries: folder walking and per-file errors."""

from __future__ import annotations

import csv
from pathlib import Path

from safehold.banks.media import MediaHasher, iter_media_files
from safehold.errors import ContentError, NotFoundError
from safehold.settings import Settings


def test_folders_are_walked_sorted_and_missing_paths_reported(tmp_path: Path) -> None:
    for name in ("b/2.jpg", "b/1.jpg", "a.jpg", "c/d/e.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    found = list(iter_media_files([tmp_path, tmp_path / "missing"]))
    assert found[:-1] == [tmp_path / p for p in ("a.jpg", "b/1.jpg", "b/2.jpg", "c/d/e.png")]
    assert isinstance(found[-1], NotFoundError)


def test_reference_image_gives_every_photo_signal(shared_data: Path, settings: Settings) -> None:
    images = shared_data / "reference" / "images"
    with (images / "expected-hashes.csv").open() as f:
        row = next(r for r in csv.DictReader(f) if r["path"].endswith("aaa-orig.jpg"))
    result = MediaHasher(settings).hash_file(images / "bridge-mods" / "aaa-orig.jpg", note="n")
    assert result.error is None
    values = {e.signal_type: e.value for e in result.entries}
    assert set(values) == {"md5", "sha256", "pdq"}
    assert (values["md5"], values["sha256"]) == (row["md5"], row["sha256"])
    assert all(e.note == "n" for e in result.entries)


def test_corrupt_file_is_one_error_not_an_exception(shared_data: Path, settings: Settings) -> None:
    corrupt = sorted((shared_data / "pngsuite" / "png").glob("x*.png"))[0]
    result = MediaHasher(settings, ["pdq"]).hash_file(corrupt)
    assert isinstance(result.error, ContentError)
    assert result.entries == []
