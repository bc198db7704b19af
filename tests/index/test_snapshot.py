"""Snapshots: a round trip answers exactly like the saved index; any damaged, foreign or stale
file raises SnapshotError instead of being searched."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from index_reference import as_pairs, clustered_bank, expected_hits, flip_bits, random_rows

from safehold.index import BinaryIndex, SnapshotError
from safehold.index.snapshot import FORMAT_VERSION, MAGIC


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BinaryIndex, np.ndarray]:
    """A 2-segment index (indexed + flat) with removed and disabled rows, saved."""
    rng = np.random.default_rng(11)
    rows = clustered_bank(3_000, 4, 100, 10, rng)
    index = BinaryIndex(256, flat_limit=1_000, auto_compact=False)
    index.add(np.arange(2_000), rows[:2_000])
    index.add(np.arange(2_000, 2_500) * 10**10, rows[2_000:2_500])  # int64 ids
    index.add(np.arange(2_500, 3_000), rows[2_500:])
    index.remove(np.arange(0, 3_000, 7))
    index.disable(np.arange(1, 3_000, 11))
    path = tmp_path_factory.mktemp("snap") / "pdq.idx"
    index.save(path, 1234, source="db-1/pdq")
    return path, index, rows


def _same_answers(a: BinaryIndex, b: BinaryIndex, rows: np.ndarray) -> None:
    queries = flip_bits(rows[::97], np.arange(len(rows[::97])) % 32, np.random.default_rng(0))
    for radius in (0, 16, 31, 50):
        x, y = a.search_batch(queries, radius), b.search_batch(queries, radius)
        assert np.array_equal(x.offsets, y.offsets)
        assert np.array_equal(x.ids, y.ids)
        assert np.array_equal(x.distances, y.distances)


@pytest.mark.parametrize("mmap", [True, False])
def test_round_trip_answers_like_the_saved_index(
    saved: tuple[Path, BinaryIndex, np.ndarray], mmap: bool
) -> None:
    path, index, rows = saved
    loaded, seq = BinaryIndex.load(path, bits=256, source="db-1/pdq", mmap=mmap)
    assert seq == 1234
    assert loaded.stats() == index.stats()
    assert loaded.stats().segments == 2  # one indexed, one flat
    _same_answers(index, loaded, rows)
    loaded.add([-1], rows[:1])  # a loaded (read-only mapped) index stays live
    loaded.remove([8])
    loaded.compact()
    assert -1 in loaded.search(rows[0], 0)[0].tolist()


def test_empty_index_round_trips(tmp_path: Path) -> None:
    BinaryIndex(128).save(tmp_path / "e.idx", 0)
    loaded, seq = BinaryIndex.load(tmp_path / "e.idx", bits=128)
    assert (len(loaded), seq) == (0, 0)
    assert loaded.search(np.zeros(2, dtype=np.uint64), 10)[0].tolist() == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(where=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_any_flipped_bit_is_detected(
    saved: tuple[Path, BinaryIndex, np.ndarray], where: float, bit: int, tmp_path_factory
) -> None:  # type: ignore[no-untyped-def]
    path, _, _ = saved
    data = bytearray(path.read_bytes())
    data[int(where * len(data))] ^= 1 << bit
    bad = tmp_path_factory.mktemp("bad") / "flip.idx"
    bad.write_bytes(bytes(data))
    with pytest.raises(SnapshotError):
        BinaryIndex.load(bad)


@pytest.mark.parametrize("keep", [0, 10, 23, 200, -1, -4096])
def test_truncated_file_is_detected(
    saved: tuple[Path, BinaryIndex, np.ndarray], tmp_path: Path, keep: int
) -> None:
    path, _, _ = saved
    bad = tmp_path / "short.idx"
    bad.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(SnapshotError) as info:
        BinaryIndex.load(bad)
    assert info.value.reason in {"truncated", "header"}


def _rewrite_prefix(path: Path, out: Path, magic: bytes, version: int) -> None:
    data = bytearray(path.read_bytes())
    _, _, hlen, hcrc, pcrc = struct.unpack_from("<8sIIII", data)
    struct.pack_into("<8sIIII", data, 0, magic, version, hlen, hcrc, pcrc)
    out.write_bytes(bytes(data))


def test_wrong_version_and_magic_are_refused(
    saved: tuple[Path, BinaryIndex, np.ndarray], tmp_path: Path
) -> None:
    path, _, _ = saved
    _rewrite_prefix(path, tmp_path / "v.idx", MAGIC, FORMAT_VERSION + 1)
    with pytest.raises(SnapshotError) as info:
        BinaryIndex.load(tmp_path / "v.idx")
    assert info.value.reason == "version"
    _rewrite_prefix(path, tmp_path / "m.idx", b"NOTANIDX", FORMAT_VERSION)
    with pytest.raises(SnapshotError) as info:
        BinaryIndex.load(tmp_path / "m.idx")
    assert info.value.reason == "magic"


def test_valid_crc_but_out_of_range_table_is_refused(
    saved: tuple[Path, BinaryIndex, np.ndarray], tmp_path: Path
) -> None:
    """Defence in depth: the kernel checks offsets itself, even when the CRC matches."""
    path, _, _ = saved
    data = bytearray(path.read_bytes())
    _, _, hlen, _, _ = struct.unpack_from("<8sIIII", data)
    import json

    header = json.loads(bytes(data[24 : 24 + hlen]))
    start = -(-(24 + hlen) // 64) * 64
    spec = header["arrays"]["0.t0.hi"]
    at = start + spec["offset"] + 4 * (spec["shape"][0] - 1)
    struct.pack_into("<I", data, at, 10**9)  # end of the last bucket far past the rows
    struct.pack_into("<I", data, 20, zlib.crc32(bytes(data[start:])))
    (tmp_path / "t.idx").write_bytes(bytes(data))
    with pytest.raises(SnapshotError) as info:
        BinaryIndex.load(tmp_path / "t.idx")
    assert info.value.reason == "header"


def test_foreign_and_stale_snapshots_are_refused(
    saved: tuple[Path, BinaryIndex, np.ndarray], tmp_path: Path
) -> None:
    path, _, _ = saved
    for kwargs, reason in [
        ({"source": "db-2/pdq"}, "mismatch"),
        ({"bits": 64}, "mismatch"),
        ({"max_change_seq": 1233}, "stale"),
    ]:
        with pytest.raises(SnapshotError) as info:
            BinaryIndex.load(path, **kwargs)  # type: ignore[arg-type]
        assert info.value.reason == reason
    with pytest.raises(SnapshotError) as info:
        BinaryIndex.load(tmp_path / "missing.idx")
    assert info.value.reason == "missing"
    assert BinaryIndex.load(path, max_change_seq=1234)[1] == 1234


def test_save_replaces_atomically(tmp_path: Path) -> None:
    rows = random_rows(200, 4, np.random.default_rng(1))
    path = tmp_path / "a.idx"
    BinaryIndex.from_arrays(np.arange(200), rows).save(path, 1)
    BinaryIndex.from_arrays(np.arange(100), rows[:100]).save(path, 2)
    loaded, seq = BinaryIndex.load(path)
    assert (len(loaded), seq) == (100, 2)
    assert list(tmp_path.iterdir()) == [path]
    hits = loaded.search_batch(rows[:3], 0)
    assert [as_pairs(*hits[i]) for i in range(3)] == expected_hits(
        rows[:3], rows[:100], np.arange(100), 0
    )


def test_peek_reads_the_sequence_without_trusting_the_file(tmp_path: Path) -> None:
    from safehold.index.snapshot import peek_change_seq

    path = tmp_path / "i.snap"
    assert peek_change_seq(path) is None
    BinaryIndex.from_arrays(np.arange(3), random_rows(3, 4, np.random.default_rng(2))).save(
        path, 41
    )
    assert peek_change_seq(path) == 41
    raw = bytearray(path.read_bytes())
    raw[30] ^= 0x01  # inside the header: its CRC no longer matches
    path.write_bytes(bytes(raw))
    assert peek_change_seq(path) is None
