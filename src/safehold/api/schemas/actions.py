"""Shapes of the action, match-event and delivery routes.

Webhook URLs are vetted by the service (``safehold.fetching.urls``); here only lengths and
bounds. Signing secrets appear in :class:`ActionCreated` only, once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, cast

from pydantic import BaseModel, Field

from safehold.actions import BankAction, Delivery, MatchEvent
from safehold.fetching.urls import MAX_URL_LENGTH

DeliveryStatus = Literal["pending", "delivered", "dead"]


class ActionCreate(BaseModel):
    """A webhook to call on every match in the bank."""

    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH, description="http(s) receiver URL")
    max_attempts: int | None = Field(
        default=None, ge=1, le=100, description="default: SAFEHOLD_WEBHOOK_MAX_ATTEMPTS"
    )


class ActionUpdate(BaseModel):
    """Enable or disable an action (a disabled action's queued deliveries wait)."""

    enabled: bool


class ActionPublic(BaseModel):
    """An action, without its secret."""

    id: int
    bank: str
    kind: str
    url: str
    enabled: bool
    max_attempts: int
    created_at: datetime

    @classmethod
    def of(cls, action: BankAction) -> ActionPublic:
        """From the domain record."""
        return cls(
            id=action.id,
            bank=action.bank_name,
            kind=action.kind,
            url=action.url,
            enabled=action.enabled,
            max_attempts=action.max_attempts,
            created_at=action.created_at,
        )


class ActionCreated(ActionPublic):
    """A new action with its signing secret: shown in this response only, never again."""

    secret: str


class MatchEventPublic(BaseModel):
    """A recorded match (bank entry id, never its hash value). ``bank`` is null once the bank
    is deleted."""

    id: int
    created_at: datetime
    bank: str | None
    entry_id: int
    signal_type: str
    distance: int
    category: str | None
    content_ref: str
    origin: str
    api_key_id: int | None

    @classmethod
    def of(cls, event: MatchEvent) -> MatchEventPublic:
        """From the domain record."""
        return cls(
            id=event.id,
            created_at=event.created_at,
            bank=event.bank_name,
            entry_id=event.entry_id,
            signal_type=event.signal_type,
            distance=event.distance,
            category=event.category,
            content_ref=event.content_ref,
            origin=event.origin,
            api_key_id=event.api_key_id,
        )


class MatchEventPage(BaseModel):
    """Events with ``id > after_id``, oldest first; ``next_after_id`` is the ``after_id`` of
    the next page (null when this page is the last)."""

    items: list[MatchEventPublic]
    next_after_id: int | None


class DeliveryPublic(BaseModel):
    """One outbox row (its payload is the match event, listed by ``/v1/match-events``)."""

    id: int
    action_id: int
    event_id: int
    bank: str
    url: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, d: Delivery) -> DeliveryPublic:
        """From the domain record."""
        return cls(
            id=d.id,
            action_id=d.action_id,
            event_id=d.event_id,
            bank=d.bank_name,
            url=d.url,
            status=cast(DeliveryStatus, d.status),  # one of DELIVERY_STATUSES
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at,
            last_error=d.last_error,
            created_at=d.created_at,
            delivered_at=d.delivered_at,
        )


class DeliveryPage(BaseModel):
    """Deliveries with ``id > after_id``, oldest first (``next_after_id`` as for events)."""

    items: list[DeliveryPublic]
    next_after_id: int | None
