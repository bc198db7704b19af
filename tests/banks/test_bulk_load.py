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
