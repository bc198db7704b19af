"""Typed NumPy front of the compiled kernels (``_kernels.c``), and the check that they exist.

The extension is built by ``pip install`` (setuptools ``ext_modules``, see ``setup.py``). If it
is missing (a source checkout that was never installed), :func:`require` raises a clear
:class:`~safehold.errors.ConfigurationError`; :class:`~safehold.index.flat.FlatIndex` falls
back to NumPy so that the rest of Safehold keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from safehold.errors import ConfigurationError

try:
    from safehold.index import _kernels as _native
except ImportError:  # pragma: no cover - exercised only in an unbuilt checkout
    _native_module: ModuleType | None = None
else:
    _native_module = _native

U64Array = npt.NDArray[np.uint64]
U32Array = npt.NDArray[np.uint32]
U8Array = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class RawHits:
    """Hits of a batch of queries against one segment, grouped by query (CSR).

    Attributes:
        offsets: ``(Q + 1,)`` int64; hits of query ``i`` are ``[offsets[i], offsets[i + 1])``.
        positions: ``(H,)`` uint32 row positions in the segment, ascending within a query.
        distances: ``(H,)`` int32 Hamming distances in bits.
    """

    offsets: npt.NDArray[np.int64]
    positions: U32Array
    distances: npt.NDArray[np.int32]


def available() -> bool:
    """True when the compiled kernels are importable."""
    return _native_module is not None


def require() -> ModuleType:
    """Return the compiled kernel module.

    Raises:
        ConfigurationError: the extension was not built (reinstall with ``pip install -e .``).
    """
    if _native_module is None:
        raise ConfigurationError(
            "safehold.index._kernels is not built; reinstall Safehold (pip install -e .)"
        )
    return _native_module


def flavour() -> str:
    """Instruction-set flavour in use: ``avx512`` (AVX-512F + VPOPCNTDQ), ``avx2``,
    ``popcnt`` or ``base`` (portable C); the fastest the CPU supports is chosen at import."""
    return str(require().flavour())


def flavours() -> list[str]:
    """Flavours this CPU supports, fastest first (``base`` is always there)."""
    return list(require().flavours())


def use_flavour(name: str) -> None:
    """Switch every later kernel call to flavour ``name`` (tests and benchmarks compare them).

    Raises:
        ValueError: the CPU does not support ``name``.
    """
    require().set_flavour(name)


def _hits(raw: tuple[bytes, bytes, bytes]) -> RawHits:
    offsets, positions, distances = raw
    return RawHits(
        np.frombuffer(offsets, dtype=np.int64),
        np.frombuffer(positions, dtype=np.uint32),
        np.frombuffer(distances, dtype=np.int32),
    )


def build_table(
    rows: U64Array, start: int, width: int, k: int, s: int
) -> tuple[U32Array, U32Array]:
    """Bucket ``rows`` (``(n, words)``) by bits ``[start, start + k)``; returns (offsets, entries).

    ``offsets`` is ``(2**k + 1,)``; ``entries`` is ``(n,)`` with ``(position << s) | next s
    bits``, positions ascending within a bucket (a stable counting sort).
    """
    n, words = rows.shape
    offsets = np.empty((1 << k) + 1, dtype=np.uint32)
    entries = np.empty(n, dtype=np.uint32)
    require().build_table(rows, n, words, start, width, k, s, offsets, entries)
    return offsets, entries


@dataclass(frozen=True, eq=False)
class TableArrays:
    """One built table: bucket ``b`` holds ``entries[hi[b >> shift] + lo[b]:...(b + 1)]``.

    Two-level bucket offsets (a uint32 start per block of ``2**shift`` buckets, a uint16
    start per bucket relative to its block) cost ~2 bytes per bucket instead of 4.

    Attributes:
        shift: log2 of the block size (0..6; smaller when a block holds > 65535 entries).
        hi: ``((2**k >> shift) + 1,)`` uint32 block starts.
        lo: ``(2**k + 1,)`` uint16 bucket starts within their block.
        entries: ``(n,)`` uint32 ``(position << s) | next s chunk bits``, bucket by bucket.
    """

    shift: int
    hi: U32Array
    lo: npt.NDArray[np.uint16]
    entries: U32Array

    @property
    def nbytes(self) -> int:
        """Bytes of the three arrays."""
        return self.hi.nbytes + self.lo.nbytes + self.entries.nbytes


def compress_offsets(offsets: U32Array, entries: U32Array) -> TableArrays:
    """Turn ``(2**k + 1,)`` uint32 bucket starts into the two-level form of :class:`TableArrays`.

    Uses the largest block (up to 64 buckets) whose entries before its last bucket fit
    uint16; a bucket of more than 65535 entries forces blocks of one bucket.
    """
    nb = len(offsets) - 1
    for shift in range(min(6, nb.bit_length() - 1), -1, -1):
        blocks = offsets[:-1].reshape(-1, 1 << shift)
        rel = blocks - blocks[:, :1]
        if int(rel.max(initial=0)) <= 0xFFFF:
            hi = np.append(blocks[:, 0], offsets[-1]).astype(np.uint32)
            lo = np.append(rel.reshape(-1), 0).astype(np.uint16)
            return TableArrays(shift, hi, lo, entries)
    raise AssertionError("unreachable: blocks of one bucket always fit")  # pragma: no cover


def make_segment(
    rows: U64Array, specs: list[tuple[int, int, int, int]], tables: list[TableArrays]
) -> Any:
    """Bind rows and built tables (``specs``: start, width, k, s) into a handle for
    :func:`mih_search`.

    Raises:
        ValueError: bucket starts that do not run from 0 to ``len(rows)``, or entries that
            point past the rows.
    """
    n, words = rows.shape
    bound = [(*spec, t.shift, t.hi, t.lo, t.entries) for spec, t in zip(specs, tables, strict=True)]
    return require().make_segment(rows, n, words, bound)


def mih_search(
    handle: Any, skip: U8Array | None, queries: U64Array, radius: int, radii: tuple[int, ...]
) -> RawHits:
    """Exact multi-index search of ``queries`` (``(Q, words)``) within ``radius`` bits.

    ``radii`` must satisfy ``sum(r + 1) >= radius + 1`` (see ``geometry.table_radii``);
    ``skip`` is a little-endian bitmap of positions never reported.
    """
    return _hits(require().mih_search(handle, skip, queries, len(queries), radius, radii))


def scan_search(rows: U64Array, skip: U8Array | None, queries: U64Array, radius: int) -> RawHits:
    """Exact linear scan of ``rows`` for ``queries`` (both ``(*, words)`` uint64)."""
    n, words = rows.shape
    return _hits(require().scan_search(rows, n, words, skip, queries, len(queries), radius))
