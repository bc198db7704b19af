"""Table geometry: chunks partition the hash, radii satisfy the pigeonhole bound."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from safehold.index import geometry


@given(
    bits=st.sampled_from([64, 128, 256, 512, 1024]),
    n=st.integers(0, 2**32 - 1),
    tables=st.none() | st.integers(1, 80),
    key_bits=st.none() | st.integers(1, 40),
)
def test_chunks_partition_the_bits_and_entries_fit_32_bits(
    bits: int, n: int, tables: int | None, key_bits: int | None
) -> None:
    specs = geometry.plan_tables(bits, n, tables, key_bits)
    assert [s.start for s in specs] == [sum(t.width for t in specs[:i]) for i in range(len(specs))]
    assert sum(s.width for s in specs) == bits
    for s in specs:
        assert 1 <= s.width <= 64
        assert 1 <= s.k <= geometry.MAX_KEY_BITS
        assert s.k + s.s <= s.width
        assert geometry.position_bits(n) + s.s <= 32


@given(tables=st.integers(1, 64), radius=st.integers(0, 300))
def test_table_radii_meet_the_pigeonhole_bound_exactly(tables: int, radius: int) -> None:
    specs = geometry.plan_tables(64 * tables, 1000, tables)
    radii = geometry.table_radii(specs, radius)
    assert len(radii) == tables
    assert sum(r + 1 for r in radii) == radius + 1
    assert max(radii) - min(radii) <= 1
    assert min(radii) >= -1


def test_pdq_defaults() -> None:
    """Ten tables of 25-26 bits; radius 31 splits as 3, 3, 2 x 8 (decision record 0005)."""
    specs = geometry.plan_tables(256, 10_000_000)
    assert [s.width for s in specs] == [26] * 6 + [25] * 4
    assert {s.k for s in specs} == {20}
    assert geometry.table_radii(specs, 31) == (3, 3, 2, 2, 2, 2, 2, 2, 2, 2)
    assert geometry.default_key_bits(1_000_000) == 16
    assert geometry.table_radii(specs, 0).count(-1) == 9


def test_cost_model_prefers_mih_at_31_and_scan_when_the_radius_is_huge() -> None:
    specs = geometry.plan_tables(256, 1_000_000)
    mih = geometry.mih_cost_ns(specs, geometry.table_radii(specs, 31), 1_000_000)
    assert mih < geometry.scan_cost_ns(1_000_000) / 10
    wide = geometry.mih_cost_ns(specs, geometry.table_radii(specs, 120), 1_000_000)
    assert wide > geometry.scan_cost_ns(1_000_000)


@pytest.mark.parametrize(("bits", "n"), [(96, 10), (256, 2**32)])
def test_bad_geometry_is_refused(bits: int, n: int) -> None:
    with pytest.raises(ValueError, match=r"multiple of 64|2\*\*32"):
        geometry.plan_tables(bits, n)
