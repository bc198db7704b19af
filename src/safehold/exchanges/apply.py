"""Apply a batch of source-record updates to an exchange's bank and its provenance rows.

For each record the update gives the record's whole current signal set. Against the stored
provenance rows (``exchange_records``) that splits into signals *added* (new for the record),
*kept* (category or fetch time refreshed) and *removed* (the record dropped them, or was
deleted). A removed signal leaves the bank only when no record of *any* exchange feeding the
bank still holds it and the bank entry is the exchange's own (its ``source`` is
``exchange:<name>``); an entry another exchange still holds is handed over to it, and an entry
a curator added by hand is never deleted by a source (:mod:`safehold.exchanges.holders`).

Order, so that a crash anywhere loses nothing and duplicates nothing when the same batch is
applied again (the checkpoint is written last, in the provenance transaction):

1. delete orphaned bank entries (:meth:`BankService.delete_entries`: tombstones, change log)
   and hand over those another exchange still holds;
2. add new signals (:meth:`BankService.add_entries`: duplicates skipped);
3. refresh changed categories of kept signals;
4. one transaction: provenance rows deleted, inserted and refreshed
   (:mod:`safehold.exchanges.records`), and the checkpoint and running totals saved.

Steps 1-3 are idempotent and step 4 is atomic, so a replay after a failure between any two of
them converges to the same state. Against a concurrent fetch of another exchange of the same
bank, step 1 adds back a deleted signal that exchange took up meanwhile, and after step 4 the
batch's new signals that are missing (deleted by that exchange before it saw this batch's
records) are added again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, select, update

from safehold.banks.models import Category, NewEntry
from safehold.banks.rows import db_errors
from safehold.banks.service import ID_CHUNK, BankService
from safehold.banks.validation import EntryValidator
from safehold.errors import InvalidInputError
from safehold.exchanges.base import Checkpoint, RecordUpdate
from safehold.exchanges.holders import (
    hand_over,
    missing_pairs,
    plan_release,
    restore_taken_up,
    source_label,
)
from safehold.exchanges.models import Exchange
from safehold.exchanges.records import Row, write_records
from safehold.storage.tables import (
    bank_entries,
    exchange_records,
    exchange_states,
    utcnow,
    value_digest,
)

Pair = tuple[str, bytes]  # (signal type, value digest)
Key = tuple[str, str, bytes]  # (source id, signal type, value digest)


@dataclass(slots=True)
class BatchResult:
    """What applying one batch did (counts)."""

    records: int = 0
    added: int = 0
    removed: int = 0
    skipped: int = 0


@dataclass(slots=True)
class _Wanted:
    """The validated signals of a batch's records."""

    keys: dict[str, set[Pair]] = field(default_factory=dict)
    entries: dict[Pair, NewEntry] = field(default_factory=dict)
    categories: dict[str, Category | None] = field(default_factory=dict)
    skipped: int = 0


