"""The shared exact-match machinery of md5/sha256: distance and the dict index."""

from __future__ import annotations

from pathlib import Path

from safehold.signals.base import Signal
from safehold.signals.content import detect_content
from safehold.signals.md5 import Md5SignalType
from safehold.signals.sha256 import Sha256SignalType

A = "d35c785545392755e7e4164457657269"
B = "69b0834fac1477a4397a0be6b6e55c1a"


def test_distance_is_zero_or_one() -> None:
    assert Md5SignalType.distance(A, A) == 0
    assert Md5SignalType.distance(A, B) == 1


def test_index_returns_every_entry_with_the_value() -> None:
    index = Md5SignalType.build_index([(1, A), (2, B), (3, A)])
    assert len(index) == 3
    hits = index.query(Signal("md5", A), 0)
    assert sorted(h.entry_id for h in hits) == [1, 3]
    assert {h.distance for h in hits} == {0}
    assert index.query(Signal("md5", "0" * 32), 0) == []


def test_bank_of_reference_files_finds_exact_copies_only(
    reference: Path, image_rows: list[dict[str, str]]
) -> None:
    index = Sha256SignalType.build_index([(i, row["sha256"]) for i, row in enumerate(image_rows)])
    hasher = Sha256SignalType()
    blur = detect_content(reference / "images/bridge-mods/blur-a-little.jpg")
    hits = index.query(hasher.hash_content(blur), 0)
    assert [image_rows[h.entry_id]["path"] for h in hits] == [
        "images/bridge-mods/blur-a-little.jpg"
    ]
