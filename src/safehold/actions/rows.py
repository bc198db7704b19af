"""Row <-> domain mapping and the queries ``ActionService`` shares (match events, actions,
outbox), kept apart so the service module reads as the operations it offers."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, select

from safehold.actions.models import BankAction, Delivery, MatchEvent
from safehold.banks.rows import as_utc
from safehold.scanning.records import MatchInfo
from safehold.storage.tables import bank_actions, bank_entries, banks, match_events, outbox


def payload_json(
    *,
    event_id: int,
    created_at: datetime,
    bank_name: str,
    action_id: int,
    match: MatchInfo,
    content_ref: str,
    origin: str,
) -> str:
    """Return the webhook body for one match event (compact JSON, keys sorted).

    Fields (documented in ``docs/service.md``): ``type`` (``match``), ``event_id``,
    ``created_at`` (ISO 8601 UTC), ``action_id``, ``bank``, ``entry_id``, ``signal_type``,
    ``distance`` (bits), ``category`` (``scheme:code`` or null), ``content_ref``, ``origin``.
    Receivers are configured by the bank's curator, so bank details are included; the bank
    entry's hash value never is.
    """
    body = {
        "type": "match",
        "event_id": event_id,
        "created_at": created_at.isoformat(),
        "action_id": action_id,
        "bank": bank_name,
        "entry_id": match.entry_id,
        "signal_type": match.signal_type,
        "distance": match.distance,
        "category": match.category,
        "content_ref": content_ref,
        "origin": origin,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def actions_query() -> Select[Any]:
    """SELECT of bank actions with their bank's name (never the secret)."""
    return select(
        bank_actions.c.id,
        bank_actions.c.bank_id,
        banks.c.name.label("bank_name"),
        bank_actions.c.kind,
        bank_actions.c.url,
        bank_actions.c.enabled,
        bank_actions.c.max_attempts,
        bank_actions.c.created_at,
    ).join(banks, banks.c.id == bank_actions.c.bank_id)


def to_action(row: Row[Any]) -> BankAction:
    """Build a :class:`BankAction` from an :func:`actions_query` row."""
    return BankAction(
        id=row.id,
        bank_id=row.bank_id,
        bank_name=row.bank_name,
        kind=row.kind,
        url=row.url,
        enabled=bool(row.enabled),
        max_attempts=row.max_attempts,
        created_at=as_utc(row.created_at),
    )


def events_query() -> Select[Any]:
    """SELECT of match events with bank name and entry category (outer joins: either may be
    deleted since the event)."""
    return (
        select(
            match_events,
            banks.c.name.label("bank_name"),
            bank_entries.c.category_scheme,
            bank_entries.c.category_code,
        )
        .outerjoin(banks, banks.c.id == match_events.c.bank_id)
        .outerjoin(bank_entries, bank_entries.c.id == match_events.c.entry_id)
    )


def to_event(row: Row[Any]) -> MatchEvent:
    """Build a :class:`MatchEvent` from an :func:`events_query` row."""
    category = None
    if row.category_scheme is not None:
        category = f"{row.category_scheme}:{row.category_code}"
    return MatchEvent(
        id=row.id,
        created_at=as_utc(row.created_at),
        bank_id=row.bank_id,
        bank_name=row.bank_name,
        entry_id=row.entry_id,
        signal_type=row.signal_type,
        distance=row.distance,
        category=category,
        content_ref=row.content_ref,
        origin=row.origin,
        api_key_id=row.api_key_id,
    )


def deliveries_query() -> Select[Any]:
    """SELECT of outbox rows with their action's URL and bank name (not the payload)."""
    return (
        select(
            outbox.c.id,
            outbox.c.action_id,
            outbox.c.event_id,
            banks.c.name.label("bank_name"),
            bank_actions.c.url,
            outbox.c.status,
            outbox.c.attempts,
            outbox.c.next_attempt_at,
            outbox.c.last_error,
            outbox.c.created_at,
            outbox.c.delivered_at,
        )
        .join(bank_actions, bank_actions.c.id == outbox.c.action_id)
        .join(banks, banks.c.id == bank_actions.c.bank_id)
    )


def to_delivery(row: Row[Any]) -> Delivery:
    """Build a :class:`Delivery` from a :func:`deliveries_query` row."""
    return Delivery(
        id=row.id,
        action_id=row.action_id,
        event_id=row.event_id,
        bank_name=row.bank_name,
        url=row.url,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=as_utc(row.next_attempt_at),
        last_error=row.last_error,
        created_at=as_utc(row.created_at),
        delivered_at=as_utc(row.delivered_at) if row.delivered_at is not None else None,
    )
