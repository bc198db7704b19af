"""Federation: banks opt in to being published to peer Safehold instances, and a deleted
entry's tombstone keeps its bank so a peer feed can tell which withdrawals to publish.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``banks.shared``, ``banks.shared_seq`` and ``entry_tombstones.bank_id``.

    Existing banks start unshared; existing tombstones have no bank (no bank was shared
    before this revision, so no peer can hold their entries).
    """
    op.add_column(
        "banks", sa.Column("shared", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("banks", sa.Column("shared_seq", sa.BigInteger(), nullable=True))
    op.add_column("entry_tombstones", sa.Column("bank_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    op.drop_column("entry_tombstones", "bank_id")
    op.drop_column("banks", "shared_seq")
    op.drop_column("banks", "shared")
