"""Service schema: API keys, match events, bank actions with their outbox, entry tombstones,
and a category per bank.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the service tables and add ``banks.category_scheme``, ``category_code`` and
    ``match_action`` (on SQLite with ALTER TABLE, never a table rebuild: see below)."""
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("key_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("scopes", sa.String(length=100), nullable=False),
        sa.Column("rate_limit", sa.Double(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("last_used_at", TIME, nullable=True),
        sa.Column("revoked_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_digest", name=op.f("uq_api_keys_key_digest")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_table(
        "entry_tombstones",
        sa.Column("entry_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("signal_type", sa.String(length=32), nullable=False),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_entry_tombstones")),
    )
    op.create_index(
        op.f("ix_entry_tombstones_change_seq"), "entry_tombstones", ["change_seq"], unique=False
    )
    op.create_table(
        "match_events",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("signal_type", sa.String(length=32), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=False),
        sa.Column("content_ref", sa.String(length=200), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_events")),
    )
    op.create_index(op.f("ix_match_events_bank_id"), "match_events", ["bank_id"], unique=False)
    op.create_index(
        op.f("ix_match_events_created_at"), "match_events", ["created_at"], unique=False
    )
    op.create_table(
        "bank_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_id"],
            ["banks.id"],
            name=op.f("fk_bank_actions_bank_id_banks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_actions")),
    )
    op.create_index(op.f("ix_bank_actions_bank_id"), "bank_actions", ["bank_id"], unique=False)
    op.create_table(
        "outbox",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TIME, nullable=False),
        sa.Column("claimed_until", TIME, nullable=True),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("delivered_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["bank_actions.id"],
            name=op.f("fk_outbox_action_id_bank_actions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        op.f("ix_outbox_status_next_attempt_at"),
        "outbox",
        ["status", "next_attempt_at"],
        unique=False,
    )
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_add_bank_columns()
        return
    with op.batch_alter_table("banks") as batch:
        batch.add_column(sa.Column("category_scheme", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("category_code", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("match_action", sa.String(length=16), nullable=False, server_default="review")
        )
        batch.create_check_constraint(
            op.f("ck_banks_category_pair"), "(category_scheme IS NULL) = (category_code IS NULL)"
        )


# SQLite: never rebuild ``banks`` (batch mode's copy-and-move). Its DROP TABLE runs an implicit
# DELETE, and with foreign keys on (every Safehold connection; the pragma cannot change inside
# the migration's transaction) ON DELETE CASCADE then deletes every bank entry. ALTER TABLE
# ADD/DROP COLUMN keeps the rows; the check sits on category_code (SQLite lets a column check
# name other columns) so DROP COLUMN can remove it with that column.
_CATEGORY_PAIR = "(category_scheme IS NULL) = (category_code IS NULL)"


def _sqlite_add_bank_columns() -> None:
    op.execute("ALTER TABLE banks ADD COLUMN category_scheme VARCHAR(64)")
    op.execute(
        "ALTER TABLE banks ADD COLUMN category_code VARCHAR(64) "
        f"CONSTRAINT ck_banks_category_pair CHECK ({_CATEGORY_PAIR})"
    )
    op.execute("ALTER TABLE banks ADD COLUMN match_action VARCHAR(16) DEFAULT 'review' NOT NULL")


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    if op.get_bind().dialect.name == "sqlite":
        for column in ("match_action", "category_code", "category_scheme"):
            op.execute(f"ALTER TABLE banks DROP COLUMN {column}")
    else:
        _drop_bank_columns()
    _drop_tables()


def _drop_bank_columns() -> None:
    with op.batch_alter_table("banks") as batch:
        batch.drop_constraint(op.f("ck_banks_category_pair"), type_="check")
        batch.drop_column("match_action")
        batch.drop_column("category_code")
        batch.drop_column("category_scheme")


def _drop_tables() -> None:
    op.drop_index(op.f("ix_outbox_status_next_attempt_at"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_index(op.f("ix_bank_actions_bank_id"), table_name="bank_actions")
    op.drop_table("bank_actions")
    op.drop_index(op.f("ix_match_events_created_at"), table_name="match_events")
    op.drop_index(op.f("ix_match_events_bank_id"), table_name="match_events")
    op.drop_table("match_events")
    op.drop_index(op.f("ix_entry_tombstones_change_seq"), table_name="entry_tombstones")
    op.drop_table("entry_tombstones")
    op.drop_table("api_keys")
