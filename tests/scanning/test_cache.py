"""The scan cache: keyed by path + options, valid while size and mtime hold, errors selectively."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from safehold.scanning.cache import SCHEMA_VERSION, ScanCache, options_fingerprint
from safehold.scanning.records import FileError, FileOutcome
from safehold.signals.base import HashOptions, Signal

MD5 = Signal("md5", "d41d8cd98f00b204e9800998ecf8427e")
PDQ = Signal(
    "pdq",
    "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
    100,
    ("0" * 64,),
    ("rotate90",),
)


def _outcome(**kw: object) -> FileOutcome:
    base: dict[str, object] = {
        "content_type": "photo",
        "size": 10,
        "signals": {"md5": MD5, "pdq": PDQ},
        "signal_types": ("md5", "pdq"),
    }
    base.update(kw)
    return FileOutcome(**base)  # type: ignore[arg-type]


def test_round_trip_keeps_signals_variants_and_names(tmp_path: Path) -> None:
    cache = ScanCache(tmp_path / "c.sqlite", "fp")
    cache.put("/a.jpg", 10, 123, _outcome())
    got = cache.get("/a.jpg", 10, 123, ("md5", "pdq"))
    assert got is not None
    assert got.signals == {"md5": MD5, "pdq": PDQ}
    assert got.signals["pdq"].variant_names == ("rotate90",)
    assert (got.content_type, got.size, got.error) == ("photo", 10, None)


def test_changed_size_or_mtime_or_options_miss(tmp_path: Path) -> None:
    cache = ScanCache(tmp_path / "c.sqlite", "fp")
    cache.put("/a.jpg", 10, 123, _outcome())
    assert cache.get("/a.jpg", 11, 123, ("md5",)) is None
    assert cache.get("/a.jpg", 10, 124, ("md5",)) is None
    assert cache.get("/b.jpg", 10, 123, ("md5",)) is None
    other = ScanCache(tmp_path / "c.sqlite", "other-fp")
    assert other.get("/a.jpg", 10, 123, ("md5",)) is None


def test_request_must_be_covered_and_is_projected(tmp_path: Path) -> None:
    cache = ScanCache(tmp_path / "c.sqlite", "fp")
    cache.put("/a.jpg", 10, 123, _outcome())
    only_md5 = cache.get("/a.jpg", 10, 123, ("md5",))
    assert only_md5 is not None
    assert list(only_md5.signals) == ["md5"]
    assert cache.get("/a.jpg", 10, 123, ("md5", "sha256")) is None


def test_only_deterministic_errors_are_cached(tmp_path: Path) -> None:
    cache = ScanCache(tmp_path / "c.sqlite", "fp")
    corrupt = FileError("corrupt", "bad CRC")
    assert corrupt.cacheable
    cache.put("/c.png", 5, 1, _outcome(signals={"md5": MD5}, error=corrupt))
    cache.put("/t.png", 5, 1, _outcome(error=FileError("timeout", "slow", cacheable=False)))
    got = cache.get("/c.png", 5, 1, ("md5",))
    assert got is not None
    assert got.error == FileError("corrupt", "bad CRC")
    assert cache.get("/t.png", 5, 1, ("md5",)) is None


def test_rows_survive_a_crash_after_a_full_batch(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cache = ScanCache(path, "fp", commit_every=2)
    cache.put("/1", 1, 1, _outcome())
    cache.put("/2", 1, 1, _outcome())  # second row: the batch is committed
    cache.put("/3", 1, 1, _outcome())  # pending, lost if the process dies now
    reader = ScanCache(path, "fp")
    assert reader.get("/2", 1, 1, ("md5",)) is not None
    assert reader.get("/3", 1, 1, ("md5",)) is None
    cache.close()
    assert reader.get("/3", 1, 1, ("md5",)) is not None


def test_non_utf8_file_names_are_stored(tmp_path: Path) -> None:
    cache = ScanCache(tmp_path / "c.sqlite", "fp")
    name = b"/data/caf\xe9.jpg".decode("utf-8", "surrogateescape")
    cache.put(name, 1, 1, _outcome())
    assert cache.get(name, 1, 1, ("md5",)) is not None


def test_old_schema_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE files (junk TEXT)")
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 5}")
    db.commit()
    db.close()
    cache = ScanCache(path, "fp")
    cache.put("/a", 1, 1, _outcome())
    assert len(cache) == 1


def test_fingerprint_covers_every_hashing_option() -> None:
    base = options_fingerprint(HashOptions(), 100)
    assert base == options_fingerprint(HashOptions(), 100)
    assert (
        len(
            {
                base,
                options_fingerprint(HashOptions(dihedral=True), 100),
                options_fingerprint(HashOptions(unletterbox=True), 100),
                options_fingerprint(HashOptions(preshrink=0), 100),
                options_fingerprint(HashOptions(vpdq_seconds_per_frame=2.0), 100),
                options_fingerprint(HashOptions(), 101),
            }
        )
        == 6
    )
