"""Streams: live streams registered for monitoring, and the alerts they raised.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``streams`` (one row per monitored stream, claimed with a lease) and
    ``stream_alerts`` (one row per bank entry a stream's decision fired on)."""
    op.create_table(
        "streams",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("stop_url", sa.Text(), nullable=True),
        sa.Column("desired", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_until", TIME, nullable=True),
        sa.Column("frames_sampled", sa.BigInteger(), nullable=False),
        sa.Column("alerts", sa.Integer(), nullable=False),
        sa.Column("decode_errors", sa.Integer(), nullable=False),
        sa.Column("reconnects", sa.Integer(), nullable=False),
        sa.Column("stream_seconds", sa.Double(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_streams")),
    )
    op.create_index(op.f("ix_streams_desired"), "streams", ["desired"], unique=False)
    op.create_table(
        "stream_alerts",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("stream_id", BIG_ID, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.Column("distance", sa.Integer(), nullable=False),
        sa.Column("stream_seconds", sa.Double(), nullable=False),
        sa.Column("matched_frames", sa.Integer(), nullable=False),
        sa.Column("window", sa.Integer(), nullable=False),
        sa.Column("stop_status", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["stream_id"],
            ["streams.id"],
            name=op.f("fk_stream_alerts_stream_id_streams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stream_alerts")),
    )
    op.create_index(
        op.f("ix_stream_alerts_stream_id"), "stream_alerts", ["stream_id"], unique=False
    )


def downgrade() -> None:
    """Drop what :func:`upgrade` created."""
    op.drop_index(op.f("ix_stream_alerts_stream_id"), table_name="stream_alerts")
    op.drop_table("stream_alerts")
    op.drop_index(op.f("ix_streams_desired"), table_name="streams")
    op.drop_table("streams")
