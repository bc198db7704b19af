"""Exchanges: configured hash-list sources, their checkpoints and status, and per-record
provenance of the signals they put into banks.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``exchanges``, ``exchange_states`` and ``exchange_records``."""
    op.create_table(
        "exchanges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("credentials", sa.LargeBinary(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_id"], ["banks.id"], name=op.f("fk_exchanges_bank_id_banks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchanges")),
        sa.UniqueConstraint("name", name=op.f("uq_exchanges_name")),
    )
    op.create_index(op.f("ix_exchanges_bank_id"), "exchanges", ["bank_id"], unique=False)
    op.create_table(
        "exchange_states",
        sa.Column("exchange_id", sa.Integer(), nullable=False),
        sa.Column("checkpoint", sa.Text(), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_until", TIME, nullable=True),
        sa.Column("last_attempt_at", TIME, nullable=True),
        sa.Column("last_success_at", TIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", TIME, nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("as_of", TIME, nullable=True),
        sa.Column("records_total", sa.BigInteger(), nullable=False),
        sa.Column("added_total", sa.BigInteger(), nullable=False),
        sa.Column("removed_total", sa.BigInteger(), nullable=False),
        sa.Column("skipped_total", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["exchange_id"],
            ["exchanges.id"],
            name=op.f("fk_exchange_states_exchange_id_exchanges"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("exchange_id", name=op.f("pk_exchange_states")),
    )
    op.create_table(
        "exchange_records",
        sa.Column("exchange_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("signal_type", sa.String(length=32), nullable=False),
        sa.Column("value_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("category_scheme", sa.String(length=64), nullable=True),
        sa.Column("category_code", sa.String(length=64), nullable=True),
        sa.Column("fetched_at", TIME, nullable=False),
        sa.Column("run", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "(category_scheme IS NULL) = (category_code IS NULL)",
            name=op.f("ck_exchange_records_category_pair"),
        ),
        sa.ForeignKeyConstraint(
            ["exchange_id"],
            ["exchanges.id"],
            name=op.f("fk_exchange_records_exchange_id_exchanges"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "exchange_id",
            "source_id",
            "signal_type",
            "value_digest",
            name=op.f("pk_exchange_records"),
        ),
    )
    op.create_index(
        op.f("ix_exchange_records_exchange_id_signal_type_value_digest"),
        "exchange_records",
        ["exchange_id", "signal_type", "value_digest"],
        unique=False,
    )


def downgrade() -> None:
    """Drop what :func:`upgrade` created."""
    op.drop_index(
        op.f("ix_exchange_records_exchange_id_signal_type_value_digest"),
        table_name="exchange_records",
    )
    op.drop_table("exchange_records")
    op.drop_table("exchange_states")
    op.drop_index(op.f("ix_exchanges_bank_id"), table_name="exchanges")
    op.drop_table("exchanges")
