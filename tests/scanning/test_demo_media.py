"""The demo set: built offline from scikit-image's bundled photos, stable across re-runs."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from safehold.scanning.demo_media import EDITS, KNOWN, UNRELATED, build_demo_media


def test_demo_set_layout_and_expectations(tmp_path: Path) -> None:
    media = build_demo_media(tmp_path, video=False)
    assert [p.name for p in media.originals] == [f"{stem}.jpg" for stem in KNOWN.values()]
    assert len(media.expected_matches) == len(KNOWN) * (len(EDITS) + 1)
    assert len(media.expected_misses) == len(UNRELATED) + 2
    for name in media.expected_matches + media.expected_misses:
        assert (media.scan_dir / name).is_file(), name
    with (
        Image.open(media.scan_dir / "edited" / "cat-rotated90.png") as rotated,
        Image.open(media.originals[1]) as original,
    ):
        assert rotated.size == (original.height, original.width)
    exact = media.scan_dir / "edited" / "coffee-exact-copy.jpg"
    assert exact.read_bytes() == media.originals[0].read_bytes()


def test_rebuilding_keeps_files_untouched(tmp_path: Path) -> None:
    build_demo_media(tmp_path, video=False)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    build_demo_media(tmp_path, video=False)
    after = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before
