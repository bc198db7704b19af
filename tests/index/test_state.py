"""Live updates: random add/remove/disable/enable/compact/snapshot sequences against a model,
atomic visibility under concurrent readers, and background compaction."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from index_reference import as_pairs, clustered_bank, expected_hits, flip_bits, random_rows

from safehold.index import BinaryIndex, Change

ACTIVE, DISABLED, REMOVED = 0, 1, 2


class Model:
    """The obvious implementation: a list of (id, row, status) records."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.rows: list[np.ndarray] = []
        self.status: list[int] = []

    def add(self, ids: np.ndarray, rows: np.ndarray) -> int:
        self.ids += ids.tolist()
        self.rows += list(rows)
        self.status += [ACTIVE] * len(ids)
        return len(ids)

    def flag(self, kind: str, ids: np.ndarray) -> int:
        wanted, changed = set(ids.tolist()), 0
        for i, (entry, status) in enumerate(zip(self.ids, self.status, strict=True)):
            if entry not in wanted or status == REMOVED:
                continue
            new = {"remove": REMOVED, "disable": DISABLED, "enable": ACTIVE}[kind]
            changed += status != new
            self.status[i] = new
        return changed

    def expected(self, queries: np.ndarray, radius: int) -> list[list[tuple[int, int]]]:
        live = [i for i, s in enumerate(self.status) if s == ACTIVE]
        rows = np.array([self.rows[i] for i in live], dtype=np.uint64).reshape(-1, 4)
        ids = np.array([self.ids[i] for i in live], dtype=np.int64)
        return expected_hits(queries, rows, ids, radius)


op = st.one_of(
    st.tuples(st.just("add"), st.integers(1, 40)),
    st.tuples(st.sampled_from(["remove", "disable", "enable"]), st.integers(1, 6)),
    st.tuples(st.just("compact"), st.just(0)),
    st.tuples(st.just("snapshot"), st.just(0)),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 2**32 - 1), ops=st.lists(op, min_size=1, max_size=14))
def test_random_change_sequences_match_the_model(
    seed: int, ops: list[tuple[str, int]], tmp_path: Path
) -> None:
    rng = np.random.default_rng(seed)
    centres = random_rows(5, 4, rng)
    index = BinaryIndex(256, tables=8, key_bits=3, flat_limit=16, max_segments=2)
    model = Model()
    for step, (kind, size) in enumerate(ops):
        if kind == "add":
            ids = rng.integers(0, 30, size=size)  # small id space: repeats and collisions
            rows = flip_bits(centres[rng.integers(0, 5, size=size)], rng.integers(0, 30, size), rng)
            assert index.add(ids, rows) == model.add(ids, rows)
        elif kind in ("remove", "disable", "enable"):
            ids = rng.integers(0, 30, size=size)
            assert getattr(index, kind)(ids) == model.flag(kind, ids)
        elif kind == "compact":
            index.compact()
        else:
            path = tmp_path / f"s{step}.idx"
            index.save(path, step)
            index, seq = BinaryIndex.load(path, flat_limit=16, max_segments=2)
            assert seq == step
        queries = flip_bits(centres, rng.integers(0, 20, size=5), rng)
        for radius in (0, 10, 31, 45):
            hits = index.search_batch(queries, radius)
            assert [as_pairs(*hits[i]) for i in range(5)] == model.expected(queries, radius)
    assert len(index) == sum(s != REMOVED for s in model.status)
    index.wait()


def test_a_grouped_update_is_seen_whole_or_not_at_all() -> None:
    """Readers racing a writer that swaps set A for set B never see a mix of the two."""
    rng = np.random.default_rng(1)
    base = clustered_bank(30_000, 4, 300, 8, rng)
    index = BinaryIndex.from_arrays(np.arange(100, 30_100), base)
    target = random_rows(1, 4, rng)
    group_a = np.arange(0, 20)
    group_b = np.arange(20, 40)
    rows_a = flip_bits(np.repeat(target, 20, axis=0), rng.integers(0, 10, 20), rng)
    rows_b = flip_bits(np.repeat(target, 20, axis=0), rng.integers(0, 10, 20), rng)
    index.add(group_a, rows_a)
    stop = threading.Event()
    seen: list[frozenset[int]] = []

    def read() -> None:
        while not stop.is_set():
            ids, _ = index.search(target[0], 31)
            seen.append(frozenset(ids.tolist()))

    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in readers:
        t.start()
    deadline = time.monotonic() + 1.0
    flip = True
    while time.monotonic() < deadline:
        if flip:
            index.update([Change("remove", group_a), Change("add", group_b, rows_b)])
        else:
            index.update([Change("remove", group_b), Change("add", group_a, rows_a)])
        flip = not flip
    stop.set()
    for t in readers:
        t.join()
    index.wait()
    assert len(seen) > 10
    assert set(seen) <= {frozenset(group_a.tolist()), frozenset(group_b.tolist())}
    assert len(set(seen)) == 2


def test_changes_are_visible_to_the_next_query() -> None:
    rows = random_rows(100_000, 4, np.random.default_rng(2))
    index = BinaryIndex.from_arrays(np.arange(100_000), rows)
    new = random_rows(1, 4, np.random.default_rng(3))
    index.add([-5], new)
    assert index.search(new[0], 0)[0].tolist() == [-5]
    index.disable([-5])
    assert index.search(new[0], 0)[0].tolist() == []
    index.enable([-5])
    assert index.search(new[0], 0)[0].tolist() == [-5]
    index.remove([-5])
    assert index.enable([-5]) == 0  # removed rows stay removed
    assert index.search(new[0], 0)[0].tolist() == []


def test_background_compaction_merges_segments_and_keeps_answers() -> None:
    rng = np.random.default_rng(4)
    index = BinaryIndex(256, flat_limit=500, max_segments=2)
    all_ids, all_rows = [], []
    for block in range(8):
        rows = random_rows(700, 4, rng)
        ids = np.arange(block * 700, (block + 1) * 700)
        index.add(ids, rows)
        all_ids.append(ids)
        all_rows.append(rows)
    index.remove(np.arange(0, 5600, 3))
    index.wait()
    assert index.stats().segments <= 3
    rows, ids = np.concatenate(all_rows), np.concatenate(all_ids)
    live = ids % 3 != 0
    queries = flip_bits(rows[::400], rng.integers(0, 31, size=14), rng)
    hits = index.search_batch(queries, 31)
    want = expected_hits(queries, rows[live], ids[live], 31)
    assert [as_pairs(*hits[i]) for i in range(len(queries))] == want
    index.compact()
    assert index.stats().segments == 1
    assert index.stats().removed == 0
    assert len(index) == int(live.sum())


def test_disabled_rows_survive_compaction_disabled() -> None:
    rows = random_rows(10, 4, np.random.default_rng(6))
    index = BinaryIndex.from_arrays(np.arange(10), rows, disabled=[3, 4], flat_limit=0)
    assert index.stats().disabled == 2
    index.compact()
    assert index.search(rows[3], 0)[0].tolist() == []
    assert index.enable([3, 4]) == 2
    assert index.search(rows[3], 0)[0].tolist() == [3]
