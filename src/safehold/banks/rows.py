"""Table rows to domain types and back, the bulk insert, queries, and database-error mapping.

Kept out of ``service`` so the service reads as the interface it implements. Only the service
uses this module.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from safehold.banks.models import Bank, BankEntry, Category, NewEntry
from safehold.banks.validation import quote_name
from safehold.errors import ConflictError, NotFoundError, SafeholdError, StorageError
from safehold.storage.tables import bank_entries, banks, changes, utcnow, value_digest

_UNIQUE_ENTRY = ["signal_type", "value_digest", "bank_id"]


@contextmanager
def db_errors(conflict: str | None = None) -> Iterator[None]:
    """Map database failures to Safehold errors, never quoting row values.

    Raises:
        ConflictError: an integrity violation (message ``conflict`` or a generic one).
        StorageError: any other database failure (first line of the driver's message for
            operational errors such as "database is locked"; only the error class otherwise,
            because driver messages can quote the values of the failing row).
    """
    try:
        yield
    except SafeholdError:
        raise
    except IntegrityError:
        raise ConflictError(conflict or "the change clashes with existing data") from None
    except OperationalError as exc:
        lines = str(exc.orig).strip().splitlines() or ["unknown error"]
        raise StorageError(f"database error: {lines[0]}") from None
    except DBAPIError as exc:
        raise StorageError(f"database error ({type(exc.orig).__name__})") from None


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime (SQLite hands back naive UTC values)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_bank(row: Row[Any]) -> Bank:
    """Build a :class:`Bank` from a ``banks`` row carrying an ``entry_count`` column."""
    return Bank(
        id=row.id,
        name=row.name,
        description=row.description,
        source=row.source,
        enabled=bool(row.enabled),
        created_at=as_utc(row.created_at),
        thresholds=dict(row.thresholds or {}),
        entry_count=int(row.entry_count),
        updated_at=as_utc(row.updated_at),
    )


def to_entry(row: Row[Any]) -> BankEntry:
    """Build a :class:`BankEntry` from a ``bank_entries`` row carrying ``bank_name``."""
    category = (
        Category(row.category_scheme, row.category_code)
        if row.category_scheme is not None and row.category_code is not None
        else None
    )
    return BankEntry(
        id=row.id,
        bank_id=row.bank_id,
        bank_name=row.bank_name,
        signal_type=row.signal_type,
        value=row.value,
        quality=row.quality,
        category=category,
        source=row.source,
        note=row.note,
        added_at=as_utc(row.added_at),
        enabled=bool(row.enabled),
    )


def record_change(
    c: Connection,
    kind: str,
    *,
    bank_id: int | None = None,
    entry_id: int | None = None,
    count: int = 0,
) -> int:
    """Append one row to ``changes`` and return its id (the new change sequence)."""
    stmt = (
        insert(changes)
        .values(kind=kind, bank_id=bank_id, entry_id=entry_id, count=count, changed_at=utcnow())
        .returning(changes.c.id)
    )
    return int(c.execute(stmt).scalar_one())


_ENTRY_COLUMNS = (
    "bank_id",
    "signal_type",
    "value",
    "value_digest",
    "quality",
    "category_scheme",
    "category_code",
    "source",
    "note",
    "added_at",
    "enabled",
    "change_seq",
)


def _entry_rows(
    bank_id: int, batch: Sequence[NewEntry], now: object, seq: int
) -> list[tuple[object, ...]]:
    """Parameter tuples in :data:`_ENTRY_COLUMNS` order."""
    return [
        (
            bank_id,
            e.signal_type,
            e.value,
            value_digest(e.value),
            e.quality,
            e.category.scheme if e.category else None,
            e.category.code if e.category else None,
            e.source,
            e.note,
            now,
            True,
            seq,
        )
        for e in batch
    ]


def _insert_sqlite(c: Connection, bank_id: int, batch: Sequence[NewEntry], seq: int) -> int:
    # The hot path of a bulk import: one prepared statement, plain tuples, the driver's own
    # executemany (SQLAlchemy's per-row parameter processing would cost ~40 % of the time).
    # pysqlite's executemany rowcount is the number of rows actually inserted.
    # Format the timestamp the way SQLAlchemy's SQLite DATETIME type stores it, once per batch.
    column_type = bank_entries.c.added_at.type.dialect_impl(c.dialect)
    process = column_type.bind_processor(c.dialect)
    now = process(utcnow()) if process else utcnow().isoformat(" ")
    sql = (
        f"INSERT INTO bank_entries ({', '.join(_ENTRY_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(_ENTRY_COLUMNS))}) "
        f"ON CONFLICT ({', '.join(_UNIQUE_ENTRY)}) DO NOTHING"
    )
    return int(c.exec_driver_sql(sql, _entry_rows(bank_id, batch, now, seq)).rowcount)


_PG_STAGING = "safehold_entry_staging"
_PG_STAGING_DDL = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_PG_STAGING} ("
    "ord integer, bank_id integer, signal_type varchar(32), value text, value_digest bytea, "
    "quality smallint, category_scheme varchar(64), category_code varchar(64), "
    "source varchar(200), note text, added_at timestamptz, enabled boolean, change_seq bigint"
    ") ON COMMIT DELETE ROWS"
)


def _insert_postgresql(c: Connection, bank_id: int, batch: Sequence[NewEntry], seq: int) -> int:
    # COPY into a per-session temporary staging table, then one INSERT ... SELECT ... ON
    # CONFLICT DO NOTHING: ~10x the rate of multi-row VALUES inserts. ON COMMIT DELETE ROWS
    # empties the staging table with each batch's commit. Other PostgreSQL drivers fall back to
    # SQLAlchemy's batched VALUES insert, counting inserted rows through RETURNING.
    rows = _entry_rows(bank_id, batch, utcnow(), seq)
    if c.dialect.driver != "psycopg":
        stmt = (
            postgresql.insert(bank_entries)
            .on_conflict_do_nothing(index_elements=_UNIQUE_ENTRY)
            .returning(bank_entries.c.id)
        )
        params = [dict(zip(_ENTRY_COLUMNS, row, strict=True)) for row in rows]
        return len(c.execute(stmt, params).all())
    columns = ", ".join(_ENTRY_COLUMNS)
    driver = c.connection.driver_connection
    if driver is None:  # pragma: no cover - only after the connection was invalidated
        raise StorageError("the database connection was closed")
    with driver.cursor() as cursor:
        cursor.execute(_PG_STAGING_DDL)
        with cursor.copy(f"COPY {_PG_STAGING} (ord, {columns}) FROM STDIN") as copy:
            for i, row in enumerate(rows):
                copy.write_row((i, *row))
        cursor.execute(
            f"INSERT INTO bank_entries ({columns}) SELECT {columns} FROM {_PG_STAGING} "
            f"ORDER BY ord ON CONFLICT ({', '.join(_UNIQUE_ENTRY)}) DO NOTHING"
        )
        return int(cursor.rowcount)


def insert_entries(c: Connection, bank_id: int, batch: Sequence[NewEntry]) -> int:
    """Insert validated entries into bank ``bank_id``; return how many rows were added.

    Duplicates of stored entries (and repeats within ``batch``) are skipped by
    ``INSERT ... ON CONFLICT DO NOTHING`` on the ``(signal_type, value_digest, bank_id)``
    unique constraint. One ``entries_added`` change is recorded when anything was added.

    Raises:
        StorageError: a database backend other than SQLite or PostgreSQL.
    """
    dialect = c.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise StorageError(
            f"database backend {dialect!r} is not supported (use SQLite or PostgreSQL)"
        )
    seq = record_change(c, "entries_added", bank_id=bank_id)
    if dialect == "sqlite":
        added = _insert_sqlite(c, bank_id, batch, seq)
    else:
        added = _insert_postgresql(c, bank_id, batch, seq)
    if added:
        c.execute(update(changes).where(changes.c.id == seq).values(count=added))
    else:
        c.execute(delete(changes).where(changes.c.id == seq))
    return added


def bank_name_is(name: str) -> ColumnElement[bool]:
    """WHERE clause selecting the bank called ``name``, ignoring case.

    Bank names are ASCII and unique ignoring case, so this matches at most one bank. A name
    with non-ASCII characters matches none (``str.lower`` would fold e.g. the Kelvin sign to
    ``k``).
    """
    return func.lower(banks.c.name) == (name.lower() if name.isascii() else name)


def bank_id_for(c: Connection, name: str) -> int:
    """Return the id of the bank called ``name`` (ignoring case).

    Raises:
        NotFoundError: no such bank.
    """
    bank_id = c.execute(select(banks.c.id).where(bank_name_is(name))).scalar()
    if bank_id is None:
        raise NotFoundError(f"no bank named {quote_name(name)}")
    return int(bank_id)


def banks_query() -> Select[Any]:
    """``banks`` rows with an ``entry_count`` column (all entries, enabled or not)."""
    counts = (
        select(bank_entries.c.bank_id, func.count().label("n"))
        .group_by(bank_entries.c.bank_id)
        .subquery()
    )
    return select(banks, func.coalesce(counts.c.n, 0).label("entry_count")).outerjoin(
        counts, counts.c.bank_id == banks.c.id
    )


def entries_query() -> Select[Any]:
    """``bank_entries`` rows with a ``bank_name`` column."""
    return select(bank_entries, banks.c.name.label("bank_name")).join(
        banks, banks.c.id == bank_entries.c.bank_id
    )


def entry_counts_query(bank_id: int) -> Select[Any]:
    """Enabled and disabled entry counts per (signal type, category) of one bank."""
    e = bank_entries.c
    return (
        select(
            e.signal_type,
            e.category_scheme,
            e.category_code,
            func.count().filter(e.enabled.is_(True)).label("enabled"),
            func.count().filter(e.enabled.is_(False)).label("disabled"),
        )
        .where(e.bank_id == bank_id)
        .group_by(e.signal_type, e.category_scheme, e.category_code)
        .order_by(e.signal_type, e.category_scheme, e.category_code)
    )