class BatchApplier:
    """Applies batches of one fetch run of one exchange (see the module docstring).

    Args:
        banks: the bank service of the exchange's database.
        exchange: the exchange (its id, name and bank).
        run: the fetch run number (provenance rows seen now carry it).
    """

    def __init__(self, banks: BankService, exchange: Exchange, run: int) -> None:
        self.banks = banks
        self.engine = banks.engine
        self.exchange = exchange
        self.run = run
        self.label = source_label(exchange.name)
        self._validator = EntryValidator()

    def apply(
        self, updates: Sequence[RecordUpdate], checkpoint: Checkpoint | None, skipped: int = 0
    ) -> BatchResult:
        """Apply ``updates`` and save ``checkpoint`` (None keeps the stored one).

        Raises:
            NotFoundError: the exchange's bank was deleted meanwhile.
            StorageError: the database failed (what was committed before stays; applying the
                same batch again completes it).
        """
        latest = {u.source_id: u for u in updates}  # a later update of a record wins
        wanted = self._validate(latest.values())
        old = self._stored(list(latest))
        new_keys = {(s, *p) for s, pairs in wanted.keys.items() for p in pairs}
        old_keys = set(old)
        removed = old_keys - new_keys
        added = new_keys - old_keys
        kept = old_keys & new_keys
        result = BatchResult(records=len(latest), skipped=skipped + wanted.skipped)
        result.removed = self._delete_orphans({(k[1], k[2]) for k in removed}, wanted, latest)
        pairs = {(k[1], k[2]) for k in added}
        if pairs:
            result.added = self.banks.add_entries(
                self.exchange.bank_name, (wanted.entries[p] for p in pairs), validated=True
            )
        recategorised = {(k[1], k[2]) for k in kept if old[k] != wanted.categories.get(k[0])}
        self._recategorise(recategorised, wanted)
        self._save(removed, added, kept, wanted, checkpoint, result)
        if pairs and result.added < len(pairs):  # some were duplicates: still there?
            result.added += self._restore_added(pairs, wanted)
        return result

    def _validate(self, updates: Iterable[RecordUpdate]) -> _Wanted:
        wanted = _Wanted()
        for update_ in updates:
            pairs: set[Pair] = set()
            wanted.keys[update_.source_id] = pairs
            wanted.categories[update_.source_id] = update_.category
            if update_.deleted:
                continue
            for signal in update_.signals:
                entry = NewEntry(
                    signal.signal_type, signal.value, signal.quality, update_.category, self.label
                )
                try:
                    entry = self._validator.validate(entry)
                except InvalidInputError:
                    wanted.skipped += 1
                    continue
                pair = (entry.signal_type, value_digest(entry.value))
                pairs.add(pair)
                wanted.entries[pair] = entry
        return wanted

    def _stored(self, source_ids: list[str]) -> dict[Key, Category | None]:
        r = exchange_records.c
        stored: dict[Key, Category | None] = {}
        with db_errors(), self.engine.connect() as c:
            for start in range(0, len(source_ids), ID_CHUNK):
                rows = c.execute(
                    select(r.source_id, r.signal_type, r.value_digest, r.category_scheme,
                           r.category_code)
                    .where(r.exchange_id == self.exchange.id,
                           r.source_id.in_(source_ids[start : start + ID_CHUNK]))
                )  # fmt: skip
                for row in rows:
                    category = (
                        Category(row.category_scheme, row.category_code)
                        if row.category_scheme is not None
                        else None
                    )
                    stored[(row.source_id, row.signal_type, bytes(row.value_digest))] = category
        return stored

    def _delete_orphans(
        self, candidates: set[Pair], wanted: _Wanted, batch: dict[str, RecordUpdate]
    ) -> int:
        """Release the signals ``candidates`` this batch let go of: delete the exchange's own
        entries no record of any exchange feeding the bank holds, hand the others over
        (:mod:`safehold.exchanges.holders`); return how many entries were deleted."""
        candidates -= set(wanted.entries)
        if not candidates:
            return 0
        with db_errors(), self.engine.connect() as c:
            release = plan_release(
                c, exchange_id=self.exchange.id, exchange_name=self.exchange.name,
                bank_id=self.exchange.bank_id, pairs=candidates, replaced=set(batch),
            )  # fmt: skip
        hand_over(self.engine, bank_id=self.exchange.bank_id, from_label=self.label,
                  release=release)  # fmt: skip
        if not release.delete:
            return 0
        x = self.exchange
        deleted = self.banks.delete_entries(list(release.delete), bank_name=x.bank_name)
        deleted -= restore_taken_up(
            self.banks, exchange_id=x.id, bank_id=x.bank_id, bank_name=x.bank_name,
            deleted=list(release.delete.values()),
        )  # fmt: skip
        return deleted

    def _restore_added(self, pairs: set[Pair], wanted: _Wanted) -> int:
        """Add again the entries of ``pairs`` (this batch's new signals) that are missing now
        their provenance is saved: another exchange of the bank deleted them between this
        batch's add (a duplicate then) and its save; return how many were added."""
        with db_errors(), self.engine.connect() as c:
            gone = missing_pairs(c, bank_id=self.exchange.bank_id, pairs=pairs)
        if not gone:
            return 0
        entries = (wanted.entries[p] for p in gone)
        return self.banks.add_entries(self.exchange.bank_name, entries, validated=True)

    def _recategorise(self, pairs: set[Pair], wanted: _Wanted) -> None:
        if not pairs:
            return
        e = bank_entries.c
        with db_errors(), self.engine.connect() as c:
            rows = c.execute(
                select(e.id, e.signal_type, e.value_digest).where(
                    e.bank_id == self.exchange.bank_id,
                    e.value_digest.in_(sorted({d for _, d in pairs})),
                    e.source == self.label,
                )
            ).all()
        for row in rows:
            pair = (row.signal_type, bytes(row.value_digest))
            if pair in pairs:
                category = wanted.entries[pair].category
                self.banks.update_entry(
                    int(row.id), category=category, clear_category=category is None
                )

    def _save(
        self,
        removed: set[Key],
        added: set[Key],
        kept: set[Key],
        wanted: _Wanted,
        checkpoint: Checkpoint | None,
        result: BatchResult,
    ) -> None:
        def rows(keys: set[Key]) -> list[Row]:
            out: list[Row] = []
            for source_id, signal_type, digest in keys:
                category = wanted.categories.get(source_id)
                out.append({
                    "s": source_id, "t": signal_type, "d": digest,
                    "cs": category.scheme if category else None,
                    "cc": category.code if category else None,
                })  # fmt: skip
            return out

        with db_errors(), self.engine.begin() as c:
            write_records(
                c, exchange_id=self.exchange.id, run=self.run, now=utcnow(),
                removed=rows(removed), added=rows(added), kept=rows(kept),
            )  # fmt: skip
            self._save_state(c, checkpoint, result)

    def _save_state(
        self, c: Connection, checkpoint: Checkpoint | None, result: BatchResult
    ) -> None:
        s = exchange_states.c
        values: dict[str, object] = {
            "records_total": s.records_total + result.records,
            "added_total": s.added_total + result.added,
            "removed_total": s.removed_total + result.removed,
            "skipped_total": s.skipped_total + result.skipped,
        }
        if checkpoint is not None:
            values["checkpoint"] = json.dumps(checkpoint, sort_keys=True)
        c.execute(update(exchange_states).where(s.exchange_id == self.exchange.id).values(**values))
