"""Exact brute-force radius search over fixed-width binary hashes, vectorised with NumPy.

Hashes are stored as one contiguous ``(N, words)`` ``uint64`` array (32 bytes per 256-bit PDQ
hash); a query XORs against every row and counts bits, in the compiled scan kernel
(``kernels.scan_search``) when it is built, else with ``numpy.bitwise_count`` (NumPy >= 2) or a
byte lookup table. Exact: every entry within the radius is returned, with its distance. It is
the brute-force baseline of :class:`safehold.index.BinaryIndex` (which is sublinear).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from safehold.errors import InvalidSignalError
from safehold.index import kernels

_POPCOUNT8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def hex_to_rows(values: Sequence[str], bits: int = 256) -> npt.NDArray[np.uint64]:
    """Parse hex hashes into a ``(len(values), bits // 64)`` ``uint64`` array (big-endian words).

    Raises:
        InvalidSignalError: a value is not ``bits // 4`` hex digits (the value is not echoed).
    """
    width = bits // 8
    out = np.empty((len(values), width), dtype=np.uint8)
    for i, value in enumerate(values):
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raise InvalidSignalError(f"hash #{i} is not hexadecimal") from None
        if len(raw) != width:
            raise InvalidSignalError(f"hash #{i} has {len(raw) * 8} bits, expected {bits}")
        out[i] = np.frombuffer(raw, dtype=np.uint8)
    return out.view(">u8").astype(np.uint64)


def popcount_rows(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    """Sum of set bits per row of a 2-D ``uint64`` array."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x).sum(axis=1, dtype=np.int64)  # type: ignore[no-any-return]
    counts = _POPCOUNT8[np.ascontiguousarray(x).view(np.uint8)]
    return counts.reshape(x.shape[0], -1).sum(axis=1, dtype=np.int64)  # type: ignore[no-any-return]


class FlatIndex:
    """Exact radius search by scanning every hash.

    Args:
        ids: ``(N,)`` integer ids, one per hash (duplicates allowed).
        rows: ``(N, words)`` ``uint64`` hashes, e.g. from :func:`hex_to_rows`.
    """

    def __init__(self, ids: npt.ArrayLike, rows: npt.NDArray[np.uint64]) -> None:
        self.ids = np.asarray(ids, dtype=np.int64)
        self.rows = np.ascontiguousarray(rows, dtype=np.uint64)
        if self.rows.ndim != 2 or self.rows.shape[0] != self.ids.shape[0]:
            raise ValueError("ids and rows must have the same length; rows must be 2-D")

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def search(
        self, query: npt.NDArray[np.uint64], radius: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Return ``(ids, distances)`` of every hash within ``radius`` bits of ``query``.

        Args:
            query: ``(words,)`` ``uint64`` hash.
            radius: inclusive Hamming radius in bits.
        """
        if len(self) == 0 or radius < 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        if kernels.available():
            q = np.ascontiguousarray(query, dtype=np.uint64).reshape(1, -1)
            raw = kernels.scan_search(self.rows, None, q, int(radius))
            return self.ids[raw.positions], raw.distances.astype(np.int64)
        dist = popcount_rows(self.rows ^ query[np.newaxis, :])
        hit = np.flatnonzero(dist <= radius)
        return self.ids[hit], dist[hit]

    def search_batch(
        self, queries: npt.NDArray[np.uint64], radius: int
    ) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
        """Run :meth:`search` for each row of ``queries`` (``(Q, words)``)."""
        if len(self) == 0 or radius < 0 or not kernels.available():
            return [self.search(q, radius) for q in queries]
        q = np.ascontiguousarray(queries, dtype=np.uint64)
        raw = kernels.scan_search(self.rows, None, q, int(radius))
        ids, dist = self.ids[raw.positions], raw.distances.astype(np.int64)
        bounds = raw.offsets.tolist()
        return [(ids[a:b], dist[a:b]) for a, b in itertools.pairwise(bounds)]
