"""Search results as compact arrays, and the folds that turn per-segment hits into answers.

A batch of Q queries answers in CSR form (:class:`BatchHits`): one ``offsets`` array and flat
``ids`` / ``distances`` arrays, so a million hits cost 12 bytes each instead of a Python
tuple each. :func:`best_variant` folds the hits of query *variants* (the 8 dihedral
rotations/flips of a PDQ photo hash, or any other group of queries that stand for one
signal) into one hit per entry with the smallest distance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from safehold.index.kernels import RawHits
from safehold.index.segment import IdArray, Segment

DistArray = npt.NDArray[np.int32]


@dataclass(frozen=True, eq=False)
class BatchHits:
    """Hits of Q queries: query ``i`` matched ``ids[offsets[i]:offsets[i + 1]]``.

    Attributes:
        offsets: ``(Q + 1,)`` int64, non-decreasing, ``offsets[0] == 0``.
        ids: ``(H,)`` int64 entry ids, ascending within a query (repeats only when the
            index holds several rows with one id).
        distances: ``(H,)`` int32 Hamming distances in bits.
        variants: ``(H,)`` int32 index of the query variant that matched (only from
            :func:`best_variant`; None otherwise).
    """

    offsets: npt.NDArray[np.int64]
    ids: IdArray
    distances: DistArray
    variants: DistArray | None = None

    def __len__(self) -> int:
        return int(self.offsets.shape[0]) - 1

    def __getitem__(self, i: int) -> tuple[IdArray, DistArray]:
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        return self.ids[a:b], self.distances[a:b]

    def query_index(self) -> IdArray:
        """``(H,)`` int64: the query each hit belongs to."""
        return np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.offsets))

    @classmethod
    def empty(cls, nq: int) -> BatchHits:
        """No hits for ``nq`` queries."""
        return cls(np.zeros(nq + 1, dtype=np.int64), np.empty(0, np.int64), np.empty(0, np.int32))


def _csr(nq: int, qidx: IdArray, ids: IdArray, dist: DistArray) -> BatchHits:
    order = np.lexsort((dist, ids, qidx))
    offsets = np.zeros(nq + 1, dtype=np.int64)
    np.cumsum(np.bincount(qidx, minlength=nq), out=offsets[1:])
    return BatchHits(offsets, ids[order], dist[order])


def combine(nq: int, found: Sequence[tuple[Segment, RawHits]]) -> BatchHits:
    """Merge per-segment hits of the same ``nq`` queries into one :class:`BatchHits`."""
    found = [(seg, raw) for seg, raw in found if len(raw.positions)]
    if not found:
        return BatchHits.empty(nq)
    if len(found) == 1:
        seg, raw = found[0]
        return BatchHits(raw.offsets, seg.ids_at(raw.positions), raw.distances)
    qidx = np.concatenate(
        [np.repeat(np.arange(nq, dtype=np.int64), np.diff(raw.offsets)) for _, raw in found]
    )
    ids = np.concatenate([seg.ids_at(raw.positions) for seg, raw in found])
    dist = np.concatenate([raw.distances for _, raw in found])
    return _csr(nq, qidx, ids, dist)


def concat(batches: Sequence[BatchHits]) -> BatchHits:
    """Join results of consecutive query blocks (query order preserved)."""
    if len(batches) == 1:
        return batches[0]
    offsets = [np.zeros(1, dtype=np.int64)]
    shift = 0
    for b in batches:
        offsets.append(b.offsets[1:] + shift)
        shift += int(b.offsets[-1])
    return BatchHits(
        np.concatenate(offsets),
        np.concatenate([b.ids for b in batches]),
        np.concatenate([b.distances for b in batches]),
    )


def best_variant(hits: BatchHits, variants: int) -> BatchHits:
    """Fold queries ``g * variants + v`` into group ``g``: one hit per (group, id).

    Keeps the smallest distance; a tie goes to the lowest variant index (variant 0 is the
    signal itself, so an exact orientation wins over a rotation at equal distance). The
    result has ``len(hits) // variants`` groups and carries ``variants``.
    """
    groups = len(hits) // variants
    qidx = hits.query_index()
    group, variant = qidx // variants, (qidx % variants).astype(np.int32)
    order = np.lexsort((variant, hits.distances, hits.ids, group))
    g, ids = group[order], hits.ids[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (g[1:] != g[:-1]) | (ids[1:] != ids[:-1])
    keep = order[first]
    offsets = np.zeros(groups + 1, dtype=np.int64)
    np.cumsum(np.bincount(group[keep], minlength=groups), out=offsets[1:])
    return BatchHits(offsets, hits.ids[keep], hits.distances[keep], variant[keep])
