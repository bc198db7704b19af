"""Domain types of match events, bank actions and their deliveries (no storage, no HTTP).

A *match event* records that submitted content matched a bank entry. A *bank action* is what
runs for every match in its bank (today: a signed webhook). Each (event, action) pair owes one
*delivery*, a row of the outbox written in the same transaction as the event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: Outbox row states: ``pending`` -> ``delivered``, or ``dead`` after ``max_attempts``.
DELIVERY_STATUSES = ("pending", "delivered", "dead")

#: Where a match came from (``match_events.origin``): the HTTP API, a scan, a stream, ...
ORIGIN_LENGTH = 32


@dataclass(frozen=True, slots=True)
class BankAction:
    """An action run for every match in one bank. The signing secret is never part of it.

    Attributes:
        kind: ``webhook``.
        url: where deliveries are POSTed (checked with the URL fetch rules at each delivery).
        max_attempts: deliveries are given up (``dead``) after this many failed attempts.
    """

    id: int
    bank_id: int
    bank_name: str
    kind: str
    url: str
    enabled: bool
    max_attempts: int
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (``created_at`` in ISO 8601)."""
        return {
            "id": self.id,
            "bank": self.bank_name,
            "kind": self.kind,
            "url": self.url,
            "enabled": self.enabled,
            "max_attempts": self.max_attempts,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class MatchEvent:
    """One recorded match.

    Attributes:
        bank_name: None when the bank has been deleted since.
        category: the entry's ``scheme:code`` (None when it has none or is deleted).
        distance: bits (0 for exact signal types).
        content_ref: the caller's own identifier of the content ("" when none was given).
        origin: ``api``, ``scan``, ``stream``, ...
        api_key_id: the API key that asked, None for local callers.
    """

    id: int
    created_at: datetime
    bank_id: int
    bank_name: str | None
    entry_id: int
    signal_type: str
    distance: int
    category: str | None
    content_ref: str
    origin: str
    api_key_id: int | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbox row: a delivery owed by an action for an event.

    Attributes:
        id: the delivery id, sent as ``Safehold-Delivery-Id`` (stable across retries).
        status: one of :data:`DELIVERY_STATUSES`.
        attempts: failed or started attempts so far.
        last_error: why the last attempt failed (no secrets, no bank hash values).
    """

    id: int
    action_id: int
    event_id: int
    bank_name: str
    url: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
