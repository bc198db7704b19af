"""Exact radius search over binary hashes (PDQ and vPDQ frames, any width that is a multiple
of 64 bits), with live updates and snapshots.

* :class:`BinaryIndex`: the sublinear exact index (multi-index hashing, compiled kernels);
  ``add`` / ``remove`` / ``disable`` / ``enable`` while queries run; ``search``,
  ``search_batch`` (CSR :class:`BatchHits`), ``search_any`` / ``search_any_batch`` for query
  variants (PDQ dihedral); ``save`` / ``load`` snapshots.
* :func:`open_index`: load a snapshot and replay later bank changes, or rebuild.
* :func:`frame_ids` / :func:`match_frames`: vPDQ videos as frames in the same index.
* :class:`FlatIndex`: the brute-force baseline.

See docs/index.md for the design and measurements.
"""

from safehold.index.binary import DEFAULT_RADIUS, BinaryIndex, IndexStats
from safehold.index.errors import IndexNotReadyError, SnapshotError
from safehold.index.flat import FlatIndex, hex_to_rows
from safehold.index.results import BatchHits
from safehold.index.startup import ChangeBatch, ChangeFeed, FullLoad, IndexSlot, Opened, open_index
from safehold.index.state import Change
from safehold.index.video import VideoMatches, frame_ids, frame_owners, match_frames

__all__ = [
    "DEFAULT_RADIUS",
    "BatchHits",
    "BinaryIndex",
    "Change",
    "ChangeBatch",
    "ChangeFeed",
    "FlatIndex",
    "FullLoad",
    "IndexNotReadyError",
    "IndexSlot",
    "IndexStats",
    "Opened",
    "SnapshotError",
    "VideoMatches",
    "frame_ids",
    "frame_owners",
    "hex_to_rows",
    "match_frames",
    "open_index",
]
