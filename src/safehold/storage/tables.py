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
    Double,
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
    false,
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
#: Longest conversation or message id (``grooming.model.MAX_ID_CHARS``).
ID_LENGTH = 200


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
    # The bank's category (with its scheme): given to entries added without one of their own.
    category_scheme: Mapped[str | None] = mapped_column(String(CATEGORY_PART_LENGTH))
    category_code: Mapped[str | None] = mapped_column(String(CATEGORY_PART_LENGTH))
    # What an untrusted caller is told to do on a match in this bank: review or block.
    match_action: Mapped[str] = mapped_column(String(16), default="review")
    # Federation (``exchanges.federation_feed``): the bank is published to peers; shared_seq is
    # the change that last opted it in or out (None: never shared).
    shared: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    shared_seq: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint(
            "(category_scheme IS NULL) = (category_code IS NULL)", name="category_pair"
        ),
    )


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
    # No foreign key (revision 0007): writers check the bank under the change-log lock and
    # deleting a bank deletes its entries; a per-row key check slowed PostgreSQL bulk loads.
    bank_id: Mapped[int] = mapped_column(Integer)
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


class EntryTombstoneRow(Base):
    """A deleted bank entry, kept so index replays can remove it (``change_seq`` of the delete).

    Deleting a bank writes one tombstone per entry with one ``INSERT ... SELECT``.
    """

    __tablename__ = "entry_tombstones"
    __table_args__ = (Index(None, "change_seq"),)

    entry_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    signal_type: Mapped[str] = mapped_column(String(SIGNAL_TYPE_LENGTH))
    change_seq: Mapped[int] = mapped_column(BigInteger)
    # The deleted entry's bank (None for tombstones older than revision 0006).
    bank_id: Mapped[int | None] = mapped_column(Integer)


