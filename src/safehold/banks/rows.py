"""Table rows to domain types, shared queries, the change log and database-error mapping.

Kept out of the service modules so they read as the interface they implement. Only the bank
service (and its change feed) use this module; the bulk insert lives in ``bulk_insert``.

**Change-log order.** ``changes.id`` is the change sequence that index replays and scan caches
key on, so a change numbered ``N`` must never become visible after a change numbered above
``N``: a reader that saw ``N + 1`` and replays "changes after ``N + 1``" would miss it. On
PostgreSQL ids come from a sequence when the row is inserted, while transactions commit in any
order, so every writer takes one transaction-scoped advisory lock
(:data:`CHANGE_LOG_LOCK`) before its ``changes`` row gets an id and holds it until commit:
change ids are assigned and committed in the same order. SQLite allows one writer at a time;
:func:`lock_change_log` starts the transaction with ``BEGIN IMMEDIATE`` so a writer's reads
(e.g. the bank-name check) are made under the write lock too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, func, insert, select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError

from safehold.banks.models import Bank, BankEntry, Category
from safehold.banks.validation import quote_name
from safehold.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    SafeholdError,
    StorageError,
)
from safehold.storage.tables import bank_entries, banks, changes, utcnow

#: Key of the PostgreSQL advisory lock serialising change-log writers: the ASCII bytes
#: ``shchglog`` read as a big-endian signed 64-bit integer. Any constant works as long as
#: every writer uses the same one and nothing else in the database uses it.
CHANGE_LOG_LOCK = int.from_bytes(b"shchglog", "big", signed=True)


@contextmanager
def db_errors(conflict: str | None = None) -> Iterator[None]:
    """Map database failures to Safehold errors, never quoting row values.

    Raises:
        ConflictError: an integrity violation (message ``conflict`` or a generic one).
        InvalidInputError: a value the database cannot hold (``DataError``: NUL characters
            in PostgreSQL text, numbers out of range).
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
    except DataError:
        # The value itself is unstorable (PostgreSQL refuses NUL in text, numbers out of
        # range): the caller's input is at fault, not the database.
        raise InvalidInputError(
            "a value cannot be stored or compared by the database "
            "(e.g. a NUL character or a number out of range)"
        ) from None
    except DBAPIError as exc:
        raise StorageError(f"database error ({type(exc.orig).__name__})") from None


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime (SQLite hands back naive UTC values)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def category_of(scheme: str | None, code: str | None) -> Category | None:
    """The :class:`Category` stored in a ``(category_scheme, category_code)`` column pair."""
    return Category(scheme, code) if scheme is not None and code is not None else None


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
        category=category_of(row.category_scheme, row.category_code),
        match_action=row.match_action,
        shared=bool(row.shared),
    )


def to_entry(row: Row[Any]) -> BankEntry:
    """Build a :class:`BankEntry` from a ``bank_entries`` row carrying ``bank_name``."""
    return BankEntry(
        id=row.id,
        bank_id=row.bank_id,
        bank_name=row.bank_name,
        signal_type=row.signal_type,
        value=row.value,
        quality=row.quality,
        category=category_of(row.category_scheme, row.category_code),
        source=row.source,
        note=row.note,
        added_at=as_utc(row.added_at),
        enabled=bool(row.enabled),
    )


def lock_change_log(c: Connection) -> None:
    """Serialise this transaction with every other change-log writer (see the module doc).

    Call it first thing in a writing transaction, before reading what the write depends on
    and before touching any row (taking it after a row lock could deadlock with a writer that
    holds the lock and wants the row). Taking it twice in one transaction is harmless.
    PostgreSQL: ``pg_advisory_xact_lock`` (released at commit or rollback). SQLite: ``BEGIN
    IMMEDIATE`` when no transaction is open yet (waits up to the busy timeout).
    """
    dialect = c.dialect.name
    if dialect == "postgresql":
        c.execute(select(func.pg_advisory_xact_lock(CHANGE_LOG_LOCK)))
    elif dialect == "sqlite":
        driver = c.connection.driver_connection
        if driver is not None and not getattr(driver, "in_transaction", True):
            c.exec_driver_sql("BEGIN IMMEDIATE")


def record_change(
    c: Connection,
    kind: str,
    *,
    bank_id: int | None = None,
    entry_id: int | None = None,
    count: int = 0,
) -> int:
    """Append one row to ``changes`` and return its id (the new change sequence).

    Takes :func:`lock_change_log` first, so the id is assigned under the lock and the
    change commits before any later-numbered one (the caller commits).
    """
    lock_change_log(c)
    stmt = (
        insert(changes)
        .values(kind=kind, bank_id=bank_id, entry_id=entry_id, count=count, changed_at=utcnow())
        .returning(changes.c.id)
    )
    return int(c.execute(stmt).scalar_one())


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
    """``banks`` rows with an ``entry_count`` column (all entries, enabled or not).

    The count is a correlated subquery, counted for each bank the query returns (its
    ``bank_id`` index): a join to entry counts grouped over the whole table made PostgreSQL
    count every bank's entries to show one (1.9 s at 8.3M entries, user test, session 6).
    """
    count = (
        select(func.count())
        .select_from(bank_entries)
        .where(bank_entries.c.bank_id == banks.c.id)
        .scalar_subquery()
    )
    return select(banks, count.label("entry_count"))


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
