"""FlatIndex, the brute-force baseline: kernel and NumPy paths agree with the reference."""

from __future__ import annotations

import numpy as np
import pytest
from index_reference import as_pairs, expected_hits, flip_bits, random_rows

from safehold.errors import InvalidSignalError
from safehold.index import FlatIndex, hex_to_rows
from safehold.index import flat as flat_module


@pytest.mark.parametrize("compiled", [True, False])
def test_flat_search_matches_reference(monkeypatch: pytest.MonkeyPatch, compiled: bool) -> None:
    if not compiled:
        monkeypatch.setattr(flat_module.kernels, "available", lambda: False)
    rng = np.random.default_rng(0)
    rows = random_rows(500, 4, rng)
    ids = rng.integers(0, 50, size=500)
    index = FlatIndex(ids, rows)
    queries = flip_bits(rows[:6], np.arange(6) * 6, rng)
    want = expected_hits(queries, rows, ids, 31)
    assert [as_pairs(*index.search(q, 31)) for q in queries] == want
    assert [as_pairs(*hit) for hit in index.search_batch(queries, 31)] == want
    assert index.search(queries[0], 31)[1].dtype == np.int64


def test_flat_empty_and_negative_radius() -> None:
    index = FlatIndex([], np.empty((0, 4), dtype=np.uint64))
    assert len(index.search(np.zeros(4, dtype=np.uint64), 31)[0]) == 0
    full = FlatIndex([1], np.zeros((1, 4), dtype=np.uint64))
    assert len(full.search(np.zeros(4, dtype=np.uint64), -1)[0]) == 0


def test_hex_to_rows_is_big_endian_words() -> None:
    rows = hex_to_rows(["0" * 63 + "1", "8" + "0" * 63])
    assert rows.tolist() == [[0, 0, 0, 1], [2**63, 0, 0, 0]]
    with pytest.raises(InvalidSignalError):
        hex_to_rows(["zz" * 32])
    with pytest.raises(InvalidSignalError):
        hex_to_rows(["00" * 31])
