"""Fetch an exchange: hold its lease, apply batch after batch, store each checkpoint.

One fetch of exchange X::

    claim the lease on X (UPDATE exchange_states ... WHERE claimed_until < now)
    run = runs + 1; source = open_source(X); checkpoint = the stored one
    for batch in source.fetch(checkpoint):
        apply the batch; commit provenance + batch.checkpoint in one transaction
    snapshot source, complete list: sweep records not seen in this run
    record success (last_success_at, as_of) or the error; release the lease

The lease is the webhook deliverer's pattern (:mod:`safehold.actions.webhooks`): one row-level
``UPDATE ... WHERE`` wins on SQLite and PostgreSQL alike, a heartbeat thread renews it while the
fetch runs, and a crashed fetcher's lease runs out so another worker resumes from the last
committed checkpoint. A failed fetch keeps every committed batch and the bank's entries: nothing
is removed on failure, and a snapshot that arrives empty is refused rather than emptying a bank.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select, update

from safehold.banks.rows import db_errors
from safehold.banks.service import BankService
from safehold.errors import ConflictError, FetchError, SafeholdError
from safehold.exchanges.apply import BatchApplier
from safehold.exchanges.base import RecordUpdate
from safehold.exchanges.http import ExchangeHttp
from safehold.exchanges.models import Exchange, FetchReport
from safehold.exchanges.store import ExchangeService
from safehold.storage.tables import exchange_records, exchange_states, utcnow

log = logging.getLogger(__name__)

#: Records deleted per batch when a snapshot sweep removes unlisted ones.
SWEEP_CHUNK = 5000


def default_worker_id() -> str:
    """``host:pid:random`` (recorded in ``claimed_by``)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:100]


