"""Segments: rows sorted by id, compact ids, id look-ups with repeats."""

from __future__ import annotations

import numpy as np
from index_reference import random_rows

from safehold.index.segment import Segment, narrow_ids


def test_ids_narrow_to_uint32_when_their_span_fits() -> None:
    keys, base = narrow_ids(np.array([10**12 + 5, 10**12, 10**12 + 2**32 - 1]))
    assert (keys.dtype, base) == (np.dtype(np.uint32), 10**12)
    keys, base = narrow_ids(np.array([-(2**62), 2**62]))
    assert (keys.dtype, base) == (np.dtype(np.int64), 0)


def test_positions_of_finds_every_row_of_repeated_ids() -> None:
    rows = random_rows(8, 4, np.random.default_rng(0))
    ids = np.array([5, 3, 5, 9, 3, 5, 1, 2**40])
    seg = Segment.build(256, ids, rows, indexed=False)
    assert seg.all_ids().tolist() == sorted(ids.tolist())
    found = seg.positions_of(np.array([5, 7, -3, 2**40]))
    assert sorted(seg.ids_at(found).tolist()) == [5, 5, 5, 2**40]
    # rows travel with their ids; equal ids keep insertion order
    assert np.array_equal(seg.rows[seg.positions_of(np.array([5]))], rows[[0, 2, 5]])


def test_segment_memory_is_compact() -> None:
    """32-byte row + 4-byte id + ten 4-byte entries + offsets (2**k <= n / 8): <= 80 bytes."""
    n = 200_000
    seg = Segment.build(256, np.arange(n), random_rows(n, 4, np.random.default_rng(1)))
    assert len(seg.specs) == 10
    assert seg.nbytes / n <= 80
