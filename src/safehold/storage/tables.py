"""SQLAlchemy 2 tables for banks, bank entries and the change log.

The schema is the single source of truth for the Alembic migrations in ``migrations/versions``
(a test compares the two on SQLite and PostgreSQL). Design notes are in
``docs/decisions/0001-storage.md``; in short:

* ``bank_entries.value`` holds the canonical signal string (lower-case hex, or multi-line vPDQ
  text). Uniqueness and exact look-ups go through ``value_digest`` (SHA-256 of the UTF-8 value,
  32 bytes) in the unique index ``(signal_type, value_digest, bank_id)``, so no index ever
  covers the potentially large text column.
* ``changes`` is an append-only log; its ``id`` is the change sequence. Each entry row carries
  the ``change_seq`` of the change that last touched it, so a consumer holding sequence ``N``
  can fetch just the entries changed after ``N``.
* Timestamps are stored in UTC (SQLite returns them naive; the service layer re-attaches UTC).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Deterministic constraint names, identical on every backend (Alembic needs names to alter or
# drop constraints later; SQLite would otherwise leave them anonymous).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# 64-bit ids on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the auto-incrementing rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")

NAME_LENGTH = 100
SIGNAL_TYPE_LENGTH = 32
CATEGORY_PART_LENGTH = 64
SOURCE_LENGTH = 200


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def value_digest(value: str) -> bytes:
    """Return the 32-byte SHA-256 digest of a canonical signal value (UTF-8).

    Used for the unique constraint and exact lookups instead of indexing ``value`` itself.
    """
    return hashlib.sha256(value.encode("utf-8")).digest()


class Base(DeclarativeBase):
    """Declarative base carrying the shared metadata and naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {  # noqa: RUF012 (SQLAlchemy's documented idiom)
        datetime: DateTime(timezone=True),
    }


class BankRow(Base):
    """A bank: a named hash list with its source and per-signal-type thresholds."""

    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(SOURCE_LENGTH), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # {signal_type: distance threshold}; absent types use the signal type's default.
    thresholds: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)


class BankEntryRow(Base):
    """One signal in one bank."""

    __tablename__ = "bank_entries"
    __table_args__ = (
        # Leading (signal_type, value_digest) makes this one index serve both uniqueness per
        # bank and exact look-ups across banks; a second random-order index would halve
        # bulk-insert speed on SQLite.
        UniqueConstraint("signal_type", "value_digest", "bank_id"),
        Index(None, "bank_id"),
        Index(None, "change_seq"),
        CheckConstraint(
            "(category_scheme IS NULL) = (category_code IS NULL)", name="category_pair"
        ),
        CheckConstraint("quality IS NULL OR (quality >= 0 AND quality <= 100)", name="quality"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    signal_type: Mapped[str] = mapped_column(String(SIGNAL_TYPE_LENGTH))
    value: Mapped[str] = mapped_column(Text)
    value_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    quality: Mapped[int | None] = mapped_column(SmallInteger)
    category_scheme: Mapped[str | None] = mapped_column(String(CATEGORY_PART_LENGTH))
    category_code: Mapped[str | None] = mapped_column(String(CATEGORY_PART_LENGTH))
    source: Mapped[str] = mapped_column(String(SOURCE_LENGTH), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    change_seq: Mapped[int] = mapped_column(BigInteger)


class ChangeRow(Base):
    """One bank or entry change; ``id`` is the monotonically growing change sequence.

    ``kind`` is one of :data:`CHANGE_KINDS`; ``entry_id`` is set for single-entry changes and
    ``count`` is the number of entries a bulk change touched.
    """

    __tablename__ = "changes"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 (never reuse a sequence)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    bank_id: Mapped[int | None] = mapped_column(Integer)
    entry_id: Mapped[int | None] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


CHANGE_KINDS = (
    "bank_created",
    "bank_updated",
    "entries_added",
    "entry_enabled",
    "entry_disabled",
)

# Core handles for the service layer's bulk statements (typed as Table for mypy).
banks = cast(Table, BankRow.__table__)
bank_entries = cast(Table, BankEntryRow.__table__)
changes = cast(Table, ChangeRow.__table__)