class ApiKeyRow(Base):
    """An API key of the HTTP service. Only the SHA-256 digest of the secret is stored.

    ``prefix`` is the public, non-secret start of the key (shown in listings and logs);
    ``scopes`` is a space-separated subset of ``admin curator matcher client peer``;
    ``rate_limit`` is requests per second (None: the settings' default).
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    scopes: Mapped[str] = mapped_column(String(100))
    rate_limit: Mapped[float | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class MatchEventRow(Base):
    """One match the service reported: which entry matched which submitted content, when.

    ``content_ref`` is the caller's own identifier of the content (may be empty);
    ``api_key_id`` the key that asked (None for local callers such as scans or streams).
    """

    __tablename__ = "match_events"
    __table_args__ = (Index(None, "created_at"), Index(None, "bank_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    bank_id: Mapped[int] = mapped_column(Integer)
    entry_id: Mapped[int] = mapped_column(BigInteger)
    signal_type: Mapped[str] = mapped_column(String(SIGNAL_TYPE_LENGTH))
    distance: Mapped[int] = mapped_column(Integer)
    content_ref: Mapped[str] = mapped_column(String(SOURCE_LENGTH), default="")
    origin: Mapped[str] = mapped_column(String(32), default="api")
    api_key_id: Mapped[int | None] = mapped_column(Integer)


class BankActionRow(Base):
    """An action run for every match in a bank; today ``kind`` is ``webhook``.

    ``secret`` signs each delivery (HMAC-SHA256); it is shown once when the action is made.
    """

    __tablename__ = "bank_actions"
    __table_args__ = (Index(None, "bank_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32), default="webhook")
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxRow(Base):
    """One delivery owed to an action, written in the same transaction as its match event.

    ``status``: ``pending`` -> ``delivered`` or ``dead`` (after ``max_attempts``). A deliverer
    claims a row by setting ``claimed_until`` (a lease); a crashed deliverer's lease runs out
    and another one retries with the same ``id``, which receivers use to drop duplicates.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index(None, "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("bank_actions.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column()
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()


class ConversationRow(Base):
    """A monitored conversation's grooming state (``safehold.grooming.store``).

    ``state`` is the JSON evidence of the streaming monitor (indicators, message ids, counts),
    never the message texts; ``version`` counts appends. ``score``/``action`` copy the risk.
    """

    __tablename__ = "conversations"
    __table_args__ = (Index(None, "updated_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(ID_LENGTH), unique=True)
    state: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=0)
    messages_read: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[float] = mapped_column(Double, default=0.0)
    action: Mapped[str] = mapped_column(String(16), default="none")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConversationMessageRow(Base):
    """The id of a message appended to a conversation (duplicates are refused); no text."""

    __tablename__ = "conversation_messages"

    conversation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)


class StreamRow(Base):
    """A live stream registered for monitoring (``safehold.livestreams.store``).

    ``config`` is the JSON :class:`~safehold.livestreams.models.StreamConfig` (sampling,
    decision per bank, banks watched); ``desired`` is ``run`` or ``stop``; ``status`` is the
    monitor's last reported state. A monitor owns a stream while ``claimed_until`` (a lease it
    renews) is in the future; counters are the monitor's running totals.
    """

    __tablename__ = "streams"
    __table_args__ = (Index(None, "desired"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    url: Mapped[str] = mapped_column(Text)
    config: Mapped[str] = mapped_column(Text)
    stop_url: Mapped[str | None] = mapped_column(Text)
    desired: Mapped[str] = mapped_column(String(16), default="run")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None] = mapped_column()
    frames_sampled: Mapped[int] = mapped_column(BigInteger, default=0)
    alerts: Mapped[int] = mapped_column(Integer, default=0)
    decode_errors: Mapped[int] = mapped_column(Integer, default=0)
    reconnects: Mapped[int] = mapped_column(Integer, default=0)
    stream_seconds: Mapped[float] = mapped_column(Double, default=0.0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class StreamAlertRow(Base):
    """One alert of a stream: the bank entry matched in k of the last n samples, when.

    ``stream_seconds`` is the stream time of the sample that completed the decision;
    ``event_id`` the match event recorded with it (webhooks go through the outbox);
    ``stop_status`` what the stop-stream callback answered (None: no callback).
    """

    __tablename__ = "stream_alerts"
    __table_args__ = (Index(None, "stream_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    stream_id: Mapped[int] = mapped_column(BigId, ForeignKey("streams.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    bank_id: Mapped[int] = mapped_column(Integer)
    entry_id: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    distance: Mapped[int] = mapped_column(Integer)
    stream_seconds: Mapped[float] = mapped_column(Double)
    matched_frames: Mapped[int] = mapped_column(Integer)
    window: Mapped[int] = mapped_column(Integer)
    stop_status: Mapped[str | None] = mapped_column(String(200))


CHANGE_KINDS = (
    "bank_created",
    "bank_updated",
    "bank_enabled",
    "bank_disabled",
    "bank_deleted",
    "entries_added",
    "entry_enabled",
    "entry_disabled",
    "entry_updated",
    "entries_deleted",
    "bank_shared",
    "bank_unshared",
)

# Core handles for the service layer's bulk statements (typed as Table for mypy).
banks = cast(Table, BankRow.__table__)
bank_entries = cast(Table, BankEntryRow.__table__)
changes = cast(Table, ChangeRow.__table__)
entry_tombstones = cast(Table, EntryTombstoneRow.__table__)
api_keys = cast(Table, ApiKeyRow.__table__)
match_events = cast(Table, MatchEventRow.__table__)
bank_actions = cast(Table, BankActionRow.__table__)
outbox = cast(Table, OutboxRow.__table__)
conversations = cast(Table, ConversationRow.__table__)
conversation_messages = cast(Table, ConversationMessageRow.__table__)
streams = cast(Table, StreamRow.__table__)
stream_alerts = cast(Table, StreamAlertRow.__table__)


class ExchangeRow(Base):
    """An exchange: a source hash lists are fetched from into one bank (``safehold.exchanges``).

    ``kind`` names the source plug-in (``ncmec``, ``stopncii``, ``threatexchange``, ``list``);
    ``settings`` its non-secret settings; ``credentials`` a Fernet token of its secrets (the key
    is never stored here; ``exchanges.credentials``); ``interval_seconds`` how often the service
    fetches it.
    """

    __tablename__ = "exchanges"
    __table_args__ = (Index(None, "bank_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    kind: Mapped[str] = mapped_column(String(SIGNAL_TYPE_LENGTH))
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    credentials: Mapped[bytes | None] = mapped_column(LargeBinary)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    interval_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExchangeStateRow(Base):
    """An exchange's checkpoint and fetch status, one row per exchange.

    ``checkpoint`` is the source's JSON checkpoint after the last committed batch; ``runs``
    counts fetches started (records seen in run N carry N, so a snapshot source's unseen records
    can be swept); a fetcher owns the exchange while ``claimed_until`` (a lease) is in the
    future. ``as_of``: the source time up to which the bank is complete (lag = now - as_of).
    Totals count record updates applied, signals added and removed, and skipped records.
    """

    __tablename__ = "exchange_states"

    exchange_id: Mapped[int] = mapped_column(
        ForeignKey("exchanges.id", ondelete="CASCADE"), primary_key=True
    )
    checkpoint: Mapped[str | None] = mapped_column(Text)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None] = mapped_column()
    last_attempt_at: Mapped[datetime | None] = mapped_column()
    last_success_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column()
    failures: Mapped[int] = mapped_column(Integer, default=0)
    as_of: Mapped[datetime | None] = mapped_column()
    records_total: Mapped[int] = mapped_column(BigInteger, default=0)
    added_total: Mapped[int] = mapped_column(BigInteger, default=0)
    removed_total: Mapped[int] = mapped_column(BigInteger, default=0)
    skipped_total: Mapped[int] = mapped_column(BigInteger, default=0)


class ExchangeRecordRow(Base):
    """Provenance: which source record of an exchange holds which signal, and since when.

    One row per (exchange, source record id, signal); the signal is named like a bank entry
    (``signal_type``, ``value_digest``), so the entry of the exchange's bank that it put there is
    found by the bank's unique index. ``run`` is the fetch run that last saw the record.
    """

    __tablename__ = "exchange_records"
    __table_args__ = (
        Index(None, "exchange_id", "signal_type", "value_digest"),
        CheckConstraint(
            "(category_scheme IS NULL) = (category_code IS NULL)", name="category_pair"
        ),
    )

    exchange_id: Mapped[int] = mapped_column(
        ForeignKey("exchanges.id", ondelete="CASCADE"), primary_key=True
    )
    source_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    signal_type: Mapped[str] = mapped_column(String(SIGNAL_TYPE_LENGTH), primary_key=True)
    value_digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    category_scheme: Mapped[str | None] = mapped_column(String(CATEGORY_PART_LENGTH))
    category_code: Mapped[str | None] = mapped_column(String(CATEGORY_PART_LENGTH))
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    run: Mapped[int] = mapped_column(Integer, default=0)


exchanges = cast(Table, ExchangeRow.__table__)
exchange_states = cast(Table, ExchangeStateRow.__table__)
exchange_records = cast(Table, ExchangeRecordRow.__table__)
