"""How a segment's multi-index tables are cut, and how a query radius is split among them.

Multi-index hashing (Norouzi, Punjani and Fleet, "Fast Search in Hamming Space with
Multi-Index Hashing", CVPR 2012) cuts each ``bits``-bit hash into ``m`` disjoint chunks and
keeps one table per chunk. By the general pigeonhole principle (Qin et al., "GPH: Similarity
Search in Hamming Space", ICDE 2018), every hash within distance ``r`` of a query lies within
``r_j`` of it on some chunk ``j`` whenever ``sum_j (r_j + 1) >= r + 1``; ``r_j = -1`` skips a
table, so small radii probe few tables. Each table buckets entries by the chunk's first ``k``
bits (a direct-addressed offset array of ``2**k + 1`` uint32) and stores the next ``s`` bits
inline in the 32-bit entry beside the row position, so most false candidates are dropped
without reading the row.

The defaults were measured on this project's benchmark (``benchmarks/index.py``, decision
record 0005): for 256-bit PDQ at radius 31, ten tables (chunks of 25-26 bits, table radii
3, 3, 2, ..., 2) and ``2**k <= n / 8`` buckets (``k = 16`` at 1M hashes, ``k = 20`` at 10M) gave
the best queries/s within 80 bytes per hash.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Radius the tables are tuned for, as a share of the hash width (31 of 256 bits for PDQ).
DESIGN_RADIUS_PER_BIT = 31 / 256
#: Hash bits per table for the default table count (256 / 10 = 25.6 for PDQ).
BITS_PER_TABLE = 25.6
#: Largest key (bucket) width, bits; the offsets array has ``2**k + 1`` entries.
MAX_KEY_BITS = 28
#: Most tables a segment may have (the kernel's limit).
MAX_TABLES = 64

# Cost model of one query, nanoseconds, measured on the benchmark machine: probing one bucket
# (offset read + entry cache line), checking one inline entry, verifying one candidate row
# (a cache miss), and scanning one row linearly.
_NS_PER_PROBE = 30.0
_NS_PER_ENTRY = 1.0
_NS_PER_CANDIDATE = 40.0
_NS_PER_SCANNED_ROW = 2.0


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One table: chunk bits ``[start, start + width)``, key = first ``k``, ``s`` bits inline."""

    start: int
    width: int
    k: int
    s: int


def default_tables(bits: int) -> int:
    """Default table count for ``bits``-bit hashes (10 for 256-bit PDQ)."""
    return max(math.ceil(bits / 64), min(MAX_TABLES, round(bits / BITS_PER_TABLE)))


def default_key_bits(n: int) -> int:
    """Bucket key width for ``n`` rows: the largest ``k`` with ``2**k <= n / 8`` (at least 1).

    Keeps the offset arrays at <= 0.5 byte per hash per table.
    """
    return max(1, min(MAX_KEY_BITS, (max(n, 16) // 8).bit_length() - 1))


def position_bits(n: int) -> int:
    """Bits needed for a row position in a segment of ``n`` rows (at least 1)."""
    return max(1, (n - 1).bit_length())


def plan_tables(
    bits: int, n: int, tables: int | None = None, key_bits: int | None = None
) -> tuple[TableSpec, ...]:
    """Cut ``bits`` into ``tables`` near-equal chunks and size each table for ``n`` rows.

    Args:
        bits: hash width, a multiple of 64.
        n: rows in the segment (at most ``2**32 - 1``).
        tables: chunk count (default :func:`default_tables`); raised to ``bits / 64`` so that
            no chunk is wider than 64 bits.
        key_bits: bucket key width (default :func:`default_key_bits`), capped by the chunk.

    Raises:
        ValueError: ``bits`` is not a positive multiple of 64, or ``n`` does not fit 32 bits.
    """
    if bits <= 0 or bits % 64:
        raise ValueError("bits must be a positive multiple of 64")
    if n >= 2**32:
        raise ValueError("a segment holds fewer than 2**32 rows")
    m = tables if tables is not None else default_tables(bits)
    m = max(math.ceil(bits / 64), min(m, MAX_TABLES, bits))
    k_wanted = key_bits if key_bits is not None else default_key_bits(n)
    inline_room = min(31, 32 - position_bits(n))
    base, extra = divmod(bits, m)
    specs: list[TableSpec] = []
    start = 0
    for j in range(m):
        width = base + (1 if j < extra else 0)
        k = max(1, min(k_wanted, width, MAX_KEY_BITS))
        s = max(0, min(width - k, inline_room))
        specs.append(TableSpec(start, width, k, s))
        start += width
    return tuple(specs)


def table_radii(specs: tuple[TableSpec, ...], radius: int) -> tuple[int, ...]:
    """Split ``radius`` over the tables: ``sum(r_j + 1) == radius + 1``, wider chunks first.

    A table whose radius is -1 is not probed.
    """
    m = len(specs)
    base, extra = divmod(radius + 1, m)
    order = sorted(range(m), key=lambda j: (-specs[j].width, j))
    radii = [base - 1] * m
    for j in order[:extra]:
        radii[j] += 1
    return tuple(radii)


def _ball(width: int, radius: int) -> int:
    """Number of ``width``-bit words within ``radius`` of a given one."""
    return sum(math.comb(width, p) for p in range(min(radius, width) + 1))


def mih_cost_ns(specs: tuple[TableSpec, ...], radii: tuple[int, ...], n: int) -> float:
    """Estimated nanoseconds of one multi-index query on ``n`` uniformly spread rows."""
    cost = 0.0
    for spec, r in zip(specs, radii, strict=True):
        if r < 0:
            continue
        probes = _ball(spec.k, r)
        cost += probes * (_NS_PER_PROBE + _NS_PER_ENTRY * n / 2**spec.k)
        cost += _NS_PER_CANDIDATE * n * _ball(spec.k + spec.s, r) / 2 ** (spec.k + spec.s)
    return cost


def scan_cost_ns(n: int) -> float:
    """Estimated nanoseconds of one linear-scan query over ``n`` rows."""
    return _NS_PER_SCANNED_ROW * n
