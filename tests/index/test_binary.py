"""BinaryIndex against brute force: every threshold 0..63, every strategy, every geometry."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from index_reference import (
    as_pairs,
    clustered_bank,
    distance_matrix,
    expected_hits,
    flip_bits,
    random_rows,
)

from safehold.errors import InvalidInputError
from safehold.index import BinaryIndex

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _bank(seed: int, n: int, words: int, clustered: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = (
        clustered_bank(n, words, max(1, n // 20), 12, rng)
        if clustered
        else random_rows(n, words, rng)
    )
    ids = rng.integers(-(2**40), 2**40, size=n)  # int64 id path (span > 2**32)
    if seed % 2:
        ids = rng.permutation(n) + 7  # uint32 id path, unique
    return ids.astype(np.int64), rows


def _queries(seed: int, rows: np.ndarray, count: int) -> np.ndarray:
    """Half near-duplicates of bank rows (0..40 bits away), half random."""
    rng = np.random.default_rng(seed + 1)
    words = rows.shape[1] if rows.ndim == 2 else 4
    near = np.empty((0, words), dtype=np.uint64)
    if len(rows):
        picked = rows[rng.integers(0, len(rows), size=count // 2)]
        near = flip_bits(picked, rng.integers(0, 41, size=len(picked)), rng)
    return np.concatenate([near, random_rows(count - len(near), words, rng)])


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 400),
    clustered=st.booleans(),
    tables=st.integers(4, 16),
    key_bits=st.integers(1, 9),
    strategy=st.sampled_from(["mih", "scan", "auto"]),
)
def test_search_equals_brute_force_at_thresholds_0_to_63(
    flavour: str, seed: int, n: int, clustered: bool, tables: int, key_bits: int, strategy: str
) -> None:
    """Every kernel flavour (AVX-512, AVX2, popcnt, portable) agrees with the reference."""
    ids, rows = _bank(seed, n, 4, clustered)
    index = BinaryIndex(256, tables=tables, key_bits=key_bits, flat_limit=0)
    index.add(ids, rows)
    queries = _queries(seed, rows, 10)
    dist = distance_matrix(queries, rows)
    for radius in range(64):
        hits = index.search_batch(queries, radius, strategy=strategy)  # type: ignore[arg-type]
        assert len(hits) == len(queries)
        for qi in range(len(queries)):
            keep = np.flatnonzero(dist[qi] <= radius)
            want = sorted(zip(ids[keep].tolist(), dist[qi, keep].tolist(), strict=True))
            assert as_pairs(*hits[qi]) == want, (radius, qi)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    bits=st.sampled_from([64, 128, 192, 512]),
    n=st.integers(1, 300),
    tables=st.integers(1, 12),
    key_bits=st.integers(1, 8),
)
def test_other_widths_equal_brute_force(
    seed: int, bits: int, n: int, tables: int, key_bits: int
) -> None:
    ids, rows = _bank(seed, n, bits // 64, clustered=True)
    index = BinaryIndex(bits, tables=tables, key_bits=key_bits, flat_limit=0)
    index.add(ids, rows)
    queries = _queries(seed, rows, 8)
    for radius in (0, 3, bits // 8, bits // 4):
        hits = index.search_batch(queries, radius, strategy="mih")
        want = expected_hits(queries, rows, ids, radius)
        assert [as_pairs(*hits[i]) for i in range(len(queries))] == want


def test_default_geometry_finds_planted_near_duplicates_at_31_bits() -> None:
    """PDQ defaults at a realistic size: planted copies 1..31 bits away are all found."""
    rng = np.random.default_rng(5)
    rows = clustered_bank(40_000, 4, 1_000, 10, rng)
    ids = np.arange(len(rows), dtype=np.int64) * 2
    index = BinaryIndex.from_arrays(ids, rows)
    picked = rng.integers(0, len(rows), size=100)
    queries = np.concatenate(
        [flip_bits(rows[picked], rng.integers(1, 32, size=100), rng), random_rows(100, 4, rng)]
    )
    hits = index.search_batch(queries, 31)
    assert index.state.parts[0].segment.plan(31) is not None  # the sublinear path ran
    want = expected_hits(queries, rows, ids, 31)
    assert [as_pairs(*hits[i]) for i in range(len(queries))] == want
    assert all(2 * int(p) in hits[i][0] for i, p in enumerate(picked))


def test_threads_give_the_same_hits_as_one_thread() -> None:
    rng = np.random.default_rng(9)
    rows = clustered_bank(20_000, 4, 500, 8, rng)
    index = BinaryIndex.from_arrays(np.arange(20_000), rows)
    queries = _queries(9, rows, 64)
    one = index.search_batch(queries, 31)
    two = index.search_batch(queries, 31, threads=2)
    assert np.array_equal(one.offsets, two.offsets)
    assert np.array_equal(one.ids, two.ids)
    assert np.array_equal(one.distances, two.distances)


@FAST
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 300), variants=st.integers(1, 8))
def test_search_any_keeps_smallest_distance_and_first_variant(
    seed: int, n: int, variants: int
) -> None:
    ids, rows = _bank(seed, n, 4, clustered=True)
    ids = ids % 50  # repeated ids (e.g. vPDQ frames of one video)
    index = BinaryIndex(256, tables=8, key_bits=4, flat_limit=0)
    index.add(ids, rows)
    groups = _queries(seed, rows, 2 * variants).reshape(2, variants, 4)
    hits = index.search_any_batch(groups, 31)
    assert hits.variants is not None
    for g in range(2):
        dist = distance_matrix(groups[g], rows)
        best: dict[int, tuple[int, int]] = {}
        for v in range(variants):
            for i in np.flatnonzero(dist[v] <= 31).tolist():
                key = (int(dist[v, i]), v)
                if int(ids[i]) not in best or key < best[int(ids[i])]:
                    best[int(ids[i])] = key
        a, b = int(hits.offsets[g]), int(hits.offsets[g + 1])
        got = {
            int(i): (int(d), int(v))
            for i, d, v in zip(hits.ids[a:b], hits.distances[a:b], hits.variants[a:b], strict=True)
        }
        assert got == best
        assert b - a == len(best)  # one hit per id


def test_search_any_single_signal() -> None:
    rows = random_rows(100, 4, np.random.default_rng(1))
    index = BinaryIndex.from_arrays(np.arange(100), rows)
    variants = np.stack([random_rows(1, 4, np.random.default_rng(2))[0], rows[42]])
    ids, dist, which = index.search_any(variants, 0)
    assert ids.tolist() == [42]
    assert dist.tolist() == [0]
    assert which.tolist() == [1]


@pytest.mark.parametrize(
    "call",
    [
        lambda ix: ix.search(np.zeros(4, dtype=np.int64), 31),  # wrong dtype
        lambda ix: ix.search(np.zeros(3, dtype=np.uint64), 31),  # wrong width
        lambda ix: ix.search(np.zeros(4, dtype=np.uint64), -1),  # negative radius
        lambda ix: ix.search(np.zeros(4, dtype=np.uint64), 2.5),  # fractional radius
        lambda ix: ix.search_batch(np.zeros(4, dtype=np.uint64), 31),  # 1-D batch
        lambda ix: ix.add([1, 2], np.zeros((1, 4), dtype=np.uint64)),  # length mismatch
        lambda ix: ix.add(["a"], np.zeros((1, 4), dtype=np.uint64)),  # non-integer ids
        lambda ix: ix.search_any(np.zeros((2, 2), dtype=np.uint64), 31),
        lambda ix: ix.search_any_batch(np.zeros((2, 0, 4), dtype=np.uint64), 31),
        lambda ix: ix.search(np.zeros(4, dtype=np.uint64), "31"),  # not a number
        lambda ix: ix.search(np.zeros(4, dtype=np.uint64), float("nan")),
    ],
)
def test_bad_input_is_a_typed_error(call) -> None:  # type: ignore[no-untyped-def]
    index = BinaryIndex.from_arrays([1], np.zeros((1, 4), dtype=np.uint64))
    with pytest.raises(InvalidInputError):
        call(index)


@pytest.mark.parametrize("bits", [0, 100, -64])
def test_bits_must_be_a_multiple_of_64(bits: int) -> None:
    with pytest.raises(ValueError, match="multiple of 64"):
        BinaryIndex(bits)


def test_radius_beyond_width_matches_everything() -> None:
    rows = random_rows(50, 4, np.random.default_rng(3))
    index = BinaryIndex.from_arrays(np.arange(50), rows, flat_limit=0)
    ids, dist = index.search(~rows[0], 256)
    assert sorted(ids.tolist()) == list(range(50))
    assert int(dist[ids.tolist().index(0)]) == 256
    huge = index.search_batch(~rows[:2], 10**12)  # capped at the width, not an overflow
    assert len(huge.ids) == 100
    empty = index.search_batch(np.empty((0, 4), dtype=np.uint64), 31)
    assert (len(empty), len(empty.ids)) == (0, 0)
