"""Loading millions of validated rows into one bank: large transactions, reading in parallel.

The importer (``banks.importing``) hands this module an iterator of rows; here they become
entry parameters (value digests included) on a reader thread while the calling thread writes
the previous batch: SQLite and psycopg release the GIL while the database works, so parsing
and inserting overlap on two cores. The queue between them holds at most
:data:`QUEUE_BATCHES` batches on SQLite, and a whole transaction's batches on PostgreSQL (the
server's insert of one transaction then overlaps the parsing of the next: 5M rows, 72,000 ->
96,000 rows/s, 160 MB more memory), so memory stays bounded whatever the file's size.

Each batch is one transaction with one ``entries_added`` change (``banks.bulk_insert``): its
rows are staged, then moved into the bank in key order. Batches are large
(:data:`ROWS_PER_TRANSACTION`): on SQLite in WAL mode every commit writes each index page it
touched, and random value digests touch a page per row, so small commits spent most of their
time rewriting the same index pages (2M rows: 38,000 rows/s with 10,000-row commits, 85,000
rows/s with 500,000-row commits). On SQLite the load holds one connection whose page cache is
raised to :data:`SQLITE_IMPORT_CACHE_KIB` for the load and set back after it, so more of the
unique index of a multi-million-entry bank stays in memory. On PostgreSQL each batch's
transaction commits with ``synchronous_commit`` off (the server does not wait for its WAL
flush). Large files into SQLite are read by a parser process instead of a thread
(``banks.parse_process``). Figures: docs/banks.md, "Performance".
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import numpy as np
from sqlalchemy import Connection, Engine, RootTransaction, select

from safehold.banks.bulk_insert import (
    KEY_ORDER,
    EntryParams,
    insert_staged,
    param_batches,
    stage_params,
)
from safehold.banks.formats.fields import Row
from safehold.banks.models import Category
from safehold.banks.rows import bank_name_is, category_of, db_errors, lock_change_log
from safehold.banks.validation import quote_name
from safehold.errors import NotFoundError, StorageError
from safehold.storage.tables import bank_entries, banks

#: Rows per transaction.
ROWS_PER_TRANSACTION = 500_000
#: Rows per transaction on PostgreSQL, at most (a smaller ``batch_rows`` is kept). Each
#: transaction holds the change-log lock through its insert, so every other writer (a single
#: entry added to any bank) waits up to one transaction. On a 2-core machine, 5M rows into a new
#: bank with one add every 0.25 s beside it (``benchmarks/import_contention.py``): 500,000 rows,
#: import 108-110 s, longest add 11.6-12.3 s; 250,000: 106.7 s, 6.1 s; 100,000: 114-120 s,
#: 3.1-3.3 s (smaller transactions cost the load more; docs/banks.md).
POSTGRESQL_ROWS_PER_TRANSACTION = 250_000
#: Rows per batch handed from the reader thread (a transaction takes several).
CHUNK_ROWS = 50_000
#: Batches read ahead of the database (bounds memory: about 50 MB per 100,000 rows; one more
#: batch is being built on the reader thread and one written).
QUEUE_BATCHES = 2
#: SQLite page cache of the importing connection during a load, KiB (the connection's own
#: setting is restored after it). Bounded: pages are allocated as used, at most this much.
SQLITE_IMPORT_CACHE_KIB = 256 * 1024

T = TypeVar("T")
_DONE = object()


def read_ahead(items: Iterator[T], depth: int = QUEUE_BATCHES) -> Iterator[T]:
    """Iterate ``items`` on a background thread, at most ``depth`` items ahead.

    An exception raised by ``items`` is raised here, in the caller's thread, in order. When
    the caller stops early (or fails), the reader thread is told to stop and ends after its
    current item; it is never waited for (it may be blocked reading a pipe), and being a
    daemon thread it never keeps the process alive.
    """
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the caller's thread
            put(exc)

    threading.Thread(target=run, name="safehold-import-reader", daemon=True).start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()


def batches(
    rows: Iterable[Row], default: Category | None, size: int = ROWS_PER_TRANSACTION
) -> Iterator[list[EntryParams]]:
    """Entry parameters of ``rows`` in lists of at most ``size``
    (``bulk_insert.param_batches``)."""
    return param_batches(rows, default, size)


def bank_target(engine: Engine, bank_name: str) -> tuple[int, str, Category | None]:
    """``(id, name as created, category)`` of the bank called ``bank_name``.

    Raises:
        NotFoundError: no such bank.
    """
    with db_errors(), engine.connect() as c:
        row = c.execute(
            select(banks.c.id, banks.c.name, banks.c.category_scheme, banks.c.category_code).where(
                bank_name_is(bank_name)
            )
        ).first()
    if row is None:
        raise NotFoundError(f"no bank named {quote_name(bank_name)}")
    return int(row.id), str(row.name), category_of(row.category_scheme, row.category_code)


def load_rows(
    engine: Engine,
    bank_name: str,
    rows: Iterable[Row],
    *,
    batch_rows: int = ROWS_PER_TRANSACTION,
    on_batch: Callable[[int, int], None] | None = None,
) -> int:
    """Add validated rows to bank ``bank_name``, one transaction per ``batch_rows`` rows (on
    PostgreSQL at most :data:`POSTGRESQL_ROWS_PER_TRANSACTION`), handed over from the reader
    thread in batches of at most :data:`CHUNK_ROWS`;
    return how many were added (duplicates of stored entries, or within the input, are skipped).

    ``rows`` is consumed on a reader thread (keep it free of thread-bound state).
    ``on_batch(rows_written, added)`` is called on this thread after each commit.

    Raises:
        NotFoundError: no such bank, or it was deleted during the load (batches committed
            before stay committed, and are deleted with the bank).
        StorageError: the database failed (earlier batches stay committed).
    """
    bank_id, name, default = bank_target(engine, bank_name)
    added = written = 0
    if engine.dialect.name == "postgresql":
        batch_rows = min(batch_rows, POSTGRESQL_ROWS_PER_TRANSACTION)
    chunk_rows = min(batch_rows, CHUNK_ROWS)
    # PostgreSQL: the reader thread may read a whole transaction ahead, so the server's
    # insert of one transaction overlaps the parsing of the next (see the module doc).
    depth = QUEUE_BATCHES
    if engine.dialect.name == "postgresql":
        depth = max(QUEUE_BATCHES, -(-batch_rows // chunk_rows))
    chunks = read_ahead(batches(rows, default, chunk_rows), depth)
    if engine.dialect.name == "postgresql":
        return _load_postgresql(engine, bank_id, name, chunks, batch_rows, on_batch)
    with db_errors(), engine.connect() as c, import_cache(c):
        for params in chunks:
            with loading_transaction(c, bank_id, name):
                in_transaction = _stage_transaction(c, params, chunks, batch_rows)
                added += insert_staged(c, bank_id, order=KEY_ORDER)
            written += in_transaction
            if on_batch is not None:
                on_batch(written, added)
    return added


def _stage_transaction(
    c: Connection,
    params: list[EntryParams],
    chunks: Iterator[list[EntryParams]],
    batch_rows: int,
    keys: list[np.ndarray] | None = None,
) -> int:
    """Stage ``params`` and further chunks from ``chunks`` on ``c`` until the transaction holds
    ``batch_rows`` rows or the input ends; return how many rows were staged. ``keys``, when
    given, gets each chunk's :func:`digest_keys`."""
    staged = 0
    while True:
        stage_params(c, params)
        staged += len(params)
        if keys is not None:
            keys.append(digest_keys(params))
        if staged >= batch_rows or (params := next(chunks, [])) == []:
            return staged