class ExchangeFetcher:
    """Fetches exchanges of one database; safe to run in several threads and processes.

    Args:
        exchanges, banks: the services of the database.
        worker_id: recorded in the lease (default :func:`default_worker_id`).
        http_factory: builds the HTTP client of one fetch from the exchange's name (closed
            after the fetch; default :class:`ExchangeHttp`).
        clock: the current aware UTC time.
    """

    def __init__(
        self,
        exchanges: ExchangeService,
        banks: BankService,
        *,
        worker_id: str | None = None,
        http_factory: Callable[[str], Any] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.exchanges = exchanges
        self.banks = banks
        self.engine: Engine = exchanges.engine
        self.worker_id = worker_id or default_worker_id()
        self.lease = timedelta(seconds=exchanges.settings.exchange_lease_seconds)
        self.http_factory = http_factory or (lambda name: ExchangeHttp(exchanges.settings, name))
        self.clock = clock

    # -- one fetch ---------------------------------------------------------------------------

    def fetch(self, name: str) -> FetchReport:
        """Fetch the exchange ``name`` now (enabled or not) and return what it did.

        Raises:
            NotFoundError: no such exchange.
            ConflictError: another fetcher holds its lease.
            FetchError, InvalidInputError, ContentTooLargeError, ConfigurationError,
            StorageError: the fetch failed; the error is recorded in the exchange's status and
                every batch committed before it stays.
        """
        exchange = self.exchanges.get_exchange(name)
        run = self._claim(exchange)
        if run is None:
            raise ConflictError(f"exchange {exchange.name!r} is being fetched by another worker")
        report = FetchReport(exchange.name)
        try:
            with self._heartbeat(exchange):
                self._fetch(exchange, run, report)
        except SafeholdError as exc:
            self._finish(exchange, error=exc.message)
            raise
        except Exception as exc:
            self._finish(exchange, error=f"unexpected error ({type(exc).__name__})")
            raise
        return report

    def _fetch(self, exchange: Exchange, run: int, report: FetchReport) -> None:
        applier = BatchApplier(self.banks, exchange, run)
        as_of: float | None = None
        complete = False
        with closing(self.http_factory(exchange.name)) as http:
            source = self.exchanges.open_source(exchange, http)
            for batch in source.fetch(self._checkpoint(exchange)):
                result = applier.apply(batch.updates, batch.checkpoint, batch.skipped)
                report.batches += 1
                report.records += result.records
                report.added += result.added
                report.removed += result.removed
                report.skipped += result.skipped
                report.caught_up = report.caught_up or batch.caught_up or batch.complete
                as_of = batch.as_of if batch.as_of is not None else as_of
                complete = complete or batch.complete
        if complete:
            self._sweep(exchange, run, applier, report)
        if report.caught_up and as_of is None:
            as_of = self.clock().timestamp()
        self._finish(exchange, as_of=as_of)

    def _sweep(
        self, exchange: Exchange, run: int, applier: BatchApplier, report: FetchReport
    ) -> None:
        """Delete the records a complete snapshot no longer lists (refusing an empty one)."""
        r = exchange_records.c
        mine = r.exchange_id == exchange.id
        with db_errors(), self.engine.connect() as c:
            seen = c.execute(select(func.count()).where(mine, r.run == run)).scalar_one()
            stale = [
                row[0] for row in c.execute(select(r.source_id).distinct().where(mine, r.run < run))
            ]
        if stale and not seen:
            raise FetchError(
                f"exchange {exchange.name!r} delivered an empty list; the bank keeps its "
                f"{len(stale)} records (remove the exchange to empty it on purpose)"
            )
        for start in range(0, len(stale), SWEEP_CHUNK):
            gone = [RecordUpdate(s, deleted=True) for s in stale[start : start + SWEEP_CHUNK]]
            result = applier.apply(gone, None)
            report.removed += result.removed
            report.swept += len(gone)

    # -- state and lease ---------------------------------------------------------------------

    def _checkpoint(self, exchange: Exchange) -> dict[str, Any] | None:
        with db_errors(), self.engine.connect() as c:
            text = c.execute(
                select(exchange_states.c.checkpoint).where(
                    exchange_states.c.exchange_id == exchange.id
                )
            ).scalar()
        return None if text is None else dict(json.loads(text))

    def _claim(self, exchange: Exchange) -> int | None:
        """Take the lease and start a run; return the run number, or None when taken."""
        s = exchange_states.c
        now = self.clock()
        with db_errors(), self.engine.begin() as c:
            won = c.execute(
                update(exchange_states)
                .where(
                    s.exchange_id == exchange.id,
                    or_(s.claimed_until.is_(None), s.claimed_until < now),
                )
                .values(
                    claimed_until=now + self.lease,
                    claimed_by=self.worker_id,
                    runs=s.runs + 1,
                    last_attempt_at=now,
                )
            ).rowcount
            if won != 1:
                return None
            return int(c.execute(select(s.runs).where(s.exchange_id == exchange.id)).scalar_one())

    def _mine(self, exchange: Exchange) -> Any:
        s = exchange_states.c
        return and_(s.exchange_id == exchange.id, s.claimed_by == self.worker_id)

    @contextmanager
    def _heartbeat(self, exchange: Exchange) -> Iterator[None]:
        """Renew the lease every third of its length while the body runs."""
        done = threading.Event()

        def renew() -> None:
            while not done.wait(self.lease.total_seconds() / 3):
                try:
                    with self.engine.begin() as c:
                        c.execute(
                            update(exchange_states)
                            .where(self._mine(exchange))
                            .values(claimed_until=self.clock() + self.lease)
                        )
                except Exception as exc:  # the next renewal or the lease itself covers it
                    log.warning("renewing the lease of exchange %r failed: %s", exchange.name, exc)

        thread = threading.Thread(target=renew, name="safehold-exchange-lease", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def _finish(
        self, exchange: Exchange, *, error: str | None = None, as_of: float | None = None
    ) -> None:
        s = exchange_states.c
        now = self.clock()
        values: dict[str, object] = {"claimed_until": None, "claimed_by": None}
        if error is None:
            values.update(last_success_at=now, last_error=None, failures=0)
            if as_of is not None:
                values["as_of"] = datetime.fromtimestamp(as_of, UTC)
        else:  # the caller reports it (run_once logs it): not logged here as well
            values.update(last_error=error[:2000], last_error_at=now, failures=s.failures + 1)
        try:
            with db_errors(), self.engine.begin() as c:
                c.execute(update(exchange_states).where(self._mine(exchange)).values(**values))
        except SafeholdError as exc:  # the lease runs out by itself
            log.warning("exchange %r: recording the fetch result failed: %s", exchange.name, exc)

    # -- schedule ----------------------------------------------------------------------------

    def due(self) -> list[str]:
        """Names of enabled exchanges whose interval has passed since their last attempt and
        that no fetcher holds now."""
        now = self.clock()
        names = []
        for status in self.exchanges.statuses():
            e = status.exchange
            last = status.last_attempt_at
            if not e.enabled or status.fetching:
                continue
            if last is None or last + timedelta(seconds=e.interval_seconds) <= now:
                names.append(e.name)
        return names

    def run_once(self) -> int:
        """Fetch every due exchange once; return how many were fetched (failed ones count).
        Errors are recorded in the exchanges' status, never raised."""
        done = 0
        for name in self.due():
            try:
                self.fetch(name)
            except ConflictError:
                continue  # another worker won the lease
            except SafeholdError as exc:  # also recorded in the status
                log.warning("exchange %r: fetch failed: %s", name, exc.message)
            except Exception:
                log.exception("exchange %r: fetch failed", name)
            done += 1
        return done

    def run_forever(self, stop: threading.Event, poll_s: float) -> None:
        """Fetch due exchanges until ``stop`` is set, checking every ``poll_s`` seconds."""
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.run_once()
            except SafeholdError as exc:
                log.warning("exchange schedule pass failed: %s", exc.message)
            except Exception:
                log.exception("exchange schedule pass failed")
            stop.wait(max(0.0, poll_s - (time.monotonic() - started)))


def start_exchange_fetcher(
    exchanges: ExchangeService, banks: BankService, stop: threading.Event
) -> threading.Thread:
    """Start a daemon thread running :meth:`ExchangeFetcher.run_forever` until ``stop`` is set
    (the service starts one per worker; the leases let one worker fetch each exchange)."""
    fetcher = ExchangeFetcher(exchanges, banks)
    poll = exchanges.settings.exchange_poll_seconds
    thread = threading.Thread(
        target=fetcher.run_forever, args=(stop, poll), name="safehold-exchanges", daemon=True
    )
    thread.start()
    return thread
