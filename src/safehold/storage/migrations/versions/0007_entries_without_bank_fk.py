"""Bank entries without a foreign key to their bank: bulk loads skip a per-row check.

On PostgreSQL a foreign key is checked by a trigger fired once per inserted row; in a bulk
load of random hashes that check was a quarter of the server's time (2M rows, key order:
78,000 rows/s with the key, 105,000 without; ``docs/decisions/0011-bulk-load.md``). Every
writer already checks that the bank exists inside its transaction, after taking the change-log
lock that bank deletion also takes, and deleting a bank deletes its entries explicitly, so the
key added no protection that the code does not give.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FK = "fk_bank_entries_bank_id_banks"


def upgrade() -> None:
    """Drop the foreign key ``bank_entries.bank_id -> banks.id`` (SQLite rebuilds the table)."""
    with op.batch_alter_table("bank_entries") as batch:
        batch.drop_constraint(_FK, type_="foreignkey")


def downgrade() -> None:
    """Restore the foreign key, with its ``ON DELETE CASCADE``."""
    with op.batch_alter_table("bank_entries") as batch:
        batch.create_foreign_key(_FK, "banks", ["bank_id"], ["id"], ondelete="CASCADE")