def digest_keys(params: list[EntryParams]) -> np.ndarray:
    """The first 8 bytes of each row's value digest, as ``uint64`` (shape ``(len(params),)``).

    Raises:
        ValueError: a digest is not 32 bytes (SHA-256).
    """
    raw = np.frombuffer(b"".join([p[3] for p in params]), dtype=np.uint8)
    if raw.size != 32 * len(params):
        raise ValueError("value digests must be SHA-256 (32 bytes)")
    return raw.reshape(-1, 32)[:, :8].copy().view("<u8").ravel()


class LoadKeys:
    """The keys a PostgreSQL load has sent so far, to tell whether a transaction may repeat
    one of them (then it inserts with ``ON CONFLICT DO NOTHING``; otherwise, into a bank that
    was empty, by a plain insert: ``bulk_insert.insert_staged``, ``new_keys``).

    A key is the first 8 bytes of a value digest (SHA-256; :func:`digest_keys`), signal type
    left out: a repeat is never missed, and a false one (two values sharing 64 bits, or one
    value under two signal types) only sends that transaction the slower, always-correct way.
    Kept as one sorted ``uint64`` array: 40 MB for 5M rows (80 MB while a transaction's keys
    are merged in). A transaction's keys are looked up in it by binary search, then merged
    (a stable sort of two sorted runs is one linear merge), so each transaction costs
    O(n log N + N) whatever the number of transactions before it.
    """

    def __init__(self) -> None:
        self._sent: np.ndarray = np.empty(0, "<u8")

    def add(self, keys: list[np.ndarray]) -> bool:
        """Record a transaction's keys (its chunks' :func:`digest_keys`); True when one of them
        may repeat a key recorded before (a repeat inside this transaction is the insert's to
        settle, so it does not count)."""
        joined = np.sort(np.concatenate(keys)) if keys else np.empty(0, "<u8")
        repeats = _shares(joined, self._sent)
        if joined.size:
            self._sent = np.sort(np.concatenate((self._sent, joined)), kind="stable")
        return repeats


