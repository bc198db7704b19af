"""The bulk loader: the read-ahead thread (order, errors in order, never a hang on stop) and
the SQLite page cache raised for a load only."""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from safehold.banks.bulk_load import read_ahead
from safehold.banks.service import BankService


def test_items_arrive_in_order_and_an_error_after_them() -> None:
    def items() -> Iterator[int]:
        yield from range(5)
        raise ValueError("broken input")

    got: list[int] = []
    with pytest.raises(ValueError, match="broken input"):
        got.extend(read_ahead(items(), depth=2))
    assert got == [0, 1, 2, 3, 4]


def test_stopping_early_never_waits_for_a_blocked_reader() -> None:
    release = threading.Event()

    def items() -> Iterator[int]:
        yield 1
        release.wait(10)  # a reader blocked on a pipe that sends nothing more
        yield from itertools.count(2)

    started = time.monotonic()
    reader = read_ahead(items(), depth=1)
    assert next(reader) == 1
    reader.close()  # the caller stops (a database error, say)
    assert time.monotonic() - started < 5
    release.set()


def test_sqlite_page_cache_is_raised_for_a_load_and_set_back_after(tmp_path: Path) -> None:
    from safehold.banks.bulk_load import SQLITE_IMPORT_CACHE_KIB, load_rows
    from safehold.banks.service import BankService
    from safehold.settings import Settings
    from safehold.storage.engine import SQLITE_CACHE_KIB, open_database

    engine = open_database(Settings(database_url=f"sqlite:///{tmp_path}/cache.db"))
    seen: list[int] = []

    def cache_in_batches(_c: object, cursor: Any, statement: str, *_args: object) -> None:
        # Each batch first checks that the bank still exists, on the load's connection.
        if statement.startswith("SELECT banks.id") and "WHERE banks.id =" in statement:
            seen.append(int(cursor.connection.execute("PRAGMA cache_size").fetchone()[0]))

    try:
        BankService(engine).create_bank("b")
        event.listen(engine, "before_cursor_execute", cache_in_batches)
        rows = [("md5", f"{i:032x}", None, None, "test", "") for i in range(1, 6)]
        assert load_rows(engine, "b", rows, batch_rows=2) == 5
        assert seen == [-SQLITE_IMPORT_CACHE_KIB] * 3  # three batches: 2 + 2 + 1 rows
        with engine.connect() as c:  # the pool's connection again, its cache set back
            assert c.exec_driver_sql("PRAGMA cache_size").scalar_one() == -SQLITE_CACHE_KIB
    finally:
        engine.dispose()


