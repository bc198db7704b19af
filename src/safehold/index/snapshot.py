"""Snapshots: an index saved to one file and opened again in seconds, or refused.

File layout (integers little-endian)::

    0   8   magic  b"SHIDXSNP"
    8   4   format version (uint32, FORMAT_VERSION)
    12  4   header length H (uint32)
    16  4   CRC-32 of the header bytes (zlib.crc32)
    20  4   CRC-32 of every byte from the payload start to the end of the file
    24  H   header: UTF-8 JSON (bits, change_seq, source, geometry, per-array offset, dtype
            and shape, payload size); zero bytes up to the payload start (64-byte aligned)
    ..      payload: per segment rows, id keys, skip and removed bitmaps, each table's
            two-level bucket offsets and entries; each array 64-byte aligned, gaps zero

Every byte is covered: the prefix by its own checks, the header by its CRC, the padding after
it must be zero, and the payload by its CRC. Loading verifies all of it (one pass at ~3 GB/s,
which also warms the page cache) before anything is used, then maps the arrays read-only with
``numpy.memmap`` (pages shared between processes; nothing is rebuilt). The kernel re-checks
each table's offsets and entries, so even an array that passed the CRC cannot make it read out
of bounds. Any failure raises :class:`~safehold.index.errors.SnapshotError`: callers rebuild
from storage and never search a snapshot they could not verify. CRC-32 detects corruption,
not tampering: snapshots live in Safehold's own data directory.

A snapshot records the bank change sequence it reflects (``change_seq``) and an opaque
``source`` (which database and signal type it was built from); ``load`` refuses a snapshot
whose source differs or whose sequence is ahead of storage (``max_change_seq``).
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from safehold.index.errors import SnapshotError
from safehold.index.geometry import TableSpec
from safehold.index.kernels import TableArrays
from safehold.index.segment import Segment
from safehold.index.state import Part, State

if TYPE_CHECKING:
    from safehold.index.binary import BinaryIndex

MAGIC = b"SHIDXSNP"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<8sIIII")
_ALIGN = 64
_CHUNK = 64 << 20


def _crc(data: npt.NDArray[np.uint8], crc: int = 0) -> int:
    for start in range(0, len(data), _CHUNK):
        crc = zlib.crc32(data[start : start + _CHUNK].data, crc)
    return crc


def _arrays(state: State) -> list[tuple[str, npt.NDArray[Any]]]:
    out: list[tuple[str, npt.NDArray[Any]]] = []
    for i, part in enumerate(state.parts):
        seg = part.segment
        out += [(f"{i}.rows", seg.rows), (f"{i}.ids", seg.id_keys)]
        out += [(f"{i}.skip", part.skip), (f"{i}.removed", part.removed)]
        for j, t in enumerate(seg.tables):
            out += [
                (f"{i}.t{j}.hi", t.hi),
                (f"{i}.t{j}.lo", t.lo),
                (f"{i}.t{j}.entries", t.entries),
            ]
    return out


def save(index: BinaryIndex, path: Path, change_seq: int, *, source: str = "") -> None:
    """Write ``index``'s current state to ``path`` atomically (temp file, fsync, rename).

    Args:
        change_seq: the bank change sequence the index reflects.
        source: opaque identity of what the index was built from (checked by ``load``).
    """
    state = index.state
    arrays = _arrays(state)
    table: dict[str, dict[str, Any]] = {}
    pos = 0
    for name, arr in arrays:
        table[name] = {
            "offset": pos,
            "dtype": arr.dtype.str,
            "shape": list(arr.shape),
        }
        pos += -(-arr.nbytes // _ALIGN) * _ALIGN
    parts = [
        {
            "n": p.segment.n,
            "id_base": p.segment.id_base,
            "tables": [
                [t.start, t.width, t.k, t.s, a.shift]
                for t, a in zip(p.segment.specs, p.segment.tables, strict=True)
            ],
        }
        for p in state.parts
    ]
    header_obj = {
        "bits": index.bits,
        "change_seq": int(change_seq),
        "source": source,
        "config": {"tables": index.config.tables, "key_bits": index.config.key_bits},
        "parts": parts,
        "arrays": table,
        "payload_bytes": pos,
    }
    header = json.dumps(header_obj, sort_keys=True).encode()
    start = -(-(_PREFIX.size + len(header)) // _ALIGN) * _ALIGN
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with tmp.open("wb") as f:
            f.write(_PREFIX.pack(MAGIC, FORMAT_VERSION, len(header), zlib.crc32(header), 0))
            f.write(header)
            f.write(bytes(start - _PREFIX.size - len(header)))
            crc, written = 0, 0
            for name, arr in arrays:
                gap = bytes(table[name]["offset"] - written)
                data = np.ascontiguousarray(arr).reshape(-1).view(np.uint8)
                crc = _crc(data, zlib.crc32(gap, crc))
                f.write(gap)
                f.write(data.data)
                written += len(gap) + len(data)
            tail = bytes(pos - written)
            f.write(tail)
            crc = zlib.crc32(tail, crc)
            f.seek(0)
            f.write(_PREFIX.pack(MAGIC, FORMAT_VERSION, len(header), zlib.crc32(header), crc))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _fail(message: str, reason: str) -> SnapshotError:
    return SnapshotError(f"index snapshot unusable: {message}", reason)


def read_header(path: Path) -> tuple[dict[str, Any], int]:
    """Return ``(header, payload start)`` once every byte of the file checked out.

    Raises:
        SnapshotError: reasons ``missing``, ``magic``, ``version``, ``header``,
            ``truncated``, ``checksum``.
    """
    try:
        with path.open("rb") as f:
            prefix = f.read(_PREFIX.size)
            if len(prefix) < _PREFIX.size:
                raise _fail("file too short", "truncated")
            magic, version, hlen, hcrc, pcrc = _PREFIX.unpack(prefix)
            if magic != MAGIC:
                raise _fail("not a Safehold index snapshot", "magic")
            if version != FORMAT_VERSION:
                raise _fail(f"format version {version}, expected {FORMAT_VERSION}", "version")
            raw = f.read(hlen)
            size = os.fstat(f.fileno()).st_size
            start = -(-(_PREFIX.size + len(raw)) // _ALIGN) * _ALIGN
            pad = f.read(max(0, start - _PREFIX.size - len(raw)))
    except FileNotFoundError:
        raise _fail(f"{path.name} does not exist", "missing") from None
    except OSError as exc:
        raise _fail(f"cannot read {path.name}: {exc.strerror}", "missing") from None
    if len(raw) != hlen:
        raise _fail("header cut short", "truncated")
    if zlib.crc32(raw) != hcrc:
        raise _fail("header checksum mismatch", "header")
    try:
        header = json.loads(raw)
    except ValueError:
        raise _fail("header is not valid JSON", "header") from None
    if any(pad):
        raise _fail("header padding is not zero", "header")
    try:
        expected = start + int(header["payload_bytes"])
    except (KeyError, TypeError, ValueError):
        raise _fail("header lacks the payload size", "header") from None
    if size != expected:
        raise _fail(f"file is {size} bytes, header says {expected}", "truncated")
    if expected > start:
        payload = np.memmap(path, dtype=np.uint8, mode="r", offset=start, shape=(size - start,))
        ok = _crc(payload) == pcrc
        del payload
    else:
        ok = pcrc == 0
    if not ok:
        raise _fail("payload checksum mismatch", "checksum")
    return header, start


def peek_change_seq(path: Path) -> int | None:
    """The change sequence a snapshot's header records, without reading its payload.

    Only the prefix and the header (with its CRC) are checked: the answer says which
    sequence to check storage against, never that the snapshot is usable (:func:`load`
    decides that). None when the file is missing or its header unreadable.
    """
    try:
        with path.open("rb") as f:
            prefix = f.read(_PREFIX.size)
            if len(prefix) < _PREFIX.size:
                return None
            magic, version, hlen, hcrc, _ = _PREFIX.unpack(prefix)
            if magic != MAGIC or version != FORMAT_VERSION:
                return None
            raw = f.read(hlen)
    except OSError:
        return None
    if len(raw) != hlen or zlib.crc32(raw) != hcrc:
        return None
    try:
        seq = json.loads(raw)["change_seq"]
    except (ValueError, KeyError, TypeError):
        return None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def _open_array(path: Path, start: int, spec: dict[str, Any], mmap: bool) -> npt.NDArray[Any]:
    dtype = np.dtype(spec["dtype"])
    shape = tuple(int(x) for x in spec["shape"])
    offset = start + int(spec["offset"])
    count = int(np.prod(shape)) if shape else 1
    if count == 0:
        return np.empty(shape, dtype=dtype)
    if mmap:
        arr: npt.NDArray[Any] = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
    else:
        with path.open("rb") as f:
            f.seek(offset)
            arr = np.fromfile(f, dtype=dtype, count=count).reshape(shape)
    return arr


def load(
    path: Path,
    *,
    bits: int | None = None,
    source: str | None = None,
    max_change_seq: int | None = None,
    mmap: bool = True,
    **options: Any,
) -> tuple[BinaryIndex, int]:
    """Open the snapshot at ``path``; returns ``(index, change_seq)``.

    Args:
        bits: expected hash width (None: any).
        source: expected source identity (None: any).
        max_change_seq: storage's current change sequence; a snapshot ahead of it is stale.
        mmap: memory-map the arrays (default) instead of reading them into memory.
        options: :class:`BinaryIndex` housekeeping options (``flat_limit``, ...); the
            table geometry always comes from the file.

    Raises:
        SnapshotError: missing, corrupt, truncated, other version, other bits/source (reason
            ``mismatch``) or ahead of storage (reason ``stale``).
    """
    from safehold.index.binary import BinaryIndex

    header, start = read_header(path)
    try:
        snap_bits, seq = int(header["bits"]), int(header["change_seq"])
        if bits is not None and snap_bits != bits:
            raise _fail(f"snapshot holds {snap_bits}-bit hashes, expected {bits}", "mismatch")
        if source is not None and header["source"] != source:
            raise _fail("snapshot was built from another source", "mismatch")
        if max_change_seq is not None and seq > max_change_seq:
            raise _fail("snapshot is ahead of storage's change sequence", "stale")
        cfg = header["config"]
        options.update(tables=cfg["tables"], key_bits=cfg["key_bits"])  # the file's geometry
        index = BinaryIndex(snap_bits, **options)
        arrays = header["arrays"]
        parts = []
        for i, meta in enumerate(header["parts"]):
            n, words = int(meta["n"]), snap_bits // 64

            def get(name: str, dtype: str, shape: tuple[int, ...], i: int = i) -> npt.NDArray[Any]:
                spec = arrays[f"{i}.{name}"]
                if np.dtype(spec["dtype"]) != np.dtype(dtype) or tuple(spec["shape"]) != shape:
                    raise _fail(f"array {i}.{name} has the wrong shape or type", "header")
                return _open_array(path, start, spec, mmap)

            specs = tuple(TableSpec(*map(int, t[:4])) for t in meta["tables"])
            shifts = [int(t[4]) for t in meta["tables"]]
            id_dtype = np.dtype(arrays[f"{i}.ids"]["dtype"])
            if id_dtype not in (np.dtype(np.uint32), np.dtype(np.int64)):
                raise _fail("id keys of an unknown type", "header")
            nb = (n + 7) // 8
            tables = tuple(
                TableArrays(
                    shift,
                    get(f"t{j}.hi", "<u4", (((1 << t.k) >> shift) + 1,)),
                    get(f"t{j}.lo", "<u2", ((1 << t.k) + 1,)),
                    get(f"t{j}.entries", "<u4", (n,)),
                )
                for j, (t, shift) in enumerate(zip(specs, shifts, strict=True))
            )
            segment = Segment.from_arrays(
                snap_bits,
                get("rows", "<u8", (n, words)),
                get("ids", id_dtype.str, (n,)),
                int(meta["id_base"]),
                specs,
                tables,
            )
            parts.append(Part(segment, get("skip", "|u1", (nb,)), get("removed", "|u1", (nb,))))
    except SnapshotError:
        raise
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise _fail(f"inconsistent snapshot ({type(exc).__name__})", "header") from None
    index._publish(State(tuple(parts)))
    return index, seq