def _shares(keys: np.ndarray, sent: np.ndarray) -> bool:
    """Whether sorted arrays ``keys`` and ``sent`` have a value in common."""
    at = np.searchsorted(sent, keys)
    inside = at < sent.size
    return bool(np.any(sent[at[inside]] == keys[inside]))


def _bank_is_empty(engine: Engine, bank_id: int) -> bool:
    """Whether bank ``bank_id`` holds no entry now (its ``bank_id`` index, one probe)."""
    with engine.connect() as c:
        query = select(bank_entries.c.id).where(bank_entries.c.bank_id == bank_id).limit(1)
        return c.execute(query).first() is None


def _load_postgresql(
    engine: Engine,
    bank_id: int,
    name: str,
    chunks: Iterator[list[EntryParams]],
    batch_rows: int,
    on_batch: Callable[[int, int], None] | None,
) -> int:
    """:func:`load_rows` on PostgreSQL: two connections take turns, so the ``COPY`` of one
    transaction's rows (on one connection) overlaps the server's insert of the previous
    transaction (on the other, run by an inserter thread). Transactions still commit one at a
    time in input order: the inserter runs them in turn, each under the change-log lock taken
    after its ``COPY`` (a ``COPY`` into the connection's temporary table touches no shared
    row). ``on_batch`` is called on this thread, in order, after each commit.
    """
    added = written = 0
    pending: deque[tuple[Future[int], int]] = deque()
    failed = threading.Event()  # set by the inserter: no later transaction may commit
    # Into an empty bank, a transaction whose keys no earlier one sent goes in by a plain
    # insert (LoadKeys); ``contended`` is set once another writer's entry got in the way.
    keys = LoadKeys() if _bank_is_empty(engine, bank_id) else None
    contended = threading.Event()

    def finish_oldest() -> None:
        nonlocal added, written
        future, rows = pending.popleft()
        added += future.result()
        written += rows
        if on_batch is not None:
            on_batch(written, added)

    with (
        db_errors(),
        engine.connect() as first,
        engine.connect() as second,
        ThreadPoolExecutor(1, thread_name_prefix="safehold-insert") as inserter,
    ):
        connections = (first, second)
        try:
            for number, params in enumerate(chunks):
                c = connections[number % 2]
                while len(pending) >= 2:  # c's previous transaction must be over
                    finish_oldest()
                transaction = c.begin()
                sent: list[np.ndarray] | None = [] if keys is not None else None
                try:
                    _no_commit_wait(c)
                    in_transaction = _stage_transaction(c, params, chunks, batch_rows, sent)
                except BaseException:
                    transaction.rollback()
                    raise
                new_keys = keys is not None and sent is not None and not keys.add(sent)
                job = inserter.submit(
                    _insert_and_commit,
                    c,
                    transaction,
                    (bank_id, name),
                    failed,
                    contended if new_keys else None,
                )
                pending.append((job, in_transaction))
        except BaseException:
            # Reading or copying failed (or an interrupt): the transactions read whole before
            # it still commit, in order, as on one connection; then the error is raised.
            with contextlib.suppress(Exception):
                while pending:
                    finish_oldest()
            raise
        while pending:
            finish_oldest()  # an insert's failure stops the inserter (see _insert_and_commit)
    return added


