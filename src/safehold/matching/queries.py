"""The storage reads the live matcher makes, each one short, indexed query.

Kept apart from :mod:`safehold.banks.service` so the matcher reads exactly the columns it needs
on its hot paths, and so 10M exact (md5/sha256) entries cost no memory: they are looked up by
value digest per query through the ``(signal_type, value_digest, bank_id)`` index.

* :func:`load_banks`: every bank's matching metadata (thresholds, enabled, match action,
  category), a few rows;
* :func:`entry_meta`: per-hit metadata of index hits (``IN (...)`` by primary key); a deleted
  entry is simply absent, so a hit on it is dropped;
* :func:`exact_entries`: the md5/sha256 look-up by digest; :func:`exact_entries_any` the
  same for several values at once (the expressions of a checked URL);
* :func:`memory_entries`: every enabled entry of a small signal type (vPDQ) with its value;
* :func:`head_sequence`, :func:`tombstones_since`, :func:`types_touched`: what
  :meth:`LiveMatcher.refresh` asks to follow the change log (beside the PDQ change feed).

Every function raises :class:`~safehold.errors.StorageError` when the database fails (messages
never quote row values: :func:`safehold.banks.rows.db_errors`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select

from safehold.banks.rows import db_errors
from safehold.matching.banks import BankInfo, BankView
from safehold.storage.tables import bank_entries, banks, changes, entry_tombstones, value_digest

#: Ids per ``IN (...)`` (under SQLite's 999 bound variables).
ID_CHUNK = 500


@dataclass(frozen=True, slots=True)
class EntryMeta:
    """What a match needs to know about a bank entry (never its hash value).

    Attributes:
        id: entry id.
        bank_id: the bank it belongs to (never changes).
        enabled: the entry's own enabled flag (its bank's is in :class:`BankInfo`).
        category: ``scheme:code`` or None.
        source: the entry's source text.
    """

    id: int
    bank_id: int
    enabled: bool
    category: str | None
    source: str


_META_COLUMNS = (
    bank_entries.c.id,
    bank_entries.c.bank_id,
    bank_entries.c.enabled,
    bank_entries.c.category_scheme,
    bank_entries.c.category_code,
    bank_entries.c.source,
)


def _meta(row: Any) -> EntryMeta:
    """An :class:`EntryMeta` from a row carrying the :data:`_META_COLUMNS`."""
    category = (
        f"{row.category_scheme}:{row.category_code}"
        if row.category_scheme is not None and row.category_code is not None
        else None
    )
    return EntryMeta(int(row.id), int(row.bank_id), bool(row.enabled), category, row.source or "")


def head_sequence(engine: Engine) -> int:
    """The newest change id (0 for a database without changes): one ``max(id)``."""
    with db_errors(), engine.connect() as c:
        return int(c.execute(select(func.coalesce(func.max(changes.c.id), 0))).scalar_one())


def load_banks(engine: Engine) -> BankView:
    """Every bank's matching metadata as a :class:`BankView` (one query, no entries)."""
    b = banks.c
    query = select(
        b.id,
        b.name,
        b.enabled,
        b.thresholds,
        b.match_action,
        b.category_scheme,
        b.category_code,
    )
    with db_errors(), engine.connect() as c:
        rows = c.execute(query).all()
    infos = [
        BankInfo(
            id=int(r.id),
            name=r.name,
            enabled=bool(r.enabled),
            thresholds={str(k): int(v) for k, v in (r.thresholds or {}).items()},
            match_action=r.match_action or "review",
            category=f"{r.category_scheme}:{r.category_code}"
            if r.category_scheme is not None and r.category_code is not None
            else None,
        )
        for r in rows
    ]
    return BankView.of(infos)


def entry_meta(engine: Engine, ids: Iterable[int]) -> dict[int, EntryMeta]:
    """The entries with these ids, by id; unknown (or deleted) ids are absent."""
    ordered = sorted(set(ids))
    found: dict[int, EntryMeta] = {}
    if not ordered:
        return found
    with db_errors(), engine.connect() as c:
        for start in range(0, len(ordered), ID_CHUNK):
            chunk = ordered[start : start + ID_CHUNK]
            query = select(*_META_COLUMNS).where(bank_entries.c.id.in_(chunk))
            found.update((m.id, m) for m in map(_meta, c.execute(query)))
    return found


def exact_entries(engine: Engine, signal_type: str, value: str) -> list[EntryMeta]:
    """Entries of ``signal_type`` holding exactly the canonical ``value`` (any bank, enabled
    or not), through the ``(signal_type, value_digest)`` index."""
    e = bank_entries.c
    query = select(*_META_COLUMNS, e.value).where(
        e.signal_type == signal_type, e.value_digest == value_digest(value)
    )
    with db_errors(), engine.connect() as c:
        return [_meta(r) for r in c.execute(query) if r.value == value]


def exact_entries_any(
    engine: Engine, signal_type: str, values: Sequence[str]
) -> list[tuple[str, EntryMeta]]:
    """``(value, entry)`` for the entries of ``signal_type`` holding any of the canonical
    ``values`` (any bank, enabled or not): one query over the ``(signal_type, value_digest)``
    index, e.g. the at most 30 expressions of a checked URL."""
    if not values:
        return []
    e = bank_entries.c
    wanted = set(values)
    query = select(*_META_COLUMNS, e.value).where(
        e.signal_type == signal_type, e.value_digest.in_([value_digest(v) for v in wanted])
    )
    with db_errors(), engine.connect() as c:
        return [(r.value, _meta(r)) for r in c.execute(query) if r.value in wanted]


def memory_entries(
    engine: Engine, signal_type: str
) -> tuple[list[tuple[int, str]], dict[int, EntryMeta]]:
    """Every enabled entry of ``signal_type`` (any bank): ``(id, value)`` pairs for an index
    and the metadata by id. For small signal types only (vPDQ): values are held in memory."""
    e = bank_entries.c
    query = (
        select(*_META_COLUMNS, e.value)
        .where(e.signal_type == signal_type, e.enabled.is_(True))
        .order_by(e.id)
    )
    pairs: list[tuple[int, str]] = []
    meta: dict[int, EntryMeta] = {}
    with db_errors(), engine.connect() as c:
        for row in c.execute(query):
            pairs.append((int(row.id), row.value))
            meta[int(row.id)] = _meta(row)
    return pairs, meta


def tombstones_since(engine: Engine, change_seq: int) -> list[tuple[int, str]]:
    """``(entry id, signal type)`` of entries deleted after ``change_seq``."""
    t = entry_tombstones.c
    query = select(t.entry_id, t.signal_type).where(t.change_seq > change_seq)
    with db_errors(), engine.connect() as c:
        return [(int(r.entry_id), r.signal_type) for r in c.execute(query)]


def types_touched(engine: Engine, change_seq: int, signal_types: Sequence[str]) -> set[str]:
    """Which of ``signal_types`` have entries added or changed after ``change_seq``."""
    if not signal_types:
        return set()
    e = bank_entries.c
    query = (
        select(e.signal_type)
        .where(e.change_seq > change_seq, e.signal_type.in_(list(signal_types)))
        .distinct()
    )
    with db_errors(), engine.connect() as c:
        return {r.signal_type for r in c.execute(query)}
