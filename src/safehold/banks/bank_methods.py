"""Bank-level half of :class:`~safehold.banks.service.BankService`: create, read, change and
delete banks.

A mixin so the service stays one class (``from safehold.banks.service import BankService``)
while each module stays readable; the entry-level half is in ``entry_reads`` and
``entry_writes``. Every write takes the change-log lock first (``rows.lock_change_log``), so
the case-insensitive name check and the insert it guards cannot interleave with another
writer on either backend.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, literal, select, update

from safehold.banks.models import Bank, BankSummary, Category, EntryCount
from safehold.banks.rows import (
    bank_id_for,
    bank_name_is,
    banks_query,
    category_of,
    db_errors,
    entry_counts_query,
    lock_change_log,
    record_change,
    to_bank,
)
from safehold.banks.validation import (
    quote_name,
    validate_bank_name,
    validate_category,
    validate_match_action,
    validate_text,
    validate_thresholds,
)
from safehold.errors import ConflictError, InvalidInputError, NotFoundError
from safehold.storage.tables import (
    SOURCE_LENGTH,
    bank_entries,
    banks,
    changes,
    entry_tombstones,
    utcnow,
)


def _next_sqlite_bank_id(c: Connection) -> int:
    """A bank id never used before on SQLite (above live banks and those named in changes).

    SQLite without ``AUTOINCREMENT`` would give a deleted newest bank's id to the next bank,
    and match events and the change log would then name the wrong bank.
    """
    live = select(func.coalesce(func.max(banks.c.id), 0)).scalar_subquery()
    logged = select(func.coalesce(func.max(changes.c.bank_id), 0)).scalar_subquery()
    return int(c.execute(select(func.max(live, logged))).scalar_one()) + 1


def _set_shared(c: Connection, bank_id: int, shared: bool) -> None:
    """Opt bank ``bank_id`` in to or out of federation (a no-op when it already is)."""
    if bool(c.execute(select(banks.c.shared).where(banks.c.id == bank_id)).scalar()) == shared:
        return
    seq = record_change(c, "bank_shared" if shared else "bank_unshared", bank_id=bank_id)
    c.execute(update(banks).where(banks.c.id == bank_id).values(shared=shared, shared_seq=seq))


class BankMethods:
    """Bank-level methods; needs ``engine`` (set by ``BankService.__init__``)."""

    engine: Engine

    def create_bank(
        self,
        name: str,
        *,
        description: str = "",
        source: str = "",
        thresholds: dict[str, int] | None = None,
        category: Category | None = None,
        match_action: str = "review",
    ) -> Bank:
        """Create an empty, enabled bank.

        Args:
            category: given to entries added without a category of their own.
            match_action: ``"review"`` or ``"block"``: what an untrusted caller is told to do
                on a match in this bank.

        Raises:
            InvalidInputError: bad name, over-long source, unknown signal type, out-of-range
                threshold, bad category or match action.
            ConflictError: a bank of that name exists (names are unique ignoring case).
        """
        validate_bank_name(name)
        validate_text("source", source, SOURCE_LENGTH)
        checked = validate_thresholds(thresholds)
        validate_category(category)
        validate_match_action(match_action)
        now = utcnow()
        conflict = f"a bank named {quote_name(name)} already exists"
        with db_errors(conflict=conflict), self.engine.begin() as c:
            lock_change_log(c)  # before the check: no other writer between check and insert
            clash = c.execute(select(banks.c.name).where(bank_name_is(name))).first()
            if clash is not None:
                raise ConflictError(f"a bank named {clash.name!r} already exists")
            values: dict[str, Any] = {
                "name": name,
                "description": description,
                "source": source,
                "enabled": True,
                "created_at": now,
                "updated_at": now,
                "thresholds": checked,
                "category_scheme": category.scheme if category else None,
                "category_code": category.code if category else None,
                "match_action": match_action,
            }
            if c.dialect.name == "sqlite":
                values["id"] = _next_sqlite_bank_id(c)
            bank_id = c.execute(insert(banks).values(**values).returning(banks.c.id)).scalar_one()
            record_change(c, "bank_created", bank_id=bank_id)
        return self.get_bank(name)

    def get_bank(self, name: str) -> Bank:
        """Return the bank called ``name`` (ignoring case, as names are unique ignoring case)
        with its entry count (enabled and disabled). Every method taking a bank name looks it
        up the same way.

        Raises:
            NotFoundError: no such bank.
        """
        with db_errors(), self.engine.connect() as c:
            row = c.execute(banks_query().where(bank_name_is(name))).first()
        if row is None:
            raise NotFoundError(f"no bank named {quote_name(name)}")
        return to_bank(row)

    def list_banks(self) -> list[Bank]:
        """Return every bank, sorted by name, with entry counts."""
        with db_errors(), self.engine.connect() as c:
            rows = c.execute(banks_query().order_by(banks.c.name)).all()
        return [to_bank(row) for row in rows]

    def update_bank(
        self,
        name: str,
        *,
        description: str | None = None,
        source: str | None = None,
        thresholds: dict[str, int] | None = None,
        enabled: bool | None = None,
        category: Category | None = None,
        clear_category: bool = False,
        match_action: str | None = None,
        shared: bool | None = None,
    ) -> Bank:
        """Change the given fields of a bank (``None`` leaves a field as it is).

        ``thresholds`` replaces the whole mapping (pass ``{}`` to return to the defaults);
        ``clear_category`` removes the bank's category (entries keep theirs). A new category
        applies to entries added from then on. ``shared`` opts the bank in to (or out of) the
        federation feed (docs/exchanges.md): a change of it records ``bank_shared`` or
        ``bank_unshared`` and keeps that change's id in ``shared_seq``; setting the value the
        bank already has changes nothing.

        Raises:
            NotFoundError: no such bank.
            InvalidInputError: bad thresholds, category or match action, an over-long source,
                or both ``category`` and ``clear_category``.
        """
        values: dict[str, Any] = {}
        if description is not None:
            values["description"] = description
        if source is not None:
            values["source"] = validate_text("source", source, SOURCE_LENGTH)
        if thresholds is not None:
            values["thresholds"] = validate_thresholds(thresholds)
        if enabled is not None:
            values["enabled"] = bool(enabled)
        if category is not None or clear_category:
            if category is not None and clear_category:
                raise InvalidInputError("give a category or clear it, not both")
            validate_category(category)
            values["category_scheme"] = category.scheme if category else None
            values["category_code"] = category.code if category else None
        if match_action is not None:
            values["match_action"] = validate_match_action(match_action)
        with db_errors(), self.engine.begin() as c:
            lock_change_log(c)
            bank_id = bank_id_for(c, name)
            if values:
                values["updated_at"] = utcnow()
                c.execute(update(banks).where(banks.c.id == bank_id).values(**values))
                # Enabling or disabling changes which entries may match, so index feeds
                # re-read the bank's entries; any other update is metadata the matchers read
                # from the bank row (thresholds, category, match action, description).
                kind = "bank_updated"
                if "enabled" in values:
                    kind = "bank_enabled" if values["enabled"] else "bank_disabled"
                record_change(c, kind, bank_id=bank_id)
            if shared is not None:
                _set_shared(c, bank_id, bool(shared))
        return self.get_bank(name)

    def delete_bank(self, name: str) -> int:
        """Delete a bank and all its entries (and its actions); return how many entries went.

        One transaction: a tombstone per entry (one ``INSERT ... SELECT`` into
        ``entry_tombstones``, so live indexes replaying the change log drop them), one
        ``bank_deleted`` change, then the rows. Match events keep the bank's id.

        Raises:
            NotFoundError: no such bank.
        """
        e = bank_entries.c
        with db_errors(), self.engine.begin() as c:
            lock_change_log(c)
            bank_id = bank_id_for(c, name)
            seq = record_change(c, "bank_deleted", bank_id=bank_id)
            dead = select(e.id, e.signal_type, literal(seq), e.bank_id).where(e.bank_id == bank_id)
            count = c.execute(
                insert(entry_tombstones)
                .from_select(["entry_id", "signal_type", "change_seq", "bank_id"], dead)
                # SQLAlchemy reports -1 for INSERT ... SELECT on psycopg otherwise
                .execution_options(preserve_rowcount=True)
            ).rowcount
            c.execute(update(changes).where(changes.c.id == seq).values(count=count))
            c.execute(delete(bank_entries).where(e.bank_id == bank_id))
            c.execute(delete(banks).where(banks.c.id == bank_id))  # cascades to its actions
        return int(count)

    def summarize_bank(self, name: str) -> BankSummary:
        """Return the bank with entry counts per signal type and category (no hash values).

        Raises:
            NotFoundError: no such bank.
        """
        bank = self.get_bank(name)
        query = entry_counts_query(bank.id)
        with db_errors(), self.engine.connect() as c:
            rows = c.execute(query).all()
        counts = [
            EntryCount(
                signal_type=r.signal_type,
                category=category_of(r.category_scheme, r.category_code),
                enabled=r.enabled,
                disabled=r.disabled,
            )
            for r in rows
        ]
        return BankSummary(bank=bank, counts=counts)
