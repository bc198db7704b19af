"""Immutable states of a live index and the pure functions that derive one from another.

A :class:`State` is a tuple of :class:`Part` objects, each an immutable :class:`Segment` plus
two bitmaps: ``skip`` (rows never reported: removed or disabled) and ``removed``. A change
never edits a state: :func:`apply` returns a new one that shares every untouched array with
the old (copy-on-write of the small bitmaps, new segments for added rows). The live index
publishes a state with one reference assignment, so a reader sees either the whole change or
none of it.

Layout of the parts: large indexed segments first, then at most one small *flat* segment
(scanned linearly) that collects recent additions until it outgrows ``flat_limit`` and is
indexed. :func:`merge` folds parts together (compaction), dropping removed rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import numpy.typing as npt

from safehold.index.kernels import U8Array, U64Array
from safehold.index.segment import IdArray, Segment

ChangeKind = Literal["add", "remove", "disable", "enable"]

#: A merged (compacted) segment with more rows than this is indexed even below flat_limit:
#: it will not grow again, and the planner still scans it when that is cheaper.
MERGED_FLAT_LIMIT = 4096


@dataclass(frozen=True, eq=False)
class Change:
    """One change to a live index.

    Attributes:
        kind: ``add`` (new rows, enabled), ``remove`` (every row with these ids, for good),
            ``disable`` (stop reporting rows with these ids), ``enable`` (report them again;
            removed rows stay removed).
        ids: ``(n,)`` int64 entry ids.
        rows: ``(n, words)`` uint64 hashes for ``add``; None otherwise.
    """

    kind: ChangeKind
    ids: IdArray
    rows: U64Array | None = None


@dataclass(frozen=True, slots=True)
class Config:
    """Geometry and housekeeping knobs shared by every segment of one index."""

    bits: int
    tables: int | None = None
    key_bits: int | None = None
    flat_limit: int = 65_536
    build_threads: int = 1


@dataclass(frozen=True, eq=False)
class Part:
    """A segment with its ``skip`` and ``removed`` bitmaps (bit i = row i, little-endian)."""

    segment: Segment
    skip: U8Array
    removed: U8Array

    @classmethod
    def fresh(cls, segment: Segment, disabled: npt.NDArray[np.bool_] | None = None) -> Part:
        """A part with nothing removed; rows flagged in ``disabled`` are skipped."""
        nbytes = (segment.n + 7) // 8
        skip = np.zeros(nbytes, dtype=np.uint8)
        if disabled is not None and disabled.any():
            skip = np.packbits(disabled, bitorder="little")
        return cls(segment, skip, np.zeros(nbytes, dtype=np.uint8))

    @property
    def indexed(self) -> bool:
        """True when the segment has multi-index tables."""
        return bool(self.segment.specs)

    def flags(self, bitmap: U8Array) -> npt.NDArray[np.bool_]:
        """``bitmap`` unpacked to one bool per row."""
        bits = np.unpackbits(bitmap, count=self.segment.n, bitorder="little")
        return bits.astype(bool)

    @cached_property
    def skipped(self) -> int:
        """Rows not reported (removed or disabled)."""
        return _popcount(self.skip)

    @cached_property
    def removed_rows(self) -> int:
        """Rows removed (dropped at the next compaction)."""
        return _popcount(self.removed)


@dataclass(frozen=True, eq=False)
class State:
    """Everything a query needs, never modified after it is published."""

    parts: tuple[Part, ...] = ()

    @property
    def rows(self) -> int:
        """Rows held, removed ones included (until compaction drops them)."""
        return sum(p.segment.n for p in self.parts)

    @property
    def removed(self) -> int:
        """Rows removed but not yet dropped by compaction."""
        return sum(p.removed_rows for p in self.parts)


def _popcount(bitmap: U8Array) -> int:
    if hasattr(np, "bitwise_count"):  # NumPy >= 2
        return int(np.bitwise_count(bitmap).sum(dtype=np.int64))
    return int(np.unpackbits(bitmap).sum(dtype=np.int64))


def _with_bits(bitmap: U8Array, positions: IdArray, value: bool) -> U8Array:
    out = bitmap.copy()
    masks = (np.uint8(1) << (positions & 7).astype(np.uint8)).astype(np.uint8)
    if value:
        np.bitwise_or.at(out, positions >> 3, masks)
    else:
        np.bitwise_and.at(out, positions >> 3, ~masks)
    return out


def _test_bits(bitmap: U8Array, positions: IdArray) -> npt.NDArray[np.bool_]:
    bits: npt.NDArray[np.uint8] = (bitmap[positions >> 3] >> (positions & 7).astype(np.uint8)) & 1
    return bits.astype(bool)


def _add(state: State, ids: IdArray, rows: U64Array, cfg: Config) -> State:
    parts = list(state.parts)
    disabled = np.zeros(len(ids), dtype=bool)
    if parts and not parts[-1].indexed:
        last = parts.pop()
        keep = ~last.flags(last.removed)
        seg = last.segment
        ids = np.concatenate([seg.all_ids()[keep], ids])
        rows = np.concatenate([seg.rows[keep], rows])
        disabled = np.concatenate([last.flags(last.skip)[keep], disabled])
    order = np.argsort(ids, kind="stable")
    segment = Segment.build(
        cfg.bits,
        ids[order],
        rows[order],
        indexed=len(ids) > cfg.flat_limit,
        tables=cfg.tables,
        key_bits=cfg.key_bits,
        threads=cfg.build_threads,
    )
    parts.append(Part.fresh(segment, disabled[order]))
    if parts[-1].indexed:  # keep indexed parts first, the flat one (if any) last
        parts.sort(key=lambda p: not p.indexed)
    return State(tuple(parts))


def _flag(state: State, kind: ChangeKind, ids: IdArray) -> tuple[State, int]:
    parts = list(state.parts)
    changed = 0
    ids = np.unique(ids)
    for i, part in enumerate(parts):
        pos = part.segment.positions_of(ids)
        if len(pos) == 0:
            continue
        pos = pos[~_test_bits(part.removed, pos)]
        skipped = _test_bits(part.skip, pos)
        if kind == "remove":
            changed += len(pos)
            if len(pos):
                parts[i] = Part(
                    part.segment,
                    _with_bits(part.skip, pos, True),
                    _with_bits(part.removed, pos, True),
                )
            continue
        pos = pos[~skipped] if kind == "disable" else pos[skipped]
        changed += len(pos)
        if len(pos):
            parts[i] = Part(
                part.segment, _with_bits(part.skip, pos, kind == "disable"), part.removed
            )
    return State(tuple(parts)), changed


def apply(state: State, change: Change, cfg: Config) -> tuple[State, int]:
    """Return ``(new state, rows affected)``; ``state`` itself is left untouched."""
    if change.kind == "add":
        assert change.rows is not None
        if len(change.ids) == 0:
            return state, 0
        return _add(state, change.ids, change.rows, cfg), len(change.ids)
    return _flag(state, change.kind, change.ids)


def merge(state: State, first: int, cfg: Config) -> State:
    """Fold ``state.parts[first:]`` into one indexed segment, dropping removed rows.

    Disabled rows stay (disabled); row order among equal ids follows the parts' order.
    """
    head, tail = state.parts[:first], state.parts[first:]
    if not tail:
        return state
    ids_l, rows_l, dis_l = [], [], []
    for part in tail:
        keep = ~part.flags(part.removed)
        ids_l.append(part.segment.all_ids()[keep])
        rows_l.append(part.segment.rows[keep])
        dis_l.append(part.flags(part.skip)[keep])
    ids = np.concatenate(ids_l)
    if len(ids) == 0:
        return State(head)
    order = np.argsort(ids, kind="stable")
    segment = Segment.build(
        cfg.bits,
        ids[order],
        np.concatenate(rows_l)[order],
        indexed=len(ids) > min(cfg.flat_limit, MERGED_FLAT_LIMIT),
        tables=cfg.tables,
        key_bits=cfg.key_bits,
        threads=cfg.build_threads,
    )
    parts = [*head, Part.fresh(segment, np.concatenate(dis_l)[order])]
    parts.sort(key=lambda p: not p.indexed)
    return State(tuple(parts))
