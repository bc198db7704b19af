"""The bulk insert of bank entries: the hot path of every import, per database backend.

Used by the bank service and the bulk loader (``bulk_load``) only. Rows arrive as *entry
parameters* (:data:`EntryParams`), plain tuples made off the database thread, with the SHA-256
value digest already computed; what is constant for a transaction (bank id, change sequence,
time, enabled) is written into the statement as a literal (integers and a formatted timestamp,
never text from a file), so only nine values are bound per row.

Rows are first *staged* in a temporary table of the connection (SQLite: the driver's own
``executemany`` over plain tuples, no SQLAlchemy per-row processing; PostgreSQL: binary
``COPY``), then moved into ``bank_entries`` by one ``INSERT ... SELECT ... ORDER BY``, which
skips duplicates with ``ON CONFLICT DO NOTHING`` on ``(signal_type, value_digest, bank_id)``.
Bulk loads (imports, exchange fetches) move rows in the unique key's order (:data:`KEY_ORDER`),
which fills that index page by page instead of at a random page per row (5M random rows into
SQLite: 1.3x faster than input order; PostgreSQL, 2M rows: 1.3x), so the ids of one
transaction's rows follow the key, not the file; transactions follow the file. Other inserts
keep the order given (:data:`INPUT_ORDER`). Large SQLite imports stage in a parser process
(``banks.parse_process``).

Entry ids are never reused, so an id in a match event, a tombstone or an API client's hands
names one entry forever. PostgreSQL sequences never go back; SQLite (without
``AUTOINCREMENT``) would hand out the id of a deleted newest row again, so on SQLite ids are
given explicitly, above both the largest stored id and the largest tombstone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, func, select, update

from safehold.banks.models import Category, NewEntry
from safehold.banks.rows import record_change
from safehold.errors import StorageError
from safehold.storage.tables import bank_entries, changes, entry_tombstones, utcnow

_UNIQUE_ENTRY = "signal_type, value_digest, bank_id"
#: The unique key within one bank (the leading columns of :data:`KEY_ORDER`).
_UNIQUE_KEY = "signal_type, value_digest"
#: Columns bound per row, in :data:`EntryParams` order (after ``ord``).
_ROW_COLUMNS = (
    "signal_type", "value", "value_digest", "quality", "category_scheme", "category_code",
    "source", "note",
)  # fmt: skip
_CONSTANT_COLUMNS = ("bank_id", "added_at", "enabled", "change_seq")

#: ``(ord, signal_type, value, value_digest, quality, category_scheme, category_code, source,
#: note)``: one entry's bound values; ``ord`` numbers the rows of a batch from 0.
EntryParams = tuple[int, str, str, bytes, int | None, str | None, str | None, str, str]


def param_batches(
    rows: Iterable[tuple[str, str, int | None, Category | None, str, str]],
    default: Category | None,
    size: int,
) -> Iterator[list[EntryParams]]:
    """Parameters of validated rows ``(signal_type, value, quality, category, source, note)``
    (the fields of :class:`NewEntry`) in lists of at most ``size``, in input order; ``ord``
    numbers all rows from 0 (so of two rows with one key the first is kept). Rows without a
    category get ``default``. One pass: in a bulk load this loop runs once per row.

    The value digest is SHA-256 of the UTF-8 value, as :func:`safehold.storage.tables.value_digest`.
    """
    sha256 = hashlib.sha256
    default_scheme, default_code = (default.scheme, default.code) if default else (None, None)
    batch: list[EntryParams] = []
    for number, (signal_type, value, quality, category, source, note) in enumerate(rows):
        if category is None:
            scheme, code = default_scheme, default_code
        else:
            scheme, code = category.scheme, category.code
        batch.append(
            (
                number, signal_type, value, sha256(value.encode()).digest(), quality,
                scheme, code, source, note,
            )
        )  # fmt: skip
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def entry_params(
    rows: Iterable[tuple[str, str, int | None, Category | None, str, str]],
    default: Category | None,
) -> list[EntryParams]:
    """:func:`param_batches` of ``rows`` as one list."""
    return [p for batch in param_batches(rows, default, 1 << 62) for p in batch]


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


#: The staging table of an SQLite load (in ``temp``, or in a staging file a parser process
#: wrote: ``banks.parse_process``); columns in :data:`EntryParams` order.
SQLITE_STAGE_TABLE = "safehold_stage"
_SQLITE_STAGE_DDL = (
    "CREATE TABLE IF NOT EXISTS {schema}." + SQLITE_STAGE_TABLE + " (ord INTEGER, "
    "signal_type TEXT, value TEXT, value_digest BLOB, quality INTEGER, category_scheme TEXT, "
    "category_code TEXT, source TEXT, note TEXT)"
)
#: The order bulk loads move rows into ``bank_entries`` in (and so their ids, within one
#: transaction): the unique key's, so its index is filled page by page instead of at a random
#: page per row; then ``ord``, so of two rows with one key the first in the input is kept.
KEY_ORDER = "signal_type, value_digest, ord"
#: The order of every other insert: as given (``ord`` numbers the staged rows).
INPUT_ORDER = "ord"
#: The order of a staging table written in key order already (a parser process sorts its
#: staging file: ``banks.parse_worker``): its rowid.
STAGED_ORDER = "rowid"


def _order(order: str) -> str:
    if order not in (KEY_ORDER, INPUT_ORDER, STAGED_ORDER):
        raise ValueError(f"unknown insert order {order!r}")
    return order


def stage_sqlite(cursor: object, params: Sequence[EntryParams], schema: str = "temp") -> None:
    """Append ``params`` to the staging table in SQLite schema ``schema`` (created if needed)
    through the DB-API ``cursor`` (the driver's own ``executemany``)."""
    cursor.execute(_SQLITE_STAGE_DDL.format(schema=schema))  # type: ignore[attr-defined]
    cursor.executemany(  # type: ignore[attr-defined]
        f"INSERT INTO {schema}.{SQLITE_STAGE_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", params
    )


def insert_staged_sqlite(
    c: Connection, bank_id: int, seq: int, schema: str = "temp", order: str = INPUT_ORDER
) -> int:
    """Move the rows staged in SQLite schema ``schema`` into bank ``bank_id`` in ``order``
    (change ``seq``); return how many were added (duplicates skipped). The staging table is
    emptied.

    SQLite (without ``AUTOINCREMENT``) numbers new rows from the largest stored id, which
    would give a deleted newest row's id again; when a tombstone lies above every entry, ids
    are given explicitly from :func:`next_sqlite_id`, numbered in ``order``. Either way ids
    follow ``order``; a skipped duplicate may leave a gap. ``WHERE true`` keeps the upsert's
    ``ON`` from parsing as a join (https://sqlite.org/lang_upsert.html, "Parsing Ambiguity").
    """
    stored = c.execute(select(func.coalesce(func.max(bank_entries.c.id), 0))).scalar_one()
    first = next_sqlite_id(c)
    now = _sqlite_time(c, utcnow()).replace("'", "")
    columns = ", ".join(_ROW_COLUMNS)
    if first == int(stored) + 1:  # SQLite's own next rowid is new: let it number the rows
        id_column, id_value = "", ""
    else:  # a tombstone above every entry: number from ``first`` (1.4x slower, measured)
        id_column = "id, "
        id_value = f"{int(first) - 1} + row_number() OVER (ORDER BY {_order(order)}), "
    cursor = _driver(c).cursor()  # type: ignore[attr-defined]
    try:
        cursor.execute(_SQLITE_STAGE_DDL.format(schema=schema))
        cursor.execute(
            f"INSERT INTO bank_entries ({id_column}{columns}, {', '.join(_CONSTANT_COLUMNS)}) "
            f"SELECT {id_value}{columns}, {int(bank_id)}, '{now}', 1, {int(seq)} "
            f"FROM {schema}.{SQLITE_STAGE_TABLE} WHERE true ORDER BY {_order(order)} "
            f"ON CONFLICT ({_UNIQUE_ENTRY}) DO NOTHING"
        )
        added = int(cursor.rowcount)
        cursor.execute(f"DELETE FROM {schema}.{SQLITE_STAGE_TABLE}")
        return added
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


def _stage_postgresql(c: Connection, params: Sequence[EntryParams]) -> None:
    # Binary COPY into a per-session temporary staging table (ON COMMIT DELETE ROWS).
    if c.dialect.driver != "psycopg":
        raise StorageError("PostgreSQL bulk loads need the psycopg driver (postgresql+psycopg)")
    with _driver(c).cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute(_PG_STAGING_DDL)
        columns = ", ".join(_ROW_COLUMNS)
        with cursor.copy(f"COPY {_PG_STAGING} (ord, {columns}) FROM STDIN (FORMAT BINARY)") as cp:
            cp.set_types(_PG_TYPES)
            write_row = cp.write_row
            for row in params:
                write_row(row)


def _insert_staged_postgresql(
    c: Connection, bank_id: int, seq: int, order: str, new_keys: bool
) -> int:
    # One INSERT ... SELECT ... ON CONFLICT DO NOTHING in ``order`` (ids from the sequence
    # follow it), then TRUNCATE for the next batch of this transaction. With ``new_keys`` a
    # plain INSERT of the first row per key (DISTINCT ON) instead: see insert_staged.
    if c.dialect.driver != "psycopg":
        raise StorageError("PostgreSQL bulk loads need the psycopg driver (postgresql+psycopg)")
    columns = ", ".join(_ROW_COLUMNS)
    select_rows = f"SELECT {columns}, {int(bank_id)}, now(), true, {int(seq)} FROM {_PG_STAGING}"
    if new_keys:
        select_rows = select_rows.replace("SELECT", f"SELECT DISTINCT ON ({_UNIQUE_KEY})", 1)
        conflict = ""
    else:
        conflict = f" ON CONFLICT ({_UNIQUE_ENTRY}) DO NOTHING"
    with _driver(c).cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute(_PG_STAGING_DDL)
        cursor.execute(
            f"INSERT INTO bank_entries ({columns}, {', '.join(_CONSTANT_COLUMNS)}) "
            f"{select_rows} ORDER BY {_order(order)}{conflict}"
        )
        added = int(cursor.rowcount)
        cursor.execute(f"TRUNCATE {_PG_STAGING}")
        return added


def _backend(c: Connection) -> str:
    dialect = c.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise StorageError(
            f"database backend {dialect!r} is not supported (use SQLite or PostgreSQL)"
        )
    return dialect


def stage_params(c: Connection, params: Sequence[EntryParams]) -> None:
    """Stage prepared entry parameters on ``c`` (a temporary table of this connection) for
    :func:`insert_staged`; several batches may be staged before one insert.

    Raises:
        StorageError: a database backend other than SQLite or PostgreSQL (via psycopg).
    """
    if _backend(c) == "sqlite":
        cursor = _driver(c).cursor()  # type: ignore[attr-defined]
        try:
            stage_sqlite(cursor, params)
        finally:
            cursor.close()
    else:
        _stage_postgresql(c, params)


def insert_staged(
    c: Connection,
    bank_id: int,
    schema: str = "temp",
    order: str = INPUT_ORDER,
    *,
    new_keys: bool = False,
) -> int:
    """Move every staged row into bank ``bank_id``; return how many were added.

    Rows enter in ``order`` (:data:`INPUT_ORDER`, or :data:`KEY_ORDER` for bulk loads), and
    their ids follow it. Duplicates of stored entries (and repeats among the staged rows) are
    skipped. One ``entries_added`` change is recorded when anything was added (the caller commits).
    ``schema``: SQLite only, the schema holding the staging table (``temp``, or a staging file
    a parser process wrote and the caller attached: ``banks.parse_process``).

    ``new_keys`` (PostgreSQL, with :data:`KEY_ORDER`): the caller knows that no staged row's
    key is stored in the bank, so the first row of each key goes in by a plain ``INSERT``
    (``DISTINCT ON`` the key, first in ``ord``) instead of ``ON CONFLICT DO NOTHING``, whose
    speculative insertion searches the unique index twice per row (server time, 5M rows into a
    new bank: 1.4-1.6x less). Should a row's key be stored after all (another writer added it
    meanwhile), the insert fails with a unique violation; the caller must hold a savepoint to
    roll back to and insert again without ``new_keys`` (``bulk_load`` does). SQLite ignores it
    (its insert searches the index once either way).

    Raises:
        StorageError: a database backend other than SQLite or PostgreSQL (via psycopg).
        psycopg.errors.UniqueViolation: ``new_keys`` was wrong (see above).
    """
    if _backend(c) == "sqlite":
        return _as_change(
            c, bank_id, lambda seq: insert_staged_sqlite(c, bank_id, seq, schema, order)
        )
    if new_keys and order != KEY_ORDER:
        raise ValueError("new_keys needs KEY_ORDER (the first row of each key is kept)")
    return _as_change(
        c, bank_id, lambda seq: _insert_staged_postgresql(c, bank_id, seq, order, new_keys)
    )


def insert_params(c: Connection, bank_id: int, params: Sequence[EntryParams]) -> int:
    """Insert prepared entry parameters into bank ``bank_id`` (:func:`stage_params`, then
    :func:`insert_staged`); return how many were added.

    Raises:
        StorageError: a database backend other than SQLite or PostgreSQL (via psycopg).
    """
    stage_params(c, params)
    return insert_staged(c, bank_id)


def _as_change(c: Connection, bank_id: int, insert: Callable[[int], int]) -> int:
    """Run ``insert(change_seq)`` under a new ``entries_added`` change: the change keeps the
    number added, or is removed when nothing was."""
    seq = record_change(c, "entries_added", bank_id=bank_id)
    added = insert(seq)
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
