"""BankService: create and change banks, load and curate entries, and hand entries to matching.

The service layer over ``safehold.storage`` that the CLI, the API and scanning share (interface
pinned in ``docs/architecture.md``). Every method runs its own short transaction; bulk loads
commit once per batch. Every change appends to the ``changes`` log, whose newest id is
:meth:`BankService.change_sequence` (live index updates and scan caches key on it); writers
are serialised on the log so change ids commit in order (``rows.lock_change_log``).

The methods live in three mixins, one concern each: ``bank_methods`` (banks),
``entry_reads`` (look-ups, paging, streaming) and ``entry_writes`` (add, update, delete).
"""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from safehold.banks.bank_methods import BankMethods
from safehold.banks.entry_reads import ID_CHUNK, ITER_CHUNK, MAX_PAGE
from safehold.banks.entry_writes import EntryWrites
from safehold.banks.rows import db_errors
from safehold.storage.tables import changes

__all__ = ["ID_CHUNK", "ITER_CHUNK", "MAX_PAGE", "BankService"]


class BankService(BankMethods, EntryWrites):
    """Banks and their entries in one database.

    Args:
        engine: from :func:`safehold.storage.engine.open_database` (schema current).

    Every method may also raise :class:`~safehold.errors.StorageError` when the database fails.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def change_sequence(self) -> int:
        """Return the newest change number (0 for a new database); it grows on every change."""
        with db_errors(), self.engine.connect() as c:
            return int(c.execute(select(func.coalesce(func.max(changes.c.id), 0))).scalar_one())
