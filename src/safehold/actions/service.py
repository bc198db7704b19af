"""ActionService: record match events, manage bank actions, and inspect their deliveries.

``record_matches`` is the one write path for matches (API, scans, streams): it inserts the match
events and, for every enabled action of each matched bank, an outbox row with the webhook body,
in one transaction, so a crash leaves either both or neither (the transactional outbox pattern,
https://microservices.io/patterns/data/transactional-outbox.html). Delivering the outbox is
:mod:`safehold.actions.webhooks`' job. Every other method runs its own short transaction.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence

from sqlalchemy import Engine, delete, func, insert, select, update

from safehold.actions.deliveries import DeliveryMethods, check_page
from safehold.actions.models import ORIGIN_LENGTH, BankAction, MatchEvent
from safehold.actions.rows import (
    actions_query,
    events_query,
    payload_json,
    to_action,
    to_event,
)
from safehold.banks.rows import bank_id_for, bank_name_is, db_errors
from safehold.banks.validation import quote_name
from safehold.errors import InvalidInputError, NotFoundError
from safehold.fetching.urls import check_webhook_url
from safehold.scanning.records import MatchInfo
from safehold.settings import Settings
from safehold.storage.tables import (
    SOURCE_LENGTH,
    bank_actions,
    banks,
    match_events,
    outbox,
    utcnow,
)

log = logging.getLogger(__name__)

MAX_ATTEMPTS_BOUND = 100  # same bound as Settings.webhook_max_attempts
MAX_ACTION_ID = 2**31 - 1  # INTEGER ids: actions


class ActionService(DeliveryMethods):
    """Match events, bank actions and the outbox in one database.

    Args:
        engine: from :func:`safehold.storage.engine.open_database` (schema current).
        settings: ``webhook_max_attempts`` (default per action) and ``fetch_allow_networks``
            (webhook URLs naming a non-public address literal are refused unless allowed).

    Every method may also raise :class:`~safehold.errors.StorageError` when the database fails.
    """

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    # -- match events ----------------------------------------------------------------------

    def record_matches(
        self,
        matches: Sequence[MatchInfo],
        *,
        content_ref: str,
        origin: str,
        api_key_id: int | None,
    ) -> list[int]:
        """Record one match event per match and queue a delivery per enabled bank action.

        Events and outbox rows commit in one transaction. Matches naming a bank that no longer
        exists (deleted between matching and recording) are skipped with a warning that names
        only the entry id.

        Args:
            matches: as returned by the matcher (bank names are looked up ignoring case).
            content_ref: the caller's identifier of the content (at most 200 characters).
            origin: ``api``, ``scan``, ``stream``, ... (1 to 32 characters).
            api_key_id: the API key that asked, None for local callers.

        Returns:
            The new event ids, in the order of ``matches`` (skipped matches left out).

        Raises:
            InvalidInputError: ``content_ref`` or ``origin`` too long (or ``origin`` empty).
        """
        if len(content_ref) > SOURCE_LENGTH:
            raise InvalidInputError(f"content_ref is longer than {SOURCE_LENGTH} characters")
        if not 1 <= len(origin) <= ORIGIN_LENGTH:
            raise InvalidInputError(f"origin must be 1 to {ORIGIN_LENGTH} characters")
        if not matches:
            return []
        now = utcnow()
        ids: list[int] = []
        with db_errors(), self.engine.begin() as c:
            # Same folding as banks.rows.bank_name_is: non-ASCII names match no bank.
            names = {m.bank.lower() if m.bank.isascii() else m.bank for m in matches}
            bank_rows = c.execute(
                select(banks.c.id, banks.c.name).where(func.lower(banks.c.name).in_(names))
            ).all()
            by_name = {row.name.lower(): (row.id, row.name) for row in bank_rows}
            bank_ids = [bank_id for bank_id, _ in by_name.values()]
            action_rows = c.execute(
                select(bank_actions.c.id, bank_actions.c.bank_id).where(
                    bank_actions.c.bank_id.in_(bank_ids), bank_actions.c.enabled.is_(True)
                )
            ).all()
            actions: dict[int, list[int]] = {}
            for row in action_rows:
                actions.setdefault(row.bank_id, []).append(row.id)
            for match in matches:
                found = by_name.get(match.bank.lower() if match.bank.isascii() else match.bank)
                if found is None:
                    log.warning("match on entry %d of a deleted bank not recorded", match.entry_id)
                    continue
                bank_id, bank_name = found
                event_id = c.execute(
                    insert(match_events)
                    .values(
                        created_at=now,
                        bank_id=bank_id,
                        entry_id=match.entry_id,
                        signal_type=match.signal_type,
                        distance=match.distance,
                        content_ref=content_ref,
                        origin=origin,
                        api_key_id=api_key_id,
                    )
                    .returning(match_events.c.id)
                ).scalar_one()
                ids.append(event_id)
                rows = [
                    {
                        "action_id": action_id,
                        "event_id": event_id,
                        "payload": payload_json(
                            event_id=event_id,
                            created_at=now,
                            bank_name=bank_name,
                            action_id=action_id,
                            match=match,
                            content_ref=content_ref,
                            origin=origin,
                        ),
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                    for action_id in actions.get(bank_id, [])
                ]
                if rows:
                    c.execute(insert(outbox), rows)
        return ids

    def list_events(
        self, *, bank_name: str | None = None, after_id: int = 0, limit: int = 100
    ) -> list[MatchEvent]:
        """Return match events with ``id > after_id``, oldest first, at most ``limit``.

        Page by passing the last id seen as ``after_id``.

        Raises:
            NotFoundError: ``bank_name`` names no bank.
            InvalidInputError: ``after_id`` or ``limit`` out of range (limit 1..1000).
        """
        check_page(after_id, limit)
        query = events_query().where(match_events.c.id > after_id)
        with db_errors(), self.engine.connect() as c:
            if bank_name is not None:
                query = query.where(match_events.c.bank_id == bank_id_for(c, bank_name))
            rows = c.execute(query.order_by(match_events.c.id).limit(limit)).all()
        return [to_event(row) for row in rows]

    # -- actions ---------------------------------------------------------------------------

    def create_action(
        self, bank_name: str, url: str, *, max_attempts: int | None = None
    ) -> tuple[BankAction, str]:
        """Add a webhook action to a bank; return it with its signing secret.

        The secret (32 random bytes, URL-safe base64) is returned only here: show it once.

        Raises:
            NotFoundError: no such bank.
            UnsafeUrlError: not an http(s) URL, credentials in it, or a non-public address
                literal outside ``fetch_allow_networks`` (names are checked at delivery).
            InvalidInputError: ``max_attempts`` outside 1..100.
        """
        check_webhook_url(url, self.settings)
        attempts = self.settings.webhook_max_attempts if max_attempts is None else max_attempts
        if not 1 <= attempts <= MAX_ATTEMPTS_BOUND:
            raise InvalidInputError(f"max_attempts must be between 1 and {MAX_ATTEMPTS_BOUND}")
        secret = secrets.token_urlsafe(32)
        with db_errors(), self.engine.begin() as c:
            action_id = c.execute(
                insert(bank_actions)
                .values(
                    bank_id=bank_id_for(c, bank_name),
                    kind="webhook",
                    url=url,
                    secret=secret,
                    enabled=True,
                    max_attempts=attempts,
                    created_at=utcnow(),
                )
                .returning(bank_actions.c.id)
            ).scalar_one()
        return self.get_action(action_id), secret

    def get_action(self, action_id: int, *, bank_name: str | None = None) -> BankAction:
        """Return one action (of ``bank_name`` when given).

        Raises:
            NotFoundError: no such action (in that bank).
        """
        query = actions_query().where(bank_actions.c.id == action_id)
        if bank_name is not None:
            query = query.where(bank_name_is(bank_name))
        with db_errors(), self.engine.connect() as c:
            row = c.execute(query).first() if 0 < action_id <= MAX_ACTION_ID else None
        if row is None:
            where = "" if bank_name is None else f" in bank {quote_name(bank_name)}"
            raise NotFoundError(f"no action with id {action_id}{where}")
        return to_action(row)

    def list_actions(self, bank_name: str) -> list[BankAction]:
        """Return the bank's actions, oldest first.

        Raises:
            NotFoundError: no such bank.
        """
        with db_errors(), self.engine.connect() as c:
            bank_id = bank_id_for(c, bank_name)
            rows = c.execute(
                actions_query().where(bank_actions.c.bank_id == bank_id).order_by(bank_actions.c.id)
            ).all()
        return [to_action(row) for row in rows]

    def delete_action(self, action_id: int, *, bank_name: str | None = None) -> None:
        """Delete an action and its undelivered and delivered outbox rows.

        Raises:
            NotFoundError: no such action (in that bank).
        """
        action = self.get_action(action_id, bank_name=bank_name)
        with db_errors(), self.engine.begin() as c:
            c.execute(delete(outbox).where(outbox.c.action_id == action.id))
            c.execute(delete(bank_actions).where(bank_actions.c.id == action.id))

    def set_action_enabled(
        self, action_id: int, enabled: bool, *, bank_name: str | None = None
    ) -> BankAction:
        """Enable or disable an action. A disabled action queues nothing for new matches and
        its pending deliveries wait (they resume when it is enabled again).

        Raises:
            NotFoundError: no such action (in that bank).
        """
        action = self.get_action(action_id, bank_name=bank_name)
        with db_errors(), self.engine.begin() as c:
            c.execute(
                update(bank_actions).where(bank_actions.c.id == action.id).values(enabled=enabled)
            )
        return self.get_action(action.id)
