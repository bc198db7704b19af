"""Result folding: CSR merging across segments, best variant per entry."""

from __future__ import annotations

import numpy as np

from safehold.index.results import BatchHits, best_variant, concat


def _hits(groups: list[list[tuple[int, int]]]) -> BatchHits:
    offsets = np.cumsum([0] + [len(g) for g in groups]).astype(np.int64)
    ids = np.array([i for g in groups for i, _ in g], dtype=np.int64)
    dist = np.array([d for g in groups for _, d in g], dtype=np.int32)
    return BatchHits(offsets, ids, dist)


def test_best_variant_takes_min_distance_then_lowest_variant() -> None:
    # two signals x three variants
    hits = _hits([[(1, 9), (2, 4)], [(1, 3)], [(2, 4)], [], [(7, 0)], [(7, 0), (8, 1)]])
    best = best_variant(hits, 3)
    assert best.offsets.tolist() == [0, 2, 4]
    assert best.ids.tolist() == [1, 2, 7, 8]
    assert best.distances.tolist() == [3, 4, 0, 1]
    assert best.variants is not None
    assert best.variants.tolist() == [1, 0, 1, 2]


def test_concat_keeps_query_order() -> None:
    joined = concat([_hits([[(1, 1)], []]), _hits([[(2, 2), (3, 3)]])])
    assert joined.offsets.tolist() == [0, 1, 1, 3]
    assert [joined[i][0].tolist() for i in range(3)] == [[1], [], [2, 3]]
    assert joined.query_index().tolist() == [0, 2, 2]
    assert len(BatchHits.empty(4)) == 4