def test_a_transaction_takes_several_batches_from_the_reader(
    bank_service: BankService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safehold.banks import bulk_load

    monkeypatch.setattr(bulk_load, "CHUNK_ROWS", 2)
    bank_service.create_bank("b")
    values = [f"{i:032x}" for i in range(1, 11)]
    rows = [("md5", v, None, None, "test", "") for v in [*values[:3], values[0], *values[3:]]]
    seen: list[tuple[int, int]] = []
    added = bulk_load.load_rows(
        bank_service.engine, "b", rows, batch_rows=5, on_batch=lambda *a: seen.append(a)
    )
    # 11 rows in batches of 2: transactions of 6 and 5 rows; the repeat of the first value
    # (row 4, second batch of the first transaction) is skipped.
    assert (added, seen) == (10, [(6, 5), (11, 10)])
    # Each transaction's rows are stored in the unique key's order (signal type, then SHA-256
    # of the value), so ids follow it; the transactions follow the input.
    inserts = [values[:5], values[5:]]
    stored = [e.value for e in bank_service.iter_entries("b")]
    assert stored == [v for chunk in inserts for v in sorted(chunk, key=_digest)]


def test_postgresql_transactions_are_capped_so_other_writers_wait_less(
    bank_service: BankService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # each transaction holds the change-log lock through its insert: a single add to any bank
    # waited up to 12 s behind 500,000-row transactions (docs/banks.md)
    from safehold.banks import bulk_load

    monkeypatch.setattr(bulk_load, "POSTGRESQL_ROWS_PER_TRANSACTION", 4)
    bank_service.create_bank("b")
    rows = [("md5", f"{i:032x}", None, None, "test", "") for i in range(1, 11)]
    seen: list[tuple[int, int]] = []
    added = bulk_load.load_rows(
        bank_service.engine, "b", rows, batch_rows=6, on_batch=lambda *a: seen.append(a)
    )
    assert added == 10
    if bank_service.engine.dialect.name == "postgresql":
        assert seen == [(4, 4), (8, 8), (10, 10)]
    else:  # SQLite keeps large transactions (each commit rewrites the index pages it touched)
        assert seen == [(6, 6), (10, 10)]


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def test_transactions_commit_in_input_order_and_the_first_copy_wins(
    bank_service: BankService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On PostgreSQL two connections take turns (one copies while the other inserts): seven
    # transactions, each repeating a value of the one before, must still keep first copies.
    from safehold.banks import bulk_load

    monkeypatch.setattr(bulk_load, "CHUNK_ROWS", 3)
    bank_service.create_bank("b")
    rows = [("md5", f"{i + 1:032x}", None, None, "test", "t0") for i in range(6)]
    for t in range(1, 7):  # five new values and a repeat of the transaction before: 6 rows
        rows += [("md5", f"{t * 10 + i + 1:032x}", None, None, "test", f"t{t}") for i in range(5)]
        rows.append(("md5", f"{(t - 1) * 10 + 1:032x}", None, None, "test", f"again {t}"))
    seen: list[tuple[int, int]] = []
    added = bulk_load.load_rows(
        bank_service.engine, "b", rows, batch_rows=6, on_batch=lambda *a: seen.append(a)
    )
    assert added == 36
    assert seen == [(6 * (t + 1), 6 + 5 * t) for t in range(7)]
    stored = sorted(bank_service.iter_entries("b"), key=lambda e: e.id)
    assert {e.note for e in stored} == {f"t{t}" for t in range(7)}  # no repeat was stored
    # Ids follow the transactions, so the file: t0's rows first, t6's last.
    transactions = [int(e.note[1:]) for e in stored]
    assert transactions == sorted(transactions)
    assert len(stored) == 36


def test_a_failed_transaction_stops_the_load_and_keeps_the_ones_before(
    bank_service: BankService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safehold.banks import bulk_load
    from safehold.errors import StorageError

    real = bulk_load.insert_staged
    calls = 0

    def failing_third(*args: Any, **kwargs: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise StorageError("the database failed (test)")
        return real(*args, **kwargs)

    monkeypatch.setattr(bulk_load, "insert_staged", failing_third)
    bank_service.create_bank("b")
    rows = [("md5", f"{i:032x}", None, None, "test", f"row {i}") for i in range(1, 26)]
    seen: list[tuple[int, int]] = []
    with pytest.raises(StorageError, match="test"):
        bulk_load.load_rows(
            bank_service.engine, "b", rows, batch_rows=5, on_batch=lambda *a: seen.append(a)
        )
    stored = sorted(int(e.value, 16) for e in bank_service.iter_entries("b"))
    assert stored == list(range(1, 11))  # the first two transactions, nothing after
    assert seen == [(5, 5), (10, 10)]
    assert calls == 3  # no transaction was tried after the failure


def _keys(*values: bytes) -> list[Any]:
    from safehold.banks.bulk_load import digest_keys

    params = [(0, "md5", "", hashlib.sha256(v).digest(), None, None, None, "", "") for v in values]
    return [digest_keys(params)]


def test_load_keys_tell_a_repeat_of_an_earlier_transaction_only() -> None:
    from safehold.banks.bulk_load import LoadKeys, digest_keys

    keys = LoadKeys()
    assert keys.add(_keys(b"a", b"b", b"a")) is False  # a repeat inside one: the insert's
    assert keys.add(_keys(b"c") + _keys(b"d")) is False  # a transaction of two chunks
    assert keys.add(_keys(b"e", b"b")) is True  # "b" was sent by the first transaction
    assert keys.add(_keys(b"f")) is False
    assert keys.add([]) is False
    # the key is the digest's first 8 bytes, read as one little-endian integer
    assert digest_keys([(0, "md5", "", bytes(range(32)), None, None, None, "", "")]).tolist() == [
        int.from_bytes(bytes(range(8)), "little")
    ]
    with pytest.raises(ValueError, match="SHA-256"):
        digest_keys([(0, "md5", "", b"short", None, None, None, "", "")])


def test_load_keys_match_a_brute_force_search_over_many_transactions() -> None:
    import random

    from safehold.banks.bulk_load import LoadKeys

    rng = random.Random(3)
    keys, sent = LoadKeys(), set()
    for _ in range(60):
        values = [str(rng.randrange(2_000)).encode() for _ in range(rng.randrange(0, 40))]
        chunks = _keys(*values) if values else []
        assert keys.add(chunks) is bool(sent & set(values)), values
        sent |= set(values)


def test_a_load_into_an_empty_bank_inserts_plainly_until_a_repeat_or_a_stored_key(
    bank_service: BankService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safehold.banks import bulk_load

    real = bulk_load.insert_staged
    ways: list[bool] = []

    def recording(*args: Any, **kwargs: Any) -> int:
        ways.append(bool(kwargs.get("new_keys")))
        return int(real(*args, **kwargs))

    monkeypatch.setattr(bulk_load, "insert_staged", recording)
    bank_service.create_bank("b")
    rows = [("md5", f"{i:032x}", None, None, "test", f"first {i}") for i in range(1, 5)]
    rows.insert(2, ("md5", f"{1:032x}", None, None, "test", "repeat in one transaction"))
    rows += [("md5", f"{i:032x}", None, None, "test", f"t2 {i}") for i in range(10, 15)]
    rows += [("md5", f"{3:032x}", None, None, "test", "repeat of t1")]
    rows += [("md5", f"{i:032x}", None, None, "test", f"t3 {i}") for i in range(20, 25)]
    assert bulk_load.load_rows(bank_service.engine, "b", rows, batch_rows=5) == 14
    notes = {int(e.value, 16): e.note for e in bank_service.iter_entries("b")}
    assert notes[1] == "first 1"
    assert notes[3] == "first 3"
    assert len(notes) == 14
    if bank_service.engine.dialect.name == "postgresql":
        # transactions: rows 1-5 (a repeat inside), 10-14, the repeat of 3 with 20-23, 24
        assert ways == [True, True, False, True]
        ways.clear()  # into a bank that holds entries: always ON CONFLICT
        more = [("md5", f"{i:032x}", None, None, "test", "again") for i in range(1, 31)]
        assert bulk_load.load_rows(bank_service.engine, "b", more, batch_rows=10) == 16
        assert ways == [False, False, False]
    else:
        assert ways == [False, False, False, False]  # SQLite has one way only


def test_a_key_stored_by_another_writer_during_the_load_falls_back_without_loss(
    bank_service: BankService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The bank looked empty when the load began; another writer then added a value that a
    # later transaction holds. The plain insert fails, is rolled back to its savepoint and
    # the rows go in with ON CONFLICT: nothing lost, the other writer's entry kept.
    from safehold.banks import bulk_load
    from safehold.banks.models import NewEntry

    real = bulk_load.insert_staged
    ways: list[bool] = []
    seen: list[tuple[int, int]] = []

    def other_writer_then_insert(*args: Any, **kwargs: Any) -> int:
        ways.append(bool(kwargs.get("new_keys")))
        return int(real(*args, **kwargs))

    monkeypatch.setattr(bulk_load, "insert_staged", other_writer_then_insert)
    bank_service.create_bank("b")
    monkeypatch.setattr(bulk_load, "_bank_is_empty", lambda *_: True)
    bank_service.add_entries("b", [NewEntry("md5", f"{7:032x}", note="other writer")])
    rows = [("md5", f"{i:032x}", None, None, "test", "load") for i in range(1, 16)]
    added = bulk_load.load_rows(
        bank_service.engine, "b", rows, batch_rows=5, on_batch=lambda *a: seen.append(a)
    )
    assert added == 14
    notes = {int(e.value, 16): e.note for e in bank_service.iter_entries("b")}
    assert sorted(notes) == list(range(1, 16))
    assert notes[7] == "other writer"
    assert seen == [(5, 5), (10, 9), (15, 14)]
    if bank_service.engine.dialect.name == "postgresql":
        # first transaction plain; the second tried plainly, failed, went again with ON
        # CONFLICT; the third went that way at once
        assert ways == [True, True, False, False]
    with bank_service.engine.connect() as c:  # one change per transaction, counts as added
        from sqlalchemy import select

        from safehold.storage.tables import changes

        counts = (
            c.execute(
                select(changes.c.count)
                .where(changes.c.kind == "entries_added")
                .order_by(changes.c.id)
            )
            .scalars()
            .all()
        )
    assert counts == [1, 5, 4, 5]
