"""Large VICS Media files cut between media items, for several parser processes.

A VICS file is one JSON document (``{"@odata.context": ..., "value": [media, ...]}``), so a
part must start at a media item's ``{`` and end after an item's ``}``: a cut anywhere else
would split an item or land inside a string. The cuts are found exactly, by one pass over the
file with array operations (:func:`plan_vics_parts`): every ``"`` opens or closes a string when
the file holds no escaped quote (``\\"``), so a bracket is outside every string when an even
number of quotes come before it, and the depth after each such bracket is a running sum.
Media items are the objects at depth 3 inside the ``value`` array (depth 2). The pass runs at
about 1 GB/s on one core (a 1M-media file of 180 MB: 0.2 s); checking the gaps between items
(below) added about a third (200,000 media, 36 MB: 0.22-0.23 -> 0.29-0.31 s CPU, best of 5).

A part starts only where the bytes since the item before are whitespace and exactly one
comma, so no byte between two parts goes unparsed (user test 7: a missing comma or a ``null``
there was never read by path, reported from stdin); where damage or other elements lie
between two items the cut moves to the next item that qualifies and the part's reader meets
them as one stream would. Items are numbered as the reader numbers them, counting every
element of the ``value`` array: the objects and arrays at depth 3, and the elements without
brackets (``null``, numbers, strings) between them, counted by parsing the bytes between two
items wherever they are not one comma (rare: array operations check that). After damage
there that the pass cannot count past (two commas, a stray byte), or an item closed by the
other kind of bracket (where the reader stops), it makes no further cut: the rest of the file
is one part and reads as in one stream.

Each part but the first is read with the file's head (its bytes up to and including the
``value`` array's ``[``) in front of it and each part but the last with ``]}`` after it, so
its parser reads a whole VICS document of its own items, under the same layout. Parts carry
the numbers of their first and last media items, so messages name items as a reader of the
whole file would (``media item 300001``).

Only ``#Media`` files (media directly under ``value``) are cut; a file with an escaped quote,
without a ``value`` array, or whose structure the pass cannot follow (more closing brackets
than opening) is one part, read as before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from safehold.banks.formats.json_bounds import bracket_depths
from safehold.banks.formats.vics import HEAD_BYTES, vics_layout

#: Bytes scanned at a time.
_BLOCK = 8 * 1024 * 1024
#: What closes a part's document when the file goes on after it.
PART_TAIL = b"]}"
_VALUE_KEY = re.compile(rb'"value"\s*:\s*$')
#: Depths (see the module doc): the value array, its items.
_ARRAY_DEPTH = 2
_ITEM_DEPTH = 3
__all__ = ["PART_TAIL", "VicsCut", "plan_vics_cuts"]


@dataclass(frozen=True, slots=True)
class VicsCut:
    """One cut between two media items: the part before ends at byte ``end`` (just after an
    item's ``}``), the part after starts at byte ``start`` (the next item's ``{``), and
    ``items_before`` items lie before ``start`` (the next part's first is number
    ``items_before + 1``)."""

    end: int
    start: int
    items_before: int


def plan_vics_cuts(
    f: BinaryIO, offset: int, targets: list[int]
) -> tuple[bytes, list[VicsCut]] | None:
    """Cuts of the VICS file ``f`` (read from byte ``offset``) at the first media item that
    starts at or after each of ``targets`` (ascending byte positions) after one comma and
    whitespace (module doc), with the file's head
    (from ``offset`` up to and including the ``value`` array's ``[``); None when the file is
    not to be cut (module doc). Targets past the last item give no cut.
    """
    f.seek(offset)
    head = f.read(HEAD_BYTES)
    if vics_layout(head).prefix != "value.item":
        return None
    f.seek(offset)
    try:
        return _plan(f, offset, head, targets)
    except _UnsureError:
        return None


def _plan(
    f: BinaryIO, offset: int, head: bytes, targets: list[int]
) -> tuple[bytes, list[VicsCut]] | None:
    value_open: int | None = None
    cuts: list[VicsCut] = []
    pending = list(targets)
    elements = 0  # elements of the value array that start before the current block's items
    last_end = -1  # byte after the last element that closed (-1: none yet)
    tail: bytes | None = None  # bytes from last_end to the block's end, between two elements
    first_gap = True  # the gap before the next item is the one after the array's "["
    open_at, open_byte = -1, 0  # the last element that opened with a bracket, and that bracket
    mismatch = _NO_MISMATCH  # where an element closed by the other kind of bracket opened
    for block, base, at, opens, depths in _brackets(f, offset):
        if value_open is None:
            first = np.flatnonzero(opens & (depths == _ARRAY_DEPTH))
            if not first.size:
                continue
            value_open = int(at[first[0]])
            if not _VALUE_KEY.search(head[: value_open - offset]):
                return None  # the first array of the top object is not "value" (or is far)
            at, opens, depths = at[first[0] + 1 :], opens[first[0] + 1 :], depths[first[0] + 1 :]
            last_end, tail = value_open + 1, b""
        closed = np.flatnonzero(depths < _ARRAY_DEPTH)
        if closed.size:  # the value array ends here: no item after it
            at, opens, depths = at[: closed[0]], opens[: closed[0]], depths[: closed[0]]
        starts = at[opens & (depths == _ITEM_DEPTH)]
        ends = at[~opens & (depths == _ARRAY_DEPTH)] + 1
        # The gap before each element that opens with a bracket: from the end of the one
        # before (in this block, or carried in ``tail``) to its "[" or "{".
        before = np.searchsorted(ends, starts) - 1
        gap_from = ends[np.maximum(before, 0)] if ends.size else before
        gap_from = np.where(before >= 0, gap_from, -1)
        clean = _clean_gaps(block, base, gap_from, starts)
        # An element closed by the other kind of bracket ("{" ... "]") ends the reader's read
        # ("the rest was not read"): no part may start after it.
        arr = np.frombuffer(block, dtype=np.uint8)
        owner = np.searchsorted(starts, ends - 1) - 1  # the start of each end's element
        opened = arr[starts[np.maximum(owner, 0)] - base] if starts.size else owner
        opened = np.where(owner >= 0, opened, open_byte)
        unmatched = np.flatnonzero(opened + 2 != arr[ends - 1 - base])
        if unmatched.size:
            k = int(owner[unmatched[0]])
            mismatch = int(starts[k]) if k >= 0 else open_at
        # Elements without brackets in each gap (0 where clean), cuttable gaps, and where the
        # pass stops (an item after a mismatch, or a gap it cannot count past).
        count = int(starts.size)
        stop = int(np.searchsorted(starts, mismatch, side="right"))
        scalars = np.zeros(count, dtype=np.int64)
        cuttable = clean.copy()
        odd = np.flatnonzero(~clean)
        if first_gap and count and (not odd.size or odd[0] != 0):
            odd = np.concatenate(([0], odd))
        for k in odd.tolist():
            if k >= stop:
                break
            start = int(starts[k])
            if gap_from[k] >= 0:
                gap = block[int(gap_from[k]) - base : start - base]
            elif last_end >= base:  # after the array's "[" in this block
                gap = block[last_end - base : start - base]
            else:
                gap = (tail or b"") + block[: start - base]
            seen = _gap_elements(gap, after_element=not (first_gap and k == 0))
            if seen is None:  # damage the pass cannot count past: no cut at or after it
                stop = k
                break
            scalars[k], cuttable[k] = seen
        if first_gap and count:  # no cut before the first item
            cuttable[0] = False
            pending = [t for t in pending if t > int(starts[0])]
        cuttable[stop:] = False
        # Elements before each item: those before the block, the items before it in the
        # block, and the elements without brackets up to its gap.
        before_item = elements + np.arange(count) + np.cumsum(scalars)
        open_cuts = np.flatnonzero(cuttable)
        while pending and open_cuts.size:
            i = int(np.searchsorted(starts[open_cuts], pending[0]))
            if i == open_cuts.size:
                break
            k = int(open_cuts[i])
            start = int(starts[k])
            end = int(gap_from[k]) if gap_from[k] >= 0 else last_end
            cuts.append(VicsCut(end, start, int(before_item[k])))
            pending = [t for t in pending if t > start]
        if stop < count:
            return head[: value_open + 1 - offset], cuts
        if count:
            elements = int(before_item[-1]) + 1
            first_gap = False
        if ends.size:
            last_end = int(ends[-1])
        if starts.size:
            open_at = int(starts[-1])
            open_byte = int(arr[open_at - base])
        if closed.size or not pending or mismatch < _NO_MISMATCH:
            break
        if starts.size and (not ends.size or int(ends[-1]) < int(starts[-1])):
            tail = None  # the block ends inside an element
        elif last_end >= base:
            tail = block[last_end - base :]
        elif tail is not None:
            tail += block
        if tail is not None and len(tail) > _GAP_LIMIT:
            break  # a gap that long is no VICS file's: no cut after it
    if value_open is None:
        return None
    return head[: value_open + 1 - offset], cuts


#: Whitespace -> 0, a comma -> 1, any other byte -> 2 (a gap between two elements of the value
#: array is clean when its classes sum to 1: one comma and whitespace).
_GAP_CLASS = np.array(
    [0 if b in b" \t\r\n" else 1 if b == ord(",") else 2 for b in range(256)], dtype=np.uint8
)
_NO_MISMATCH = 1 << 62
#: Longest gap checked with array operations (longer ones: byte by byte, in Python).
_GAP_WIDTH = 64
#: Longest gap between two elements followed (a string element over the reader's token bound
#: is a bad row anyway); past it, no more cuts.
_GAP_LIMIT = 2 * 1024 * 1024


def _clean_gaps(block: bytes, base: int, gap_from: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Whether each gap ``gap_from[k]..starts[k]`` (file positions in ``block``, which starts
    at ``base``; ``gap_from`` -1: the gap begins in an earlier block) is whitespace and
    exactly one comma; False where unknown (checked by :func:`_gap_elements`)."""
    if not starts.size:
        return np.zeros(0, dtype=bool)
    arr = np.frombuffer(block, dtype=np.uint8)
    lengths = np.where(gap_from >= 0, starts - gap_from, _GAP_WIDTH + 1)
    first = np.where(gap_from >= 0, gap_from - base, 0)
    total = np.zeros(starts.size, dtype=np.uint8)
    for k in range(min(_GAP_WIDTH, int(lengths.max()))):
        inside = lengths > k
        byte = arr[np.minimum(first + k, arr.size - 1)]
        total += np.where(inside, _GAP_CLASS[byte], 0).astype(np.uint8)
    clean: np.ndarray = (lengths <= _GAP_WIDTH) & (total == 1)
    return clean


def _gap_elements(gap: bytes, after_element: bool) -> tuple[int, bool] | None:
    """The elements without brackets (``null``, numbers, strings) in ``gap``, the bytes
    between two elements of the value array that open with a bracket (``after_element``
    False: between the array's ``[`` and its first such element), and whether a part may
    start after it (the gap is whitespace and exactly one comma, so no byte of it needs
    parsing). A gap without its comma (``}{``) holds none: the reader skips the element
    after it as a bad item, numbered as here. None for any other damage: the reader's
    numbering after it is not known here."""
    text = gap.strip(b" \t\r\n")
    if after_element:
        if text == b",":
            return 0, True
        if not text:
            return 0, False
        if not text.startswith(b","):
            return None
        text = text[1:]
    elif not text:
        return 0, False
    if not text.endswith(b","):
        return None
    try:
        found = json.loads(b"[" + text[:-1] + b"]", parse_constant=_refuse)
    except ValueError:
        return None
    if not found or any(isinstance(e, list | dict) for e in found):
        return None
    return len(found), False


def _refuse(name: str) -> None:
    raise ValueError(name)


def _brackets(
    f: BinaryIO, offset: int
) -> Iterator[tuple[bytes, int, np.ndarray, np.ndarray, np.ndarray]]:
    """Per block of the file from ``offset``: the block, its file position, the byte
    positions of brackets outside strings, whether each opens, and the depth after each.

    Raises:
        _UnsureError: an escaped quote, or a depth under zero (the pass cannot follow the file).
    """
    depth = 0
    in_string = 0
    base = offset
    last_byte = b""
    while block := f.read(_BLOCK):
        if b'\\"' in last_byte + block[:1] or b'\\"' in block:
            raise _UnsureError
        at, opens, depths, quotes = bracket_depths(block, depth, bool(in_string))
        if depths.size and int(depths.min()) < 0:
            raise _UnsureError
        yield block, base, base + at, opens, depths
        if depths.size:
            depth = int(depths[-1])
        in_string ^= quotes % 2
        base += len(block)
        last_byte = block[-1:]


class _UnsureError(Exception):
    """The pass cannot follow the file's structure (see :func:`_brackets`)."""
