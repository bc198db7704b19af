"""The exact index: radius search over binary hashes while entries are added and removed.

:class:`BinaryIndex` is what callers use: bulk build, single and batched search, search over
query variants (PDQ dihedral), snapshots. Changes and compaction come from
:class:`~safehold.index.live.LiveIndex`; the search reads one published state and needs no
lock. Search is exact: every row within the radius is returned, with its distance
(property-tested against brute force at radii 0..63 in ``tests/index``).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from safehold.errors import InvalidInputError
from safehold.index import kernels, results
from safehold.index.live import IndexStats, LiveIndex
from safehold.index.results import BatchHits, DistArray
from safehold.index.segment import IdArray, Segment, Strategy
from safehold.index.state import MERGED_FLAT_LIMIT, Config, Part, State

__all__ = ["DEFAULT_RADIUS", "BinaryIndex", "IndexStats"]

#: PDQ's confident-match threshold (ThreatExchange ``PDQ_CONFIDENT_MATCH_THRESHOLD``).
DEFAULT_RADIUS = 31


class BinaryIndex(LiveIndex):
    """Exact Hamming-radius index over ``bits``-bit hashes with live updates.

    Args:
        bits: hash width, a positive multiple of 64 (256 for PDQ and vPDQ frames).
        tables, key_bits: table geometry (default: :mod:`safehold.index.geometry`).
        flat_limit: recent additions up to this many rows are scanned, not indexed.
        max_segments: indexed segments allowed before a background compaction starts.
        auto_compact: start compactions by themselves (else only :meth:`compact`).
        build_threads: threads building tables (default: CPU count, at most 4).

    Raises:
        ConfigurationError: the compiled kernels are not built.
        ValueError: ``bits`` is not a positive multiple of 64.
    """

    def __init__(
        self,
        bits: int = 256,
        *,
        tables: int | None = None,
        key_bits: int | None = None,
        flat_limit: int = 65_536,
        max_segments: int = 4,
        auto_compact: bool = True,
        build_threads: int | None = None,
    ) -> None:
        kernels.require()
        if bits <= 0 or bits % 64:
            raise ValueError("bits must be a positive multiple of 64")
        threads = build_threads or min(4, os.cpu_count() or 1)
        config = Config(bits, tables, key_bits, flat_limit, threads)
        super().__init__(config, max_segments, auto_compact)

    @classmethod
    def from_arrays(
        cls,
        ids: npt.ArrayLike,
        rows: npt.NDArray[np.uint64],
        *,
        bits: int = 256,
        disabled: npt.ArrayLike | None = None,
        **options: Any,
    ) -> BinaryIndex:
        """Bulk-build one indexed segment from ``(n,)`` ids and ``(n, bits // 64)`` rows.

        ``disabled`` lists ids whose rows start disabled. The rows are copied once (sorted
        by id); ``options`` are the constructor's keyword arguments.

        Raises:
            InvalidInputError: rows of the wrong dtype/shape, or ids of another length.
        """
        index = cls(bits, **options)
        i, r = index._ids(ids), index._queries(rows, 2, "rows")
        if len(i) != len(r):
            raise InvalidInputError("ids and rows must have the same length")
        cfg = index._cfg
        segment = Segment.build(
            bits,
            i,
            r,
            indexed=len(i) > min(cfg.flat_limit, MERGED_FLAT_LIMIT),
            tables=cfg.tables,
            key_bits=cfg.key_bits,
            threads=cfg.build_threads,
        )
        index._publish(State((Part.fresh(segment),)) if len(i) else State())
        if disabled is not None:
            index.disable(disabled)
        return index

    # -- searching ------------------------------------------------------------------------

    def _search_block(
        self, st: State, q: npt.NDArray[np.uint64], radius: int, strategy: Strategy
    ) -> BatchHits:
        found = []
        for part in st.parts:
            skip = part.skip if part.skipped else None
            found.append((part.segment, part.segment.search(q, radius, skip, strategy)))
        return results.combine(len(q), found)

    def search_batch(
        self,
        queries: npt.ArrayLike,
        radius: int = DEFAULT_RADIUS,
        *,
        threads: int = 1,
        strategy: Strategy = "auto",
    ) -> BatchHits:
        """Every row within ``radius`` bits of each of ``queries`` (``(Q, words)`` uint64).

        Args:
            threads: split the batch over this many threads (the kernels release the GIL).
            strategy: ``auto`` (cost model), ``mih`` or ``scan``; all give the same hits.

        Raises:
            InvalidInputError: wrong dtype/shape, or a negative radius.
        """
        q = self._queries(queries, 2)
        radius = self._radius(radius)
        st = self._state
        if threads <= 1 or len(q) < 2 * threads:
            return self._search_block(st, q, radius, strategy)
        blocks = np.array_split(q, threads)
        with ThreadPoolExecutor(max_workers=threads) as pool:
            done = list(pool.map(lambda b: self._search_block(st, b, radius, strategy), blocks))
        return results.concat(done)

    def search(
        self, query: npt.ArrayLike, radius: int = DEFAULT_RADIUS, *, strategy: Strategy = "auto"
    ) -> tuple[IdArray, DistArray]:
        """``(ids, distances)`` of every row within ``radius`` bits of one ``(words,)`` query."""
        q = self._queries(query, 1)[np.newaxis, :]
        st, radius = self._state, self._radius(radius)
        if len(st.parts) == 1:  # the common case, without the batch bookkeeping
            part = st.parts[0]
            raw = part.segment.search(q, radius, part.skip if part.skipped else None, strategy)
            return part.segment.ids_at(raw.positions), raw.distances
        return self._search_block(st, q, radius, strategy)[0]

    def search_any_batch(
        self,
        queries: npt.ArrayLike,
        radius: int = DEFAULT_RADIUS,
        *,
        threads: int = 1,
        strategy: Strategy = "auto",
    ) -> BatchHits:
        """Hits of Q signals given as ``(Q, V, words)`` variants: one hit per (signal, id).

        Each hit has the smallest distance over the V variants and ``variants`` says which
        matched (ties go to the lower index). PDQ dihedral matching passes the 8 dihedral
        hashes of each photo (original first).
        """
        q = self._queries(queries, 3)
        nq, nv, words = q.shape
        if nv == 0:
            raise InvalidInputError("each signal needs at least one variant")
        flat = self.search_batch(
            q.reshape(nq * nv, words), radius, threads=threads, strategy=strategy
        )
        return results.best_variant(flat, nv)

    def search_any(
        self, variants: npt.ArrayLike, radius: int = DEFAULT_RADIUS, *, strategy: Strategy = "auto"
    ) -> tuple[IdArray, DistArray, DistArray]:
        """``(ids, distances, variant)`` for one signal's ``(V, words)`` variants."""
        q = self._queries(variants, 2)
        hits = self.search_any_batch(q[np.newaxis], radius, strategy=strategy)
        assert hits.variants is not None
        return hits.ids, hits.distances, hits.variants

    # -- snapshots -------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str], change_seq: int, *, source: str = "") -> None:
        """Write a snapshot (see :func:`safehold.index.snapshot.save`)."""
        from safehold.index import snapshot

        snapshot.save(self, Path(path), change_seq, source=source)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        bits: int | None = None,
        source: str | None = None,
        max_change_seq: int | None = None,
        mmap: bool = True,
        **options: Any,
    ) -> tuple[BinaryIndex, int]:
        """Read a snapshot; returns ``(index, change_seq)`` (see ``snapshot.load``).

        Raises:
            SnapshotError: the file is missing, corrupt, of another version or stale.
        """
        from safehold.index import snapshot

        return snapshot.load(
            Path(path),
            bits=bits,
            source=source,
            max_change_seq=max_change_seq,
            mmap=mmap,
            **options,
        )
