"""The compiled kernels: built, dispatched, and defensive about the arrays they are given."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from index_reference import distance_matrix, random_rows

from safehold.index import kernels


def test_kernels_are_built_and_pick_the_fastest_flavour_the_cpu_has() -> None:
    assert kernels.available()
    supported = kernels.flavours()
    assert supported[-1] == "base"
    assert kernels.flavour() == supported[0]
    cpuinfo = Path("/proc/cpuinfo")
    flags = set(cpuinfo.read_text().split()) if cpuinfo.exists() else set()
    if {"avx512f", "avx512_vpopcntdq"} <= flags:
        assert supported[0] == "avx512"
    elif {"avx2", "popcnt"} <= flags:
        assert supported[0] == "avx2"


def test_unsupported_flavour_is_refused() -> None:
    with pytest.raises(ValueError, match="not available"):
        kernels.use_flavour("quantum")


def test_scan_matches_reference_distances(flavour: str) -> None:
    rng = np.random.default_rng(0)
    rows, queries = random_rows(3_000, 4, rng), random_rows(5, 4, rng)
    queries[0] = rows[17]
    raw = kernels.scan_search(rows, None, queries, 256)
    assert raw.offsets.tolist() == [i * 3_000 for i in range(6)]
    assert np.array_equal(raw.distances.reshape(5, 3_000), distance_matrix(queries, rows))
    skip = np.packbits(np.arange(3_000) == 17, bitorder="little")
    hits = kernels.scan_search(rows, skip, queries[:1], 0)
    assert hits.positions.tolist() == []


def test_build_table_is_a_stable_bucket_sort(flavour: str) -> None:
    rows = random_rows(1_000, 4, np.random.default_rng(1))
    offsets, entries = kernels.build_table(rows, start=60, width=20, k=6, s=4)
    keys = ((rows[:, 0] >> np.uint64(60)) | (rows[:, 1] << np.uint64(4))) & np.uint64(63)
    assert np.array_equal(np.diff(offsets), np.bincount(keys.astype(np.int64), minlength=64))
    positions = entries >> np.uint32(4)
    assert np.array_equal(positions, np.argsort(keys, kind="stable"))
    suffix = (rows[:, 1] >> np.uint64(2)) & np.uint64(15)
    assert np.array_equal(entries & np.uint32(15), suffix[positions].astype(np.uint32))


def _table(rows: np.ndarray) -> kernels.TableArrays:
    offsets, entries = kernels.build_table(rows, 0, 32, 4, 8)
    return kernels.compress_offsets(offsets, entries)


def test_two_level_offsets_agree_with_plain_offsets() -> None:
    rows = random_rows(3_000, 4, np.random.default_rng(5))
    rows[: 70_000 // 70] = rows[0]  # one heavy bucket
    offsets, entries = kernels.build_table(rows, 0, 24, 10, 8)
    table = kernels.compress_offsets(offsets, entries)
    starts = table.hi[np.arange(1025) >> table.shift].astype(np.int64) + table.lo
    assert np.array_equal(starts, offsets)
    heavy = np.concatenate(
        [np.zeros((70_000, 4), np.uint64), random_rows(10, 4, np.random.default_rng(6))]
    )
    offsets, entries = kernels.build_table(heavy, 0, 24, 4, 8)
    table = kernels.compress_offsets(offsets, entries)
    assert table.shift == 0  # a bucket over 65535 entries: blocks of one bucket
    assert np.array_equal(table.hi[:-1].astype(np.int64) + table.lo[:-1], offsets[:-1])


@pytest.mark.parametrize("damage", ["start-nonzero", "end-short", "backwards", "entry-past-end"])
def test_make_segment_refuses_tables_that_could_read_out_of_bounds(damage: str) -> None:
    rows = random_rows(100, 4, np.random.default_rng(2))
    t = _table(rows)
    hi, lo, entries = t.hi.copy(), t.lo.copy(), t.entries.copy()
    if damage == "start-nonzero":
        lo[0] = 1
    elif damage == "end-short":
        hi[-1] = 99
    elif damage == "backwards":
        lo[3], lo[4] = lo[4] + 1, lo[3]
    else:
        entries[0] = np.uint32(100 << 8)
    bad = kernels.TableArrays(t.shift, hi, lo, entries)
    with pytest.raises(ValueError, match=r"offsets|entries"):
        kernels.make_segment(rows, [(0, 32, 4, 8)], [bad])
    kernels.make_segment(rows, [(0, 32, 4, 8)], [t])  # the undamaged table is accepted


@pytest.mark.parametrize(
    ("start", "width", "k", "s"), [(250, 10, 4, 0), (0, 65, 4, 0), (0, 8, 6, 3), (0, 8, 0, 0)]
)
def test_bad_table_geometry_is_refused(start: int, width: int, k: int, s: int) -> None:
    rows = random_rows(10, 4, np.random.default_rng(3))
    with pytest.raises(ValueError, match="geometry"):
        kernels.build_table(rows, start, width, k, s)


def test_mih_refuses_radii_that_break_the_pigeonhole_bound() -> None:
    rows = random_rows(100, 4, np.random.default_rng(4))
    handle = kernels.make_segment(rows, [(0, 32, 4, 8)], [_table(rows)])
    with pytest.raises(ValueError, match="cover"):
        kernels.mih_search(handle, None, rows[:1], 5, (4,))
    assert kernels.mih_search(handle, None, rows[:1], 5, (5,)).positions.tolist() == [0]
