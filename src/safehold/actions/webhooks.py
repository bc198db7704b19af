"""Deliver the outbox: POST each pending delivery to its webhook, signed, at least once.

Any number of deliverers (one thread per service worker, or ``safehold actions deliver``) share
the outbox. A deliverer *claims* a due row with a lease::

    UPDATE outbox SET claimed_until = now + lease, claimed_by = me, attempts = attempts + 1
    WHERE id = :id AND status = 'pending' AND next_attempt_at <= now
      AND (claimed_until IS NULL OR claimed_until < now)

and owns it when one row changed (works the same on SQLite and PostgreSQL). A deliverer killed
mid-delivery leaves the lease to run out; another one then retries with the same
``Safehold-Delivery-Id``, which receivers use to drop duplicates. Counting the attempt at
claim time means a delivery that crashes its deliverer every time still ends ``dead``.

On a 2xx answer the row is ``delivered``; otherwise it is due again after an exponential
backoff with "equal jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015):
``d = min(1 h, webhook_backoff_seconds * 2 ** (attempts - 1))``, wait ``d/2 + uniform(0, d/2)``;
after the action's ``max_attempts`` it is ``dead`` (a dead letter; ``retry_dead`` re-queues).
Target addresses pass the URL fetch rules (:mod:`safehold.fetching`) at every attempt. Signing:
:mod:`safehold.actions.signing` (``verify_signature`` is re-exported here for receivers).
"""

from __future__ import annotations

import logging
import os
import random
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Engine, and_, or_, select, update

from safehold import __version__
from safehold.actions.service import ActionService
from safehold.actions.signing import signature_header, verify_signature
from safehold.banks.rows import db_errors
from safehold.errors import FetchError, SafeholdError, UnsafeUrlError
from safehold.fetching.addresses import AddressPolicy
from safehold.fetching.transport import pinned_client
from safehold.settings import Settings
from safehold.storage.tables import bank_actions, outbox, utcnow

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 3600.0
BATCH = 50  # due rows read per pass
DEFAULT_POLL_S = 1.0

__all__ = ["Deliverer", "backoff_delay", "start_deliverer", "verify_signature"]


