"""The scan's PDQ index snapshot: reused and replayed when valid, rebuilt when not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image

from safehold.banks.models import NewEntry
from safehold.banks.service import BankService
from safehold.index import BinaryIndex
from safehold.scanning import ScanRecord
from safehold.scanning.matcher import Matcher
from safehold.scanning.snapshots import PDQ_SNAPSHOT, open_pdq_index
from safehold.settings import Settings
from safehold.signals.base import Signal
from safehold.signals.pdq import vector_to_hex


def _reference_pdq(path: Path) -> str:
    """PDQ of the file from the reference bindings directly (not through Safehold)."""
    with Image.open(path) as image:
        vector, _ = pdqhash.compute(np.asarray(image.convert("RGB")))
    return vector_to_hex(vector)


def _matched(records: list[ScanRecord], name: str) -> list[tuple[str, int]]:
    (record,) = [r for r in records if Path(r.path).name == name]
    return [(m.bank, m.entry_id) for m in record.matches if m.signal_type == "pdq"]


def test_second_scan_replays_and_a_corrupt_snapshot_is_rebuilt(
    banks: BankService,
    run_scan: Callable[..., tuple[list[ScanRecord], object]],
    files: Callable[..., list[Path]],
    settings: Settings,
) -> None:
    a, b = files("a.png", "b.png")
    banks.create_bank("known")
    banks.add_entries("known", [NewEntry("pdq", _reference_pdq(a))])
    (entry_a,) = [e.id for e in banks.iter_entries("known")]
    snapshot = settings.data_dir / "index" / PDQ_SNAPSHOT

    records, _ = run_scan([a, b])
    assert _matched(records, "a.png") == [("known", entry_a)]
    assert _matched(records, "b.png") == []
    assert snapshot.is_file()
    saved_at = BinaryIndex.load(snapshot)[1]

    # an entry added between two scans is found through the replay of the change log
    banks.add_entries("known", [NewEntry("pdq", _reference_pdq(b))])
    entry_b = max(e.id for e in banks.iter_entries("known"))
    assert Matcher(banks, ["pdq"], index_dir=snapshot.parent).index_origins == {"pdq": "snapshot"}
    records, _ = run_scan([a, b])
    assert _matched(records, "b.png") == [("known", entry_b)]
    assert BinaryIndex.load(snapshot)[1] == saved_at  # a small replay does not re-save

    # a corrupt snapshot is rebuilt, never searched
    raw = bytearray(snapshot.read_bytes())
    raw[-8] ^= 0xFF
    snapshot.write_bytes(bytes(raw))
    banks.set_entry_enabled(entry_a, False)
    opened = open_pdq_index(banks, snapshot.parent)
    assert (opened.origin, opened.reason) == ("rebuilt", "checksum")
    records, _ = run_scan([a, b])
    assert _matched(records, "a.png") == []
    assert _matched(records, "b.png") == [("known", entry_b)]
    assert BinaryIndex.load(snapshot)[1] == banks.change_sequence()


def test_snapshot_of_another_history_is_not_trusted(banks: BankService, tmp_path: Path) -> None:
    value = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    banks.create_bank("known")
    banks.add_entries("known", [NewEntry("pdq", value)])
    index_dir = tmp_path / "index"
    assert open_pdq_index(banks, index_dir).origin == "rebuilt"
    assert open_pdq_index(banks, index_dir).origin == "snapshot"
    # same sequence, other history: a snapshot saved under another source is refused
    index, seq = BinaryIndex.load(index_dir / PDQ_SNAPSHOT)
    index.save(index_dir / PDQ_SNAPSHOT, seq, source="banks:pdq:elsewhere")
    opened = open_pdq_index(banks, index_dir)
    assert (opened.origin, opened.reason) == ("rebuilt", "mismatch")


def test_matcher_drops_hits_outside_the_run(banks: BankService, tmp_path: Path) -> None:
    value = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    for name in ("one", "two"):
        banks.create_bank(name)
        banks.add_entries(name, [NewEntry("pdq", value)])
    (two,) = [e.id for e in banks.iter_entries("two")]
    index_dir = tmp_path / "index"
    signal = {"pdq": Signal("pdq", value, 100)}
    both = Matcher(banks, ["pdq"], index_dir=index_dir).match(signal)
    assert sorted(m.bank for m in both) == ["one", "two"]
    only = Matcher(banks, ["pdq"], index_dir=index_dir, bank_names=["two"]).match(signal)
    assert [(m.bank, m.entry_id) for m in only] == [("two", two)]
