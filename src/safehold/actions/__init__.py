"""Match events, actions on match (signed webhooks) and their delivery through an outbox.

``ActionService`` records matches and manages actions; ``safehold.actions.webhooks`` delivers
the outbox at least once (receivers drop duplicates by ``Safehold-Delivery-Id``).
"""

from __future__ import annotations

from safehold.actions.models import BankAction, Delivery, MatchEvent
from safehold.actions.service import ActionService
from safehold.actions.signing import verify_signature
from safehold.actions.webhooks import Deliverer, start_deliverer

__all__ = [
    "ActionService",
    "BankAction",
    "Deliverer",
    "Delivery",
    "MatchEvent",
    "start_deliverer",
    "verify_signature",
]
