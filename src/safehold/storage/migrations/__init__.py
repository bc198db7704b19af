"""Alembic migration environment shipped inside the package (see ``safehold.storage.migrate``)."""
