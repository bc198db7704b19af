"""An immutable block of hashes with their ids and (optionally) multi-index tables.

A :class:`Segment` never changes after it is built, so any number of threads may search it
while the live index (``binary.py``) swaps whole states around it. Rows are stored sorted by
id, which lets :meth:`Segment.positions_of` find an id's rows by binary search without an
extra map; ids are kept as ``uint32`` offsets from the smallest id when they span fewer than
2**32 values (4 bytes per hash instead of 8), else as ``int64``.

Memory per 256-bit hash with the default ten tables: 32 (row) + 4 or 8 (id) + 40 (one uint32
entry per table) + at most ~2.6 (two-level bucket offsets, ``2**k <= n / 8``) bytes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from safehold.index import geometry, kernels
from safehold.index.geometry import TableSpec
from safehold.index.kernels import RawHits, TableArrays, U8Array, U64Array

Strategy = Literal["auto", "mih", "scan"]
IdArray = npt.NDArray[np.int64]


def narrow_ids(ids: IdArray) -> tuple[npt.NDArray[np.uint32] | IdArray, int]:
    """Return ``(keys, base)`` with ``keys + base == ids``; keys are uint32 when they fit."""
    if len(ids) == 0:
        return np.empty(0, dtype=np.uint32), 0
    lo, hi = int(ids.min()), int(ids.max())
    if hi - lo < 2**32:
        return (ids - lo).astype(np.uint32), lo
    return ids.astype(np.int64, copy=True), 0


@dataclass(frozen=True, eq=False)
class Segment:
    """Rows sorted by id, id keys, and the tables of :mod:`safehold.index.geometry`.

    Build with :meth:`build` (or :meth:`from_arrays` for arrays read back from a snapshot).

    Attributes:
        bits: hash width (a multiple of 64).
        rows: ``(n, bits // 64)`` uint64, C-contiguous, sorted by id.
        id_keys: ``(n,)`` uint32 or int64 sorted id offsets; id = key + ``id_base``.
        id_base: smallest id (0 when keys are plain int64 ids).
        specs: table geometry; empty for a flat (scan-only) segment.
        tables: per table, the bucket offsets and entries (``kernels.TableArrays``).
    """

    bits: int
    rows: U64Array
    id_keys: npt.NDArray[np.uint32] | IdArray
    id_base: int
    specs: tuple[TableSpec, ...] = ()
    tables: tuple[TableArrays, ...] = ()
    handle: Any = field(default=None, repr=False)
    _plans: dict[int, tuple[int, ...] | None] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        bits: int,
        ids: npt.ArrayLike,
        rows: U64Array,
        *,
        indexed: bool = True,
        tables: int | None = None,
        key_bits: int | None = None,
        threads: int = 1,
    ) -> Segment:
        """Sort ``rows`` by ``ids`` (stable) and build tables when ``indexed``.

        Raises:
            ValueError: shapes disagree, or more than ``2**32 - 1`` rows.
        """
        ids64 = np.asarray(ids, dtype=np.int64).reshape(-1)
        rows = np.asarray(rows, dtype=np.uint64)
        if rows.ndim != 2 or rows.shape != (len(ids64), bits // 64):
            raise ValueError(f"rows must be (len(ids), {bits // 64}) uint64")
        order = np.argsort(ids64, kind="stable")
        rows = np.ascontiguousarray(rows[order])
        keys, base = narrow_ids(ids64[order])
        if not indexed or len(rows) == 0:
            return cls(bits, rows, keys, base)
        specs = geometry.plan_tables(bits, len(rows), tables, key_bits)

        def one(spec: TableSpec) -> TableArrays:
            offsets, entries = kernels.build_table(rows, spec.start, spec.width, spec.k, spec.s)
            return kernels.compress_offsets(offsets, entries)

        if threads > 1:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                built = list(pool.map(one, specs))
        else:
            built = [one(spec) for spec in specs]
        return cls.from_arrays(bits, rows, keys, base, specs, tuple(built))

    @classmethod
    def from_arrays(
        cls,
        bits: int,
        rows: U64Array,
        id_keys: npt.NDArray[np.uint32] | IdArray,
        id_base: int,
        specs: tuple[TableSpec, ...],
        tables: tuple[TableArrays, ...],
    ) -> Segment:
        """Wrap existing arrays (e.g. memory-mapped from a snapshot) without copying.

        Raises:
            ValueError: table offsets or entries that do not describe ``len(rows)`` rows (the
                kernel checks them so that a bad array can never make it read out of bounds).
        """
        handle = None
        if specs:
            geometry_ = [(sp.start, sp.width, sp.k, sp.s) for sp in specs]
            handle = kernels.make_segment(rows, geometry_, list(tables))
        return cls(bits, rows, id_keys, id_base, specs, tables, handle)

    @property
    def n(self) -> int:
        """Number of rows."""
        return int(self.rows.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes held by the segment's arrays (rows, ids, tables)."""
        return self.rows.nbytes + self.id_keys.nbytes + sum(t.nbytes for t in self.tables)

    def ids_at(self, positions: npt.NDArray[np.uint32] | IdArray) -> IdArray:
        """Ids of the rows at ``positions`` (int64)."""
        return self.id_keys[positions].astype(np.int64) + self.id_base

    def all_ids(self) -> IdArray:
        """Every row's id, in row order (int64)."""
        return self.id_keys.astype(np.int64) + self.id_base

    def positions_of(self, ids: IdArray) -> IdArray:
        """Positions of every row whose id is in ``ids`` (int64, grouped by id)."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if self.n == 0 or len(ids) == 0:
            return np.empty(0, dtype=np.int64)
        keys = self.id_keys
        if keys.dtype == np.uint32:
            top = self.id_base + int(keys[-1])
            ids = ids[(ids >= self.id_base) & (ids <= top)]
            wanted: npt.NDArray[Any] = (ids - self.id_base).astype(np.uint32)
        else:
            wanted = ids
        left = np.searchsorted(keys, wanted, side="left")
        right = np.searchsorted(keys, wanted, side="right")
        counts = right - left
        if counts.sum() == 0:
            return np.empty(0, dtype=np.int64)
        starts = np.repeat(left - np.cumsum(counts) + counts, counts)
        return (starts + np.arange(int(counts.sum()))).astype(np.int64)

    def plan(self, radius: int, strategy: Strategy = "auto") -> tuple[int, ...] | None:
        """Table radii for a multi-index search at ``radius``, or None to scan linearly.

        ``auto`` compares :func:`geometry.mih_cost_ns` with :func:`geometry.scan_cost_ns`;
        both strategies return the same (exact) hits.
        """
        if not self.specs or strategy == "scan" or radius >= self.bits:
            return None
        key = radius if strategy == "auto" else -1 - radius
        if key not in self._plans:
            radii = geometry.table_radii(self.specs, radius)
            cheap = geometry.mih_cost_ns(self.specs, radii, self.n) < geometry.scan_cost_ns(self.n)
            self._plans[key] = radii if strategy == "mih" or cheap else None
        return self._plans[key]

    def search(
        self, queries: U64Array, radius: int, skip: U8Array | None, strategy: Strategy = "auto"
    ) -> RawHits:
        """Exact hits of ``queries`` (``(Q, words)``) within ``radius``, minus ``skip`` rows."""
        radii = self.plan(radius, strategy)
        if radii is None:
            return kernels.scan_search(self.rows, skip, queries, radius)
        return kernels.mih_search(self.handle, skip, queries, radius, radii)
