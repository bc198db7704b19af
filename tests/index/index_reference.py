"""Independent brute-force reference and bank generators for the index tests.

The reference counts bits with ``numpy.unpackbits`` (no code shared with the index or its
kernels), so agreement between the two is evidence, not an echo.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]


def distance_matrix(queries: U64, rows: U64) -> npt.NDArray[np.int64]:
    """``(Q, N)`` Hamming distances, one query at a time (``numpy.bitwise_count`` when NumPy
    has it, else by unpacking every XOR to bits)."""
    out = np.zeros((len(queries), len(rows)), dtype=np.int64)
    if len(rows) == 0:
        return out
    for qi, q in enumerate(queries):
        x = rows ^ q[None, :]
        if hasattr(np, "bitwise_count"):
            out[qi] = np.bitwise_count(x).sum(axis=1, dtype=np.int64)
        else:
            bits = np.unpackbits(np.ascontiguousarray(x).view(np.uint8), axis=-1)
            out[qi] = bits.sum(axis=-1, dtype=np.int64)
    return out


def expected_hits(
    queries: U64, rows: U64, ids: npt.NDArray[np.int64], radius: int
) -> list[list[tuple[int, int]]]:
    """Per query, the sorted ``(id, distance)`` pairs within ``radius``."""
    dist = distance_matrix(queries, rows)
    out = []
    for qi in range(len(queries)):
        hit = np.flatnonzero(dist[qi] <= radius)
        out.append(sorted(zip(ids[hit].tolist(), dist[qi, hit].tolist(), strict=True)))
    return out


def as_pairs(ids: npt.NDArray[np.int64], dist: npt.NDArray[np.int32]) -> list[tuple[int, int]]:
    """Sorted ``(id, distance)`` pairs of one query's hits."""
    return sorted(zip(ids.tolist(), dist.tolist(), strict=True))


def flip_bits(rows: U64, counts: npt.NDArray[np.int64], rng: np.random.Generator) -> U64:
    """Copy of ``rows`` with ``counts[i]`` random bit flips in row ``i`` (a bit drawn twice
    flips back, so a row ends up *at most* ``counts[i]`` bits away)."""
    out = rows.copy()
    counts = np.asarray(counts, dtype=np.int64)
    if len(rows) == 0 or counts.max() <= 0:
        return out
    positions = rng.integers(0, rows.shape[1] * 64, size=(len(rows), int(counts.max())))
    for t in range(positions.shape[1]):
        sel = np.flatnonzero(counts > t)
        pos = positions[sel, t]
        out[sel, pos // 64] ^= np.uint64(1) << (pos % 64).astype(np.uint64)
    return out


def clustered_bank(n: int, words: int, centres: int, spread: int, rng: np.random.Generator) -> U64:
    """``n`` rows around ``centres`` random centres, each within ``spread`` bits of its centre.

    Real hash lists hold many near-duplicates; this is the case that crowds MIH buckets.
    """
    c = rng.integers(0, 2**64 - 1, size=(max(1, centres), words), dtype=np.uint64, endpoint=True)
    owner = rng.integers(0, len(c), size=n)
    return flip_bits(c[owner], rng.integers(0, spread + 1, size=n), rng)


def random_rows(n: int, words: int, rng: np.random.Generator) -> U64:
    """``(n, words)`` uniform random hashes."""
    return rng.integers(0, 2**64 - 1, size=(n, words), dtype=np.uint64, endpoint=True)