def _insert_and_commit(
    c: Connection,
    transaction: RootTransaction,
    bank: tuple[int, str],
    failed: threading.Event,
    contended: threading.Event | None = None,
) -> int:
    """The second half of one :func:`_load_postgresql` transaction (its rows are staged):
    the change-log lock, the bank check, the insert, the commit. Rolled back on failure, which
    sets ``failed``; once it is set, later transactions are rolled back unrun (the rows of a
    load commit in input order or not at all past the first failure).

    ``bank`` is the bank's id and name. With ``contended`` given, no staged key should be in
    the bank: the rows go in by a plain insert under a savepoint; should one be there after all
    (another writer added it since the load began), the insert is rolled back to the savepoint,
    done again with ``ON CONFLICT DO NOTHING`` and ``contended`` is set, so later transactions
    of the load take that way at once."""
    bank_id, name = bank
    try:
        if failed.is_set():
            raise StorageError("an earlier transaction of this load failed")
        lock_change_log(c)
        _check_bank(c, bank_id, name)
        added = None
        if contended is not None and not contended.is_set():
            added = _insert_new_keys(c, bank_id)
            if added is None:
                contended.set()
        if added is None:
            added = insert_staged(c, bank_id, order=KEY_ORDER)
        transaction.commit()
        return added
    except BaseException:
        failed.set()
        transaction.rollback()
        raise


def _insert_new_keys(c: Connection, bank_id: int) -> int | None:
    """:func:`insert_staged` with ``new_keys`` under a savepoint; None (rolled back to it)
    when a staged key was in the bank after all."""
    from psycopg.errors import UniqueViolation  # PostgreSQL only

    try:
        with c.begin_nested():
            return insert_staged(c, bank_id, order=KEY_ORDER, new_keys=True)
    except UniqueViolation:
        return None


def _no_commit_wait(c: Connection) -> None:
    """PostgreSQL: this transaction's commit does not wait for its WAL flush."""
    if c.dialect.name == "postgresql":
        # This transaction only: a server crash within ~0.6 s of the commit can
        # lose this batch (never corrupt anything); re-running the import adds it.
        c.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")


def _check_bank(c: Connection, bank_id: int, name: str) -> None:
    """Raise :class:`NotFoundError` unless bank ``bank_id`` is there (under the change-log
    lock: entries have no foreign key, revision 0007)."""
    if c.execute(select(banks.c.id).where(banks.c.id == bank_id)).first() is None:
        raise NotFoundError(f"no bank named {quote_name(name)} (deleted meanwhile)")


@contextmanager
def loading_transaction(c: Connection, bank_id: int, name: str) -> Iterator[None]:
    """One batch's transaction on ``c``: the change-log lock, then a check that the bank is
    still there (writers check under the lock bank deletion takes: entries have no foreign
    key, revision 0007). On PostgreSQL the commit does not wait for its WAL flush.

    Raises:
        NotFoundError: the bank was deleted meanwhile (``name`` is its name, for the message).
    """
    with c.begin():
        _no_commit_wait(c)
        lock_change_log(c)
        _check_bank(c, bank_id, name)
        yield


@contextmanager
def import_cache(c: Connection) -> Iterator[None]:
    """On SQLite, raise ``c``'s page cache to :data:`SQLITE_IMPORT_CACHE_KIB` meanwhile."""
    if c.dialect.name != "sqlite":
        yield
        return
    before = c.exec_driver_sql("PRAGMA cache_size").scalar_one()
    c.exec_driver_sql(f"PRAGMA cache_size=-{int(SQLITE_IMPORT_CACHE_KIB)}")
    c.commit()
    try:
        yield
    finally:
        if c.in_transaction():
            c.rollback()
        c.exec_driver_sql(f"PRAGMA cache_size={int(before)}")
        c.commit()
