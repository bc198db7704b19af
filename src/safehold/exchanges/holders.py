"""Who still holds a signal of a bank that several exchanges feed: deletion and hand-over.

Several exchanges may fill one bank with overlapping signals (an NCMEC feed and a list of the
same hashes, say). The bank holds one entry per signal, labelled with the exchange that added it
(``source`` ``exchange:<name>``); the other exchanges' provenance rows (``exchange_records``)
hold the same signal without an entry of their own (adding it again was a duplicate). So when
exchange X lets go of a signal (its record was deleted or changed, or a snapshot no longer lists
it), X's entry

* is **deleted** only when no record of *any* exchange feeding the bank still holds the signal;
* is **handed over** otherwise: its ``source`` becomes ``exchange:<heir>`` and its category the
  heir record's (or the bank's, when that record has none), as if the heir had added it; the
  heir is the holding record with the lowest ``(exchange id, source id)`` (the oldest exchange),
  so the choice is the same whatever order fetches run in;
* is left alone when X does not own it: an entry a curator added by hand, or one another
  exchange added, is never deleted or relabelled by X.

A hand-over is one ``entry_updated`` change in the bank change log, the entries carrying its
sequence, so live match indexes and the federation feed see the new category and source.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, delete, select, update

from safehold.banks.models import Category, NewEntry
from safehold.banks.rows import category_of, db_errors, lock_change_log, record_change
from safehold.banks.service import ID_CHUNK, BankService
from safehold.storage.tables import (
    bank_entries,
    banks,
    changes,
    exchange_records,
    exchanges,
    value_digest,
)

Pair = tuple[str, bytes]  # (signal type, value digest)


def source_label(exchange_name: str) -> str:
    """The ``source`` of bank entries an exchange added: ``exchange:<name>``."""
    return f"exchange:{exchange_name}"


Heir = tuple[str, Category | None]  # (source label, category of the heir's record)


@dataclass(slots=True)
class Release:
    """What to do with an exchange's own entries of the signals it let go of.

    Attributes:
        delete: the entries no record of any exchange feeding the bank holds any more, by id
            (their signal, value and quality, to restore one a concurrent fetch took up).
        hand_over: ids of entries another exchange still holds, by heir.
    """

    delete: dict[int, NewEntry] = field(default_factory=dict)
    hand_over: dict[Heir, list[int]] = field(default_factory=dict)


def _holders(
    c: Connection,
    *,
    exchange_id: int,
    bank_id: int,
    pairs: set[Pair],
    replaced: Collection[str] | None,
) -> tuple[set[Pair], dict[Pair, Heir]]:
    """``(pairs the exchange itself still holds, heir of each pair another exchange feeding
    the bank holds)``; ``replaced`` as in :func:`plan_release`."""
    r, x = exchange_records.c, exchanges.c
    names = {int(i): str(n) for i, n in c.execute(select(x.id, x.name).where(x.bank_id == bank_id))}
    types = sorted({t for t, _ in pairs})
    digests = sorted({d for _, d in pairs})
    kept_by_self: set[Pair] = set()
    best: dict[Pair, tuple[tuple[int, str], Category | None]] = {}
    for start in range(0, len(digests), ID_CHUNK):
        rows = c.execute(
            select(r.exchange_id, r.source_id, r.signal_type, r.value_digest,
                   r.category_scheme, r.category_code)
            .where(r.exchange_id.in_(sorted(names)), r.signal_type.in_(types),
                   r.value_digest.in_(digests[start : start + ID_CHUNK]))
        )  # fmt: skip
        for row in rows:
            pair = (row.signal_type, bytes(row.value_digest))
            if pair not in pairs:
                continue
            if int(row.exchange_id) == exchange_id:
                if replaced is not None and row.source_id not in replaced:
                    kept_by_self.add(pair)
                continue
            key = (int(row.exchange_id), str(row.source_id))
            if pair not in best or key < best[pair][0]:
                best[pair] = (key, category_of(row.category_scheme, row.category_code))
    heirs = {p: (source_label(names[k[0]]), cat) for p, (k, cat) in best.items()}
    return kept_by_self, heirs


def plan_release(
    c: Connection,
    *,
    exchange_id: int,
    exchange_name: str,
    bank_id: int,
    pairs: Collection[Pair],
    replaced: Collection[str] | None,
) -> Release:
    """Decide the fate of exchange ``exchange_id``'s own entries (``source`` its label) of the
    signals ``pairs`` it lets go of.

    Args:
        pairs: ``(signal type, value digest)`` of the signals released.
        replaced: source ids of the exchange whose stored rows are being replaced (they hold
            nothing any more); None: every record of the exchange (it is being removed).
    """
    wanted = set(pairs)
    if not wanted:
        return Release()
    kept_by_self, heirs = _holders(
        c, exchange_id=exchange_id, bank_id=bank_id, pairs=wanted, replaced=replaced
    )
    e = bank_entries.c
    digests = sorted({d for _, d in wanted})
    release = Release()
    label = source_label(exchange_name)
    for start in range(0, len(digests), ID_CHUNK):
        for entry in c.execute(
            select(e.id, e.signal_type, e.value_digest, e.value, e.quality).where(
                e.bank_id == bank_id,
                e.value_digest.in_(digests[start : start + ID_CHUNK]),
                e.source == label,
            )
        ):
            pair = (entry.signal_type, bytes(entry.value_digest))
            if pair not in wanted or pair in kept_by_self:
                continue
            if pair in heirs:
                release.hand_over.setdefault(heirs[pair], []).append(int(entry.id))
            else:
                release.delete[int(entry.id)] = NewEntry(
                    entry.signal_type, entry.value, entry.quality
                )
    return release


def restore_taken_up(
    banks: BankService, *, exchange_id: int, bank_id: int, bank_name: str, deleted: list[NewEntry]
) -> int:
    """After the entries ``deleted`` went: add back, labelled with their heir, those another
    exchange took up between the plan and the delete (a concurrent fetch of that exchange,
    whose own add was then a duplicate); return how many were added back.

    Raises:
        StorageError: the database failed.
    """
    by_pair = {(n.signal_type, value_digest(n.value)): n for n in deleted}
    if not by_pair:
        return 0
    with db_errors(), banks.engine.connect() as c:
        _, heirs = _holders(
            c, exchange_id=exchange_id, bank_id=bank_id, pairs=set(by_pair), replaced=None
        )
    back = [
        NewEntry(n.signal_type, n.value, n.quality, heirs[p][1], heirs[p][0])
        for p, n in by_pair.items()
        if p in heirs
    ]
    return banks.add_entries(bank_name, back, validated=True) if back else 0


def missing_pairs(c: Connection, *, bank_id: int, pairs: Collection[Pair]) -> set[Pair]:
    """The ``pairs`` bank ``bank_id`` holds no entry of (any source)."""
    e = bank_entries.c
    left = set(pairs)
    digests = sorted({d for _, d in left})
    for start in range(0, len(digests), ID_CHUNK):
        for row in c.execute(
            select(e.signal_type, e.value_digest).where(
                e.bank_id == bank_id, e.value_digest.in_(digests[start : start + ID_CHUNK])
            )
        ):
            left.discard((row.signal_type, bytes(row.value_digest)))
    return left


def hand_over(engine: Engine, *, bank_id: int, from_label: str, release: Release) -> int:
    """Relabel the entries of ``release.hand_over`` to their heirs in one transaction with one
    ``entry_updated`` change; return how many were relabelled (entries no longer labelled
    ``from_label``, e.g. changed meanwhile, are left as they are).

    Raises:
        StorageError: the database failed (nothing changed).
    """
    if not release.hand_over:
        return 0
    e = bank_entries.c
    count = 0
    with db_errors(), engine.begin() as c:
        lock_change_log(c)
        row = c.execute(
            select(banks.c.category_scheme, banks.c.category_code).where(banks.c.id == bank_id)
        ).first()
        if row is None:
            return 0
        default = category_of(row.category_scheme, row.category_code)
        seq = record_change(c, "entry_updated", bank_id=bank_id)
        for (label, category), ids in release.hand_over.items():
            category = category or default
            for start in range(0, len(ids), ID_CHUNK):
                count += c.execute(
                    update(bank_entries)
                    .where(e.id.in_(ids[start : start + ID_CHUNK]), e.bank_id == bank_id,
                           e.source == from_label)
                    .values(source=label, change_seq=seq,
                            category_scheme=category.scheme if category else None,
                            category_code=category.code if category else None)
                ).rowcount  # fmt: skip
        if count:
            c.execute(update(changes).where(changes.c.id == seq).values(count=count))
        else:  # nothing happened: no change to replay
            c.execute(delete(changes).where(changes.c.id == seq))
    return count


def hand_over_all(engine: Engine, *, exchange_id: int, exchange_name: str, bank_id: int) -> int:
    """Before exchange ``exchange_id`` is removed: hand its entries that another exchange
    feeding the bank still holds over to that exchange (so the heir's later deletions remove
    them); the others stay, labelled as before. Return how many were handed over.

    Raises:
        StorageError: the database failed.
    """
    r = exchange_records.c
    with db_errors(), engine.connect() as c:
        pairs = {
            (row.signal_type, bytes(row.value_digest))
            for row in c.execute(
                select(r.signal_type, r.value_digest).distinct().where(r.exchange_id == exchange_id)
            )
        }
        release = plan_release(
            c, exchange_id=exchange_id, exchange_name=exchange_name, bank_id=bank_id,
            pairs=pairs, replaced=None,
        )  # fmt: skip
    label = source_label(exchange_name)
    return hand_over(engine, bank_id=bank_id, from_label=label, release=release)
