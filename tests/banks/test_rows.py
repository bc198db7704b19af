"""The change log's ordering guarantee under concurrent writers, on real SQLite and real
PostgreSQL: a change numbered N is never seen after a change numbered above N."""

from __future__ import annotations

import threading

from sqlalchemy import select

from safehold.banks.models import NewEntry
from safehold.banks.service import BankService
from safehold.storage.tables import changes

WRITERS = 4
ROUNDS = 12


def _writer(service: BankService, bank: str, worker: int, toggle_id: int) -> None:
    for r in range(ROUNDS):
        # A bulk batch holds its change id for a while (COPY or executemany) before it
        # commits; toggles and single adds commit at once. Without the change-log lock a
        # toggle numbered above a batch could commit first.
        start = (worker * ROUNDS + r) * 300
        service.add_entries(bank, [NewEntry("md5", f"{start + i:032x}") for i in range(300)])
        service.set_entry_enabled(toggle_id, r % 2 == 1)
        service.add_entry(bank, NewEntry("sha256", f"{worker:02x}{r:062x}"))


def test_change_ids_become_visible_in_order(bank_service: BankService) -> None:
    bank_service.create_bank("b")
    toggle = bank_service.add_entry("b", NewEntry("md5", "f" * 32)).id
    done = threading.Event()
    late: list[tuple[int, int]] = []  # (change id, newest id seen before it)

    def observe() -> None:
        seen: set[int] = set()
        newest = 0
        while True:
            finished = done.is_set()
            with bank_service.engine.connect() as c:
                ids = set(c.execute(select(changes.c.id)).scalars())
            late.extend((i, newest) for i in ids - seen if i < newest)
            seen |= ids
            newest = max(seen, default=0)
            if finished:
                return

    watcher = threading.Thread(target=observe)
    watcher.start()
    writers = [
        threading.Thread(target=_writer, args=(bank_service, "b", w, toggle))
        for w in range(WRITERS)
    ]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    done.set()
    watcher.join()
    assert late == []
    assert bank_service.get_bank("b").entry_count == 1 + WRITERS * ROUNDS * 301
