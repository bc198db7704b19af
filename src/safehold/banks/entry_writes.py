"""Entry-level changes of :class:`~safehold.banks.service.BankService`: add (in bulk or one
at a time), update, enable/disable and delete bank entries.

A mixin of the service (bank-level methods are in ``bank_methods``). Every write takes the
change-log lock first and records one change whose id becomes the ``change_seq`` of every row
it touched; a deleted entry leaves a tombstone with the deleting change's id, so live indexes
replaying "changes after N" (``banks.feed``) drop it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, delete, insert, literal, select, update

from safehold.banks.bulk_insert import entry_values, insert_entries, next_sqlite_id
from safehold.banks.entry_reads import ID_CHUNK, EntryReads, valid_ids
from safehold.banks.models import BankEntry, Category, NewEntry
from safehold.banks.rows import (
    bank_id_for,
    bank_name_is,
    category_of,
    db_errors,
    lock_change_log,
    record_change,
)
from safehold.banks.validation import (
    EntryValidator,
    quote_name,
    validate_category,
    validate_entry_id,
)
from safehold.errors import ConflictError, InvalidInputError, NotFoundError
from safehold.storage.tables import bank_entries, banks, changes, entry_tombstones, value_digest


def _bank_for(c: Connection, name: str) -> tuple[int, Category | None]:
    """``(bank id, bank category)`` of the bank called ``name`` (ignoring case).

    Raises:
        NotFoundError: no such bank.
    """
    row = c.execute(
        select(banks.c.id, banks.c.category_scheme, banks.c.category_code).where(bank_name_is(name))
    ).first()
    if row is None:
        raise NotFoundError(f"no bank named {quote_name(name)}")
    return int(row.id), category_of(row.category_scheme, row.category_code)


def _entry_bank(c: Connection, entry_id: int) -> int:
    """The bank id of entry ``entry_id``.

    Raises:
        NotFoundError: no such entry.
    """
    bank_id = c.execute(
        select(bank_entries.c.bank_id).where(bank_entries.c.id == entry_id)
    ).scalar()
    if bank_id is None:
        raise NotFoundError(f"no bank entry with id {entry_id}")
    return int(bank_id)


class EntryWrites(EntryReads):
    """Entry-level changes (with the reads they build on)."""

    def add_entries(
        self,
        bank_name: str,
        entries: Iterable[NewEntry],
        *,
        batch_size: int = 10_000,
        validated: bool = False,
    ) -> int:
        """Add entries in batches of ``batch_size``, one transaction per batch; return how many
        were added.

        An entry whose (bank, signal type, value) is already stored, or repeats within the
        input, is skipped, not an error: ``number of entries given - return value`` is the
        number of duplicates. Entries without a category get the bank's. ``entries`` is
        consumed lazily (a generator over a file of millions of rows is fine). Values are
        validated and canonicalised first, unless ``validated`` says they come from a reader
        that already did so (``safehold.banks.formats``), which saves about a tenth of a bulk
        import's time.

        Raises:
            NotFoundError: no such bank (nothing added), or the bank was deleted during the
                load (earlier batches were deleted with it).
            InvalidSignalError: unknown signal type or unparsable value; batches before the
                bad entry's batch stay committed, the bad batch is not written.
            InvalidInputError: bad quality, category or source (same batch rule).
        """
        if batch_size < 1:
            raise InvalidInputError("batch_size must be at least 1")
        validator = EntryValidator()
        with db_errors(), self.engine.connect() as c:
            bank_id = bank_id_for(c, bank_name)
        added = 0
        batch: list[NewEntry] = []
        for entry in entries:
            batch.append(entry if validated else validator.validate(entry))
            if len(batch) >= batch_size:
                added += self._insert_batch(bank_id, bank_name, batch)
                batch = []
        if batch:
            added += self._insert_batch(bank_id, bank_name, batch)
        return added

    def _insert_batch(self, bank_id: int, bank_name: str, batch: Sequence[NewEntry]) -> int:
        with db_errors(), self.engine.begin() as c:
            lock_change_log(c)
            row = c.execute(
                select(banks.c.category_scheme, banks.c.category_code).where(banks.c.id == bank_id)
            ).first()
            if row is None:
                raise NotFoundError(f"no bank named {quote_name(bank_name)} (deleted meanwhile)")
            default = category_of(row.category_scheme, row.category_code)
            return insert_entries(c, bank_id, batch, default_category=default)

    def add_entry(self, bank_name: str, entry: NewEntry) -> BankEntry:
        """Add one entry and return it as stored (with its id; the bank's category when the
        entry has none).

        Raises:
            NotFoundError: no such bank.
            ConflictError: the bank already holds this value of this signal type (the message
                names the existing entry's id, never the value).
            InvalidSignalError: unknown signal type or unparsable value.
            InvalidInputError: bad quality, category or source.
        """
        entry = EntryValidator().validate(entry)
        e = bank_entries.c
        with db_errors(), self.engine.begin() as c:
            lock_change_log(c)
            bank_id, default = _bank_for(c, bank_name)
            existing = c.execute(
                select(e.id).where(
                    e.signal_type == entry.signal_type,
                    e.value_digest == value_digest(entry.value),
                    e.bank_id == bank_id,
                )
            ).scalar()
            if existing is not None:
                raise ConflictError(
                    f"bank {quote_name(bank_name)} already holds this {entry.signal_type} "
                    f"signal (entry {existing})"
                )
            seq = record_change(c, "entries_added", bank_id=bank_id, count=1)
            values = entry_values(bank_id, entry, seq, default)
            if c.dialect.name == "sqlite":
                values["id"] = next_sqlite_id(c)
            entry_id = int(
                c.execute(insert(bank_entries).values(**values).returning(e.id)).scalar_one()
            )
            c.execute(update(changes).where(changes.c.id == seq).values(entry_id=entry_id))
        return self.get_entry(entry_id)

    def update_entry(
        self,
        entry_id: int,
        *,
        category: Category | None = None,
        clear_category: bool = False,
        note: str | None = None,
        enabled: bool | None = None,
    ) -> BankEntry:
        """Change the given fields of one entry (``None`` leaves a field as it is); record an
        ``entry_updated`` change when anything is given. Return the entry as stored.

        Raises:
            NotFoundError: no such entry (also for ids outside 1..2**63-1).
            InvalidInputError: ``entry_id`` not an integer, a bad category, or both
                ``category`` and ``clear_category``.
        """
        validate_entry_id(entry_id)
        values: dict[str, object] = {}
        if category is not None or clear_category:
            if category is not None and clear_category:
                raise InvalidInputError("give a category or clear it, not both")
            validate_category(category)
            values["category_scheme"] = category.scheme if category else None
            values["category_code"] = category.code if category else None
        if note is not None:
            values["note"] = note
        if enabled is not None:
            values["enabled"] = bool(enabled)
        with db_errors(), self.engine.begin() as c:
            lock_change_log(c)
            bank_id = _entry_bank(c, entry_id)
            if values:
                seq = record_change(c, "entry_updated", bank_id=bank_id, entry_id=entry_id, count=1)
                c.execute(
                    update(bank_entries)
                    .where(bank_entries.c.id == entry_id)
                    .values(**values, change_seq=seq)
                )
        return self.get_entry(entry_id)

    def set_entry_enabled(self, entry_id: int, enabled: bool) -> None:
        """Enable or disable one entry (a disabled entry never matches).

        Raises:
            NotFoundError: no such entry (also for ids outside 1..2**63-1).
            InvalidInputError: ``entry_id`` is not an integer.
        """
        validate_entry_id(entry_id)
        with db_errors(), self.engine.begin() as c:
            lock_change_log(c)
            bank_id = _entry_bank(c, entry_id)
            seq = record_change(
                c, "entry_enabled" if enabled else "entry_disabled", bank_id=bank_id,
                entry_id=entry_id, count=1,
            )  # fmt: skip
            c.execute(
                update(bank_entries)
                .where(bank_entries.c.id == entry_id)
                .values(enabled=bool(enabled), change_seq=seq)
            )

    def delete_entry(self, entry_id: int) -> None:
        """Delete one entry (tombstone + ``entries_deleted`` change).

        Raises:
            NotFoundError: no such entry (also for ids outside 1..2**63-1).
            InvalidInputError: ``entry_id`` is not an integer.
        """
        validate_entry_id(entry_id)
        with db_errors(), self.engine.begin() as c:
            lock_change_log(c)
            bank_id = _entry_bank(c, entry_id)
            seq = record_change(c, "entries_deleted", bank_id=bank_id, entry_id=entry_id, count=1)
            _bury(c, seq, [entry_id], None)

    def delete_entries(self, ids: Sequence[int], *, bank_name: str | None = None) -> int:
        """Delete the entries with these ids (only those of ``bank_name`` when given) in one
        transaction with one ``entries_deleted`` change; return how many were deleted.

        Unknown ids (and, with ``bank_name``, ids of other banks) are skipped, not errors.

        Raises:
            NotFoundError: no bank called ``bank_name``.
            InvalidInputError: an id is not an integer.
        """
        ordered = valid_ids(ids)
        with db_errors(), self.engine.begin() as c:
            lock_change_log(c)
            bank_id = bank_id_for(c, bank_name) if bank_name is not None else None
            if not ordered:
                return 0
            seq = record_change(c, "entries_deleted", bank_id=bank_id)
            count = 0
            for start in range(0, len(ordered), ID_CHUNK):
                count += _bury(c, seq, ordered[start : start + ID_CHUNK], bank_id)
            if count:
                c.execute(update(changes).where(changes.c.id == seq).values(count=count))
            else:  # nothing happened: no change to replay
                c.execute(delete(changes).where(changes.c.id == seq))
        return count


def _bury(c: Connection, seq: int, ids: Sequence[int], bank_id: int | None) -> int:
    """Tombstone then delete the entries ``ids`` (of bank ``bank_id`` when given); return
    how many there were."""
    e = bank_entries.c
    where = [e.id.in_(ids)] if bank_id is None else [e.id.in_(ids), e.bank_id == bank_id]
    dead = select(e.id, e.signal_type, literal(seq), e.bank_id).where(*where)
    # preserve_rowcount: SQLAlchemy reports -1 for INSERT ... SELECT on psycopg otherwise.
    count = c.execute(
        insert(entry_tombstones)
        .from_select(["entry_id", "signal_type", "change_seq", "bank_id"], dead)
        .execution_options(preserve_rowcount=True)
    ).rowcount
    c.execute(delete(bank_entries).where(*where))
    return int(count)
