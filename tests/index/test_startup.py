"""Start-up: snapshot + replay when the snapshot is good, a rebuild whenever it is not, and
never an index that answers before it is ready."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from index_reference import random_rows

from safehold.index import (
    BinaryIndex,
    Change,
    ChangeBatch,
    FullLoad,
    IndexNotReadyError,
    IndexSlot,
    open_index,
)


class ListFeed:
    """A change feed over an in-memory change log (what the bank service provides)."""

    def __init__(self, rows: np.ndarray) -> None:
        self.log: list[tuple[int, Change]] = []
        self.seq = 0
        self.rows: dict[int, np.ndarray] = {}
        self.disabled: set[int] = set()
        self.trimmed_before = 0
        self.full_loads = 0
        for i, row in enumerate(rows):
            self.add(i, row)

    def add(self, entry: int, row: np.ndarray) -> None:
        self.seq += 1
        self.rows[entry] = row
        self.log.append((self.seq, Change("add", np.array([entry]), row[None, :].copy())))

    def disable(self, entry: int) -> None:
        self.seq += 1
        self.disabled.add(entry)
        self.log.append((self.seq, Change("disable", np.array([entry]))))

    def current_sequence(self) -> int:
        return self.seq

    def changes_since(self, change_seq: int) -> ChangeBatch | None:
        if change_seq < self.trimmed_before:
            return None
        return ChangeBatch([c for s, c in self.log if s > change_seq], self.seq)

    def full_load(self) -> FullLoad:
        self.full_loads += 1
        ids = np.array(sorted(self.rows), dtype=np.int64)
        rows = np.array([self.rows[i] for i in ids.tolist()], dtype=np.uint64).reshape(-1, 4)
        return FullLoad(ids, rows, np.array(sorted(self.disabled), dtype=np.int64), self.seq)


@pytest.fixture
def feed() -> ListFeed:
    return ListFeed(random_rows(500, 4, np.random.default_rng(0)))


def test_first_start_rebuilds_and_saves(feed: ListFeed, tmp_path: Path) -> None:
    opened = open_index(tmp_path / "pdq.idx", feed, source="db")
    assert (opened.origin, opened.reason, opened.change_seq) == ("rebuilt", "missing", 500)
    assert len(opened.index) == 500
    assert BinaryIndex.load(tmp_path / "pdq.idx", source="db")[1] == 500


def test_second_start_loads_and_replays_later_changes(feed: ListFeed, tmp_path: Path) -> None:
    open_index(tmp_path / "pdq.idx", feed, source="db")
    new = random_rows(1, 4, np.random.default_rng(1))[0]
    feed.add(9_999, new)
    feed.disable(3)
    opened = open_index(tmp_path / "pdq.idx", feed, source="db")
    assert (opened.origin, opened.change_seq, feed.full_loads) == ("snapshot", 502, 1)
    assert opened.index.search(new, 0)[0].tolist() == [9_999]
    assert opened.index.search(feed.rows[3], 0)[0].tolist() == []


@pytest.mark.parametrize(
    ("damage", "reason"),
    [("corrupt", "checksum"), ("foreign", "mismatch"), ("ahead", "stale"), ("trimmed", "stale")],
)
def test_unusable_snapshot_is_rebuilt_never_trusted(
    feed: ListFeed, tmp_path: Path, damage: str, reason: str
) -> None:
    path = tmp_path / "pdq.idx"
    open_index(path, feed, source="db")
    if damage == "corrupt":
        data = bytearray(path.read_bytes())
        data[-100] ^= 0xFF
        path.write_bytes(bytes(data))
    elif damage == "foreign":
        BinaryIndex.from_arrays([1], random_rows(1, 4, np.random.default_rng(2))).save(
            path, 1, source="other-db"
        )
    elif damage == "ahead":
        feed.seq = 10  # storage was reset: the snapshot claims changes storage never made
    else:
        feed.trimmed_before = 10_000
    opened = open_index(path, feed, source="db")
    assert (opened.origin, opened.reason) == ("rebuilt", reason)
    assert feed.full_loads == 2
    assert len(opened.index) == 500


def test_slot_refuses_to_answer_until_published(feed: ListFeed, tmp_path: Path) -> None:
    slot = IndexSlot()
    with pytest.raises(IndexNotReadyError) as info:
        slot.get()
    assert info.value.http_status == 503
    assert slot.wait(0) is False
    slot.publish(open_index(tmp_path / "pdq.idx", feed))
    assert slot.wait(0) is True
    assert len(slot.get().index) == 500
