"""The bulk insert of bank entries: the hot path of every import, per database backend.

Used by the bank service and the bulk loader (``bulk_load``) only. Rows arrive as *entry
parameters* (:data:`EntryParams`), plain tuples made off the database thread, with the SHA-256
value digest already computed; what is constant for a transaction (bank id, change sequence,
time, enabled) is written into the statement as a literal (integers and a formatted timestamp,
never text from a file), so only nine values are bound per row.

SQLite: one prepared statement through the driver's own ``executemany`` (no SQLAlchemy
per-row processing or events; values are validated before they get here). PostgreSQL: binary
``COPY`` into a staging table, then one ``INSERT ... SELECT ... ORDER BY`` input order.
Both skip duplicates with ``ON CONFLICT DO NOTHING`` on ``(signal_type, value_digest,
bank_id)``.

Entry ids are never reused, so an id in a match event, a tombstone or an API client's hands
names one entry forever. PostgreSQL sequences never go back; SQLite (without
``AUTOINCREMENT``) would hand out the id of a deleted newest row again, so on SQLite ids are
given explicitly (``first + ord``), above both the largest stored id and the largest tombstone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, func, select, update

from safehold.banks.models import Category, NewEntry
from safehold.banks.rows import record_change
from safehold.errors import StorageError
from safehold.storage.tables import bank_entries, changes, entry_tombstones, utcnow

_UNIQUE_ENTRY = "signal_type, value_digest, bank_id"
#: Columns bound per row, in :data:`EntryParams` order (after ``ord``).
_ROW_COLUMNS = (
    "signal_type", "value", "value_digest", "quality", "category_scheme", "category_code",
    "source", "note",
)  # fmt: skip
_CONSTANT_COLUMNS = ("bank_id", "added_at", "enabled", "change_seq")

#: ``(ord, signal_type, value, value_digest, quality, category_scheme, category_code, source,
#: note)``: one entry's bound values; ``ord`` numbers the rows of a batch from 0.
EntryParams = tuple[int, str, str, bytes, int | None, str | None, str | None, str, str]


def entry_params(
    rows: Iterable[tuple[str, str, int | None, Category | None, str, str]],
    default: Category | None,
) -> list[EntryParams]:
    """Parameters of validated rows ``(signal_type, value, quality, category, source, note)``
    (the fields of :class:`NewEntry`); rows without a category get ``default``.

    The value digest is SHA-256 of the UTF-8 value, as :func:`safehold.storage.tables.value_digest`.
    """
    sha256 = hashlib.sha256
    out: list[EntryParams] = []
    append = out.append
    for i, (signal_type, value, quality, category, source, note) in enumerate(rows):
        cat = category or default
        append(
            (
                i, signal_type, value, sha256(value.encode()).digest(), quality,
                cat.scheme if cat is not None else None, cat.code if cat is not None else None,
                source, note,
            )
        )  # fmt: skip
    return out


def _entry_tuple(e: NewEntry) -> tuple[str, str, int | None, Category | None, str, str]:
    return (e.signal_type, e.value, e.quality, e.category, e.source, e.note)


def entry_values(
    bank_id: int, entry: NewEntry, seq: int, default: Category | None
) -> dict[str, object]:
    """Column values of one validated entry, for a single-row ``insert(bank_entries)``."""
    params = entry_params([_entry_tuple(entry)], default)[0]
    values: dict[str, object] = dict(zip(_ROW_COLUMNS, params[1:], strict=True))
    values.update(bank_id=bank_id, added_at=utcnow(), enabled=True, change_seq=seq)
    return values


def next_sqlite_id(c: Connection) -> int:
    """The first entry id never used: above every stored entry and every tombstone."""
    top = select(func.coalesce(func.max(bank_entries.c.id), 0)).scalar_subquery()
    dead = select(func.coalesce(func.max(entry_tombstones.c.entry_id), 0)).scalar_subquery()
    return int(c.execute(select(func.max(top, dead))).scalar_one()) + 1


def _sqlite_time(c: Connection, now: datetime) -> str:
    """``now`` as SQLAlchemy's SQLite DATETIME type stores it (a string)."""
    process = bank_entries.c.added_at.type.dialect_impl(c.dialect).bind_processor(c.dialect)
    return str(process(now)) if process else now.isoformat(" ")


def _driver(c: Connection) -> object:
    driver = c.connection.driver_connection
    if driver is None:  # pragma: no cover - only after the connection was invalidated
        raise StorageError("the database connection was closed")
    return driver