def backoff_delay(attempts: int, base_s: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempts`` (1-based): equal jitter over
    ``min(3600, base_s * 2 ** (attempts - 1))`` (see the module docstring)."""
    ceiling = min(MAX_BACKOFF_S, base_s * 2.0 ** min(max(attempts - 1, 0), 40))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    payload: str
    attempts: int
    url: str
    secret: str
    max_attempts: int


class Deliverer:
    """Delivers due outbox rows; safe to run in several threads and processes at once.

    Args:
        engine: the database holding the outbox.
        settings: ``webhook_timeout_seconds``, ``webhook_backoff_seconds``,
            ``webhook_lease_seconds`` and ``fetch_allow_networks``.
        worker_id: recorded in ``claimed_by`` (default: host, pid and a random suffix).
        clock: returns the current aware UTC time (tests pass a fake clock).
        verify: TLS verification: ``True`` (system CAs) or an ``ssl.SSLContext``.

    While an attempt runs, a heartbeat thread renews its lease every third of
    ``webhook_lease_seconds``, so a short lease (quick take-over after a crash) never expires
    under a slow but live attempt. Renewal stops after ``3 * webhook_timeout_seconds`` (httpx
    bounds connect, send and each read separately, so a receiver trickling its answer could
    hold an attempt longer); such an attempt may then be sent again by another deliverer.
    """

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        verify: bool | ssl.SSLContext = True,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.worker_id = (worker_id or _default_worker_id())[:100]
        self.timeout = settings.webhook_timeout_seconds
        self.lease = timedelta(seconds=settings.webhook_lease_seconds)
        policy = AddressPolicy.from_networks(settings.fetch_allow_networks)
        self._client = pinned_client(policy, self.timeout, verify=verify)
        self._rng = random.Random()

    # -- one pass ----------------------------------------------------------------------------

    def run_once(self) -> int:
        """Attempt every delivery due now (up to 50); return how many were attempted."""
        done = 0
        for row_id in self._due_ids():
            claimed = self._claim(row_id)
            if claimed is not None:
                self._attempt(claimed)
                done += 1
        return done

    def _due_ids(self) -> list[int]:
        now = self.clock()
        query = (
            select(outbox.c.id)
            .join(bank_actions, bank_actions.c.id == outbox.c.action_id)
            .where(
                outbox.c.status == "pending",
                outbox.c.next_attempt_at <= now,
                or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < now),
                bank_actions.c.enabled.is_(True),
            )
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
            .limit(BATCH)
        )
        with db_errors(), self.engine.connect() as c:
            return [row.id for row in c.execute(query)]

    def _claim(self, row_id: int) -> _Claimed | None:
        now = self.clock()
        with db_errors(), self.engine.begin() as c:
            won = c.execute(
                update(outbox)
                .where(
                    outbox.c.id == row_id,
                    outbox.c.status == "pending",
                    outbox.c.next_attempt_at <= now,
                    or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < now),
                )
                .values(
                    claimed_until=now + self.lease,
                    claimed_by=self.worker_id,
                    attempts=outbox.c.attempts + 1,
                )
            ).rowcount
            if won != 1:
                return None
            row = c.execute(
                select(
                    outbox.c.id,
                    outbox.c.payload,
                    outbox.c.attempts,
                    bank_actions.c.url,
                    bank_actions.c.secret,
                    bank_actions.c.max_attempts,
                )
                .join(bank_actions, bank_actions.c.id == outbox.c.action_id)
                .where(outbox.c.id == row_id)
            ).one()
        return _Claimed(row.id, row.payload, row.attempts, row.url, row.secret, row.max_attempts)

    @contextmanager
    def _heartbeat(self, row_id: int) -> Iterator[None]:
        """Renew the lease on ``row_id`` while the body runs (see the class docstring)."""
        done = threading.Event()
        interval = self.lease.total_seconds() / 3
        give_up = time.monotonic() + 3 * self.timeout
        mine = and_(
            outbox.c.id == row_id,
            outbox.c.claimed_by == self.worker_id,
            outbox.c.status == "pending",
        )

        def renew() -> None:
            while not done.wait(interval) and time.monotonic() < give_up:
                try:
                    with self.engine.begin() as c:
                        until = self.clock() + self.lease
                        c.execute(update(outbox).where(mine).values(claimed_until=until))
                except Exception as exc:  # the next renewal or the lease itself covers it
                    log.warning("renewing the lease of delivery %d failed: %s", row_id, exc)

        thread = threading.Thread(target=renew, name="safehold-webhook-lease", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def _attempt(self, claimed: _Claimed) -> None:
        with self._heartbeat(claimed.id):
            error = self._post(claimed)
        now = self.clock()
        mine = and_(outbox.c.id == claimed.id, outbox.c.claimed_by == self.worker_id)
        if error is None:
            values: dict[str, object] = {"status": "delivered", "delivered_at": now}
            values["last_error"] = None
        elif claimed.attempts >= claimed.max_attempts:
            values = {"status": "dead", "last_error": error}
            log.warning("delivery %d is dead after %d attempts", claimed.id, claimed.attempts)
        else:
            delay = backoff_delay(
                claimed.attempts, self.settings.webhook_backoff_seconds, self._rng
            )
            values = {"next_attempt_at": now + timedelta(seconds=delay), "last_error": error}
        with db_errors(), self.engine.begin() as c:
            c.execute(update(outbox).where(mine).values(claimed_until=None, **values))

    def _post(self, claimed: _Claimed) -> str | None:
        """POST one delivery; return None on a 2xx answer, else why it failed."""
        body = claimed.payload.encode("utf-8")
        timestamp = int(self.clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"Safehold-Webhook/{__version__}",
            "Safehold-Delivery-Id": str(claimed.id),
            "Safehold-Timestamp": str(timestamp),
            "Safehold-Signature": signature_header(claimed.secret, timestamp, body),
        }
        try:
            with self._client.stream("POST", claimed.url, content=body, headers=headers) as r:
                status = r.status_code
        except (UnsafeUrlError, FetchError) as exc:
            return exc.message
        except httpx.TimeoutException:
            return f"no answer within {self.timeout:g} s"
        except httpx.HTTPError as exc:
            return f"request failed ({type(exc).__name__})"
        except SafeholdError as exc:
            return exc.message
        return None if 200 <= status < 300 else f"HTTP {status}"

    # -- loop --------------------------------------------------------------------------------

    def run_forever(self, stop: threading.Event, poll_s: float = DEFAULT_POLL_S) -> None:
        """Deliver until ``stop`` is set, sleeping ``poll_s`` seconds when nothing is due.
        Database failures are logged and retried after ``poll_s``; never raises."""
        while not stop.is_set():
            try:
                done = self.run_once()
            except SafeholdError as exc:
                log.warning("webhook delivery pass failed: %s", exc.message)
                done = 0
            except Exception:
                log.exception("webhook delivery pass failed")
                done = 0
            if done == 0:
                stop.wait(poll_s)

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()


def _default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def start_deliverer(
    actions: ActionService, stop: threading.Event, *, poll_s: float = DEFAULT_POLL_S
) -> threading.Thread:
    """Start a daemon thread running a :class:`Deliverer` on ``actions``' database until
    ``stop`` is set (the service starts one per worker process); return the thread."""

    def run() -> None:
        deliverer = Deliverer(actions.engine, actions.settings)
        try:
            deliverer.run_forever(stop, poll_s)
        finally:
            deliverer.close()

    thread = threading.Thread(target=run, name="safehold-webhooks", daemon=True)
    thread.start()
    return thread
