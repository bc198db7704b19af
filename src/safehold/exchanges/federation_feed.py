"""The publisher side of federation: a page of the change feed of the banks opted in to sharing.

The feed is read from the bank change log (``changes``, ``bank_entries.change_seq``,
``entry_tombstones``) and the banks' ``shared`` / ``shared_seq`` columns; nothing is written.
Every item has a position ``(seq, entry id)`` (:class:`~safehold.exchanges.federation_protocol.
FeedPosition`) and items are served in position order, from four streams:

* **changed**: entries of shared banks touched after the bank was opted in, at
  ``(change_seq, id)``: their current signal and category, or a withdrawal when disabled;
* **opted in**: the entries a bank held when it was opted in (``bank_shared`` change ``S``), at
  ``(S, id)``, so a bank shared late reaches subscribers that are past ``S``'s older changes;
* **opted out**: every entry of a bank opted out at change ``U`` (``bank_unshared``), as a
  withdrawal at ``(U, id)``;
* **deleted**: tombstones (entry deleted alone or with its bank) of banks shared at some point
  before the deletion, as withdrawals at ``(change_seq, entry id)``.

Withdrawals are skipped for a subscriber that starts from the beginning (it holds nothing).
A page reads the newest change id first and serves only items at or below it: every change up
to it has committed (writers commit in change order, ``banks.rows.lock_change_log``), so an
item a later statement could see is never skipped by a checkpoint past it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, func, or_, select

from safehold.banks.rows import category_of, db_errors
from safehold.exchanges.federation_protocol import FORMAT, FeedPosition
from safehold.storage.tables import bank_entries, banks, changes, entry_tombstones

#: Most items per page, and the default.
MAX_PAGE = 5000
DEFAULT_PAGE = 1000

Item = tuple[int, int, dict[str, Any]]  # (seq, entry id, change)


@dataclass(slots=True)
class FeedPage:
    """One page of the feed.

    Attributes:
        after: the position the page starts after.
        checkpoint: the position of its last item (``after`` when it has none).
        more: further items follow now.
        changes: the items as the page carries them (see federation_protocol's docstring).
    """

    after: FeedPosition
    checkpoint: FeedPosition
    more: bool
    changes: list[dict[str, Any]] = field(default_factory=list)

    def as_page(self, publisher: str) -> dict[str, Any]:
        """The page object that is signed."""
        return {
            "format": FORMAT,
            "publisher": publisher,
            "after": str(self.after),
            "checkpoint": str(self.checkpoint),
            "more": self.more,
            "changes": self.changes,
        }


def _after(seq: Any, entry_id: Any, after: FeedPosition) -> ColumnElement[bool]:
    """``(seq, entry_id) > after`` in SQL."""
    return or_(seq > after.seq, and_(seq == after.seq, entry_id > after.entry_id))


def _entry_change(row: Any) -> dict[str, Any]:
    if not row.enabled:
        return {"id": str(row.id), "deleted": True}
    category = category_of(row.category_scheme, row.category_code)
    return {
        "id": str(row.id),
        "signal_type": row.signal_type,
        "value": row.value,
        "quality": row.quality,
        "category": str(category) if category else None,
        "deleted": False,
    }


def _withdrawal(entry_id: int) -> dict[str, Any]:
    return {"id": str(entry_id), "deleted": True}


class FederationFeed:
    """Reads feed pages from one database (thread-safe; each page is a few short queries).

    Args:
        engine: the publisher's database.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def page(self, after: FeedPosition, limit: int = DEFAULT_PAGE) -> FeedPage:
        """The items after ``after``, at most ``limit`` (1..:data:`MAX_PAGE`).

        Raises:
            StorageError: the database failed.
        """
        limit = max(1, min(limit, MAX_PAGE))
        with db_errors(), self.engine.connect() as c:
            high = int(c.execute(select(func.coalesce(func.max(changes.c.id), 0))).scalar_one())
            items = self._changed(c, after, high, limit) + self._by_bank(
                c, after, high, limit, shared=True
            )
            if after != FeedPosition():
                items += self._by_bank(c, after, high, limit, shared=False)
                items += self._deleted(c, after, high, limit)
        items.sort(key=lambda item: (item[0], item[1]))
        taken = items[:limit]
        checkpoint = FeedPosition(taken[-1][0], taken[-1][1]) if taken else after
        start = after == FeedPosition()  # disabled entries: nothing to withdraw yet
        out = [item[2] for item in taken if not (start and item[2]["deleted"])]
        return FeedPage(after, checkpoint, len(items) > limit, out)

    def _changed(self, c: Connection, after: FeedPosition, high: int, limit: int) -> list[Item]:
        e = bank_entries.c
        rows = c.execute(
            select(e.id, e.signal_type, e.value, e.quality, e.category_scheme,
                   e.category_code, e.enabled, e.change_seq)
            .join(banks, banks.c.id == e.bank_id)
            .where(
                banks.c.shared,
                e.change_seq > banks.c.shared_seq,
                e.change_seq >= after.seq,
                e.change_seq <= high,
                _after(e.change_seq, e.id, after),
            )
            .order_by(e.change_seq, e.id)
            .limit(limit + 1)
        )  # fmt: skip
        return [(int(r.change_seq), int(r.id), _entry_change(r)) for r in rows]

    def _by_bank(
        self, c: Connection, after: FeedPosition, high: int, limit: int, *, shared: bool
    ) -> list[Item]:
        """Entries of banks opted in (``shared``) or out at a change in ``[after.seq, high]``,
        at the position of that change: the whole bank as it was opted in, or withdrawn."""
        b = banks.c
        e = bank_entries.c
        opted = c.execute(
            select(b.id, b.shared_seq)
            .where(b.shared.is_(shared), b.shared_seq >= after.seq, b.shared_seq <= high)
            .order_by(b.shared_seq)
        ).all()
        items: list[Item] = []
        for bank in opted:
            seq = int(bank.shared_seq)
            query = (
                select(e.id, e.signal_type, e.value, e.quality, e.category_scheme,
                       e.category_code, e.enabled)
                .where(e.bank_id == bank.id)
                .order_by(e.id)
                .limit(limit + 1 - len(items))
            )  # fmt: skip
            if seq == after.seq:
                query = query.where(e.id > after.entry_id)
            if shared:  # entries changed after the opt-in come from _changed
                query = query.where(e.change_seq <= seq)
            for r in c.execute(query):
                items.append((seq, int(r.id), _entry_change(r) if shared else _withdrawal(r.id)))
            if len(items) > limit:
                break
        return items

    def _deleted(self, c: Connection, after: FeedPosition, high: int, limit: int) -> list[Item]:
        t = entry_tombstones.c
        first_shared = (
            select(changes.c.bank_id, func.min(changes.c.id).label("seq"))
            .where(changes.c.kind == "bank_shared")
            .group_by(changes.c.bank_id)
            .subquery()
        )
        rows = c.execute(
            select(t.entry_id, t.change_seq)
            .join(first_shared, first_shared.c.bank_id == t.bank_id)
            .where(
                t.change_seq > first_shared.c.seq,
                t.change_seq >= after.seq,
                t.change_seq <= high,
                _after(t.change_seq, t.entry_id, after),
            )
            .order_by(t.change_seq, t.entry_id)
            .limit(limit + 1)
        )
        return [(int(r.change_seq), int(r.entry_id), _withdrawal(r.entry_id)) for r in rows]