def _insert_sqlite(c: Connection, bank_id: int, params: Sequence[EntryParams], seq: int) -> int:
    # One prepared statement, the driver's own executemany over plain tuples (SQLAlchemy's
    # per-row processing and events would cost more than the insert). pysqlite's executemany
    # rowcount is the number of rows actually inserted; a skipped duplicate leaves an id gap.
    first = next_sqlite_id(c)
    now = _sqlite_time(c, utcnow()).replace("'", "")
    sql = (
        f"INSERT INTO bank_entries (id, {', '.join(_ROW_COLUMNS)}, {', '.join(_CONSTANT_COLUMNS)})"
        f" VALUES (? + {int(first)}, {', '.join('?' * len(_ROW_COLUMNS))}, {int(bank_id)}, "
        f"'{now}', 1, {int(seq)}) ON CONFLICT ({_UNIQUE_ENTRY}) DO NOTHING"
    )
    cursor = _driver(c).cursor()  # type: ignore[attr-defined]
    try:
        cursor.executemany(sql, params)
        return int(cursor.rowcount)
    finally:
        cursor.close()


_PG_STAGING = "safehold_entry_params"
_PG_TYPES = ("int4", "varchar", "text", "bytea", "int2", "varchar", "varchar", "varchar", "text")
_PG_STAGING_DDL = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_PG_STAGING} ("
    "ord integer, signal_type varchar(32), value text, value_digest bytea, quality smallint, "
    "category_scheme varchar(64), category_code varchar(64), source varchar(200), note text"
    ") ON COMMIT DELETE ROWS"
)


def _insert_postgresql(c: Connection, bank_id: int, params: Sequence[EntryParams], seq: int) -> int:
    # Binary COPY into a per-session temporary staging table, then one INSERT ... SELECT ...
    # ON CONFLICT DO NOTHING in input order (ids follow the file). ON COMMIT
    # DELETE ROWS empties the staging table at commit; TRUNCATE between the batches of one
    # transaction.
    if c.dialect.driver != "psycopg":
        raise StorageError("PostgreSQL bulk loads need the psycopg driver (postgresql+psycopg)")
    columns = ", ".join(_ROW_COLUMNS)
    with _driver(c).cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute(_PG_STAGING_DDL)
        with cursor.copy(f"COPY {_PG_STAGING} (ord, {columns}) FROM STDIN (FORMAT BINARY)") as cp:
            cp.set_types(_PG_TYPES)
            write_row = cp.write_row
            for row in params:
                write_row(row)
        cursor.execute(
            f"INSERT INTO bank_entries ({columns}, {', '.join(_CONSTANT_COLUMNS)}) "
            f"SELECT {columns}, {int(bank_id)}, now(), true, {int(seq)} FROM {_PG_STAGING} "
            f"ORDER BY ord ON CONFLICT ({_UNIQUE_ENTRY}) DO NOTHING"
        )
        added = int(cursor.rowcount)
        cursor.execute(f"TRUNCATE {_PG_STAGING}")  # for the next batch of this transaction
        return added


def insert_params(c: Connection, bank_id: int, params: Sequence[EntryParams]) -> int:
    """Insert prepared entry parameters into bank ``bank_id``; return how many were added.

    Duplicates of stored entries (and repeats within ``params``) are skipped. One
    ``entries_added`` change is recorded when anything was added (the caller commits).

    Raises:
        StorageError: a database backend other than SQLite or PostgreSQL (via psycopg).
    """
    dialect = c.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise StorageError(
            f"database backend {dialect!r} is not supported (use SQLite or PostgreSQL)"
        )
    seq = record_change(c, "entries_added", bank_id=bank_id)
    if dialect == "sqlite":
        added = _insert_sqlite(c, bank_id, params, seq)
    else:
        added = _insert_postgresql(c, bank_id, params, seq)
    if added:
        c.execute(update(changes).where(changes.c.id == seq).values(count=added))
    else:
        c.execute(delete(changes).where(changes.c.id == seq))
    return added


def insert_entries(
    c: Connection,
    bank_id: int,
    batch: Sequence[NewEntry],
    *,
    default_category: Category | None = None,
) -> int:
    """Insert validated entries into bank ``bank_id``; return how many rows were added.

    Entries without a category get ``default_category`` (the bank's). Otherwise as
    :func:`insert_params`.

    Raises:
        StorageError: a database backend other than SQLite or PostgreSQL.
    """
    params = entry_params((_entry_tuple(e) for e in batch), default_category)
    return insert_params(c, bank_id, params)
