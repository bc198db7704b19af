"""Grooming risk over HTTP: score a conversation, or monitor one message by message.

| route | who | does |
| --- | --- | --- |
| ``POST /v1/conversations/score`` | admin, matcher, client | score a whole conversation |
| ``POST /v1/conversations/{id}/messages`` | admin, matcher, client | append; risk, new warning |
| ``GET /v1/conversations/{id}`` | admin, matcher, client | current risk and warnings |
| ``DELETE /v1/conversations/{id}`` | admin, matcher | forget it (state and message ids) |

Trusted keys (``admin``, ``matcher``) get the full risk; ``client`` keys the level and action
only (``api/schemas/conversations.py``). Clients may not delete: a participant's app must not
be able to erase the evidence about a conversation. Monitored conversations live in the
database (``grooming.service``), so any worker can continue any conversation. Message texts
are never logged or stored. The engine (the detector takes seconds to load when it is the
embedding one) is built on the first request of each worker and shared.
"""

from __future__ import annotations

import threading

from fastapi import APIRouter, Request, Response

from safehold.api.deps import MatchCaller, MatcherKey, StateDep, is_trusted
from safehold.api.schemas.common import AUTH_RESPONSES, ErrorBody
from safehold.api.schemas.conversations import (
    ConversationDecision,
    ConversationIn,
    ConversationRiskPublic,
    MessagesAppend,
)
from safehold.api.state import ServiceState
from safehold.auth import ApiKey
from safehold.grooming.config import GroomingConfig
from safehold.grooming.model import Conversation
from safehold.grooming.service import Assessment, ConversationService

router = APIRouter(
    prefix="/v1/conversations",
    tags=["conversations"],
    responses={
        **AUTH_RESPONSES,
        422: {"model": ErrorBody, "description": "invalid conversation or message"},
    },
)

_SERVICE_ATTR = "safehold_conversations"
_build_lock = threading.Lock()

RiskAnswer = ConversationRiskPublic | ConversationDecision


def conversation_service(request: Request, state: ServiceState) -> ConversationService:
    """The worker's :class:`ConversationService`, built from the settings on first use.

    Raises:
        NotFoundError / ConfigurationError: the configured detector is unknown or its extra
            is missing (from :meth:`GroomingConfig.from_settings`).
    """
    service: ConversationService | None = getattr(request.app.state, _SERVICE_ATTR, None)
    if service is not None:
        return service
    with _build_lock:
        service = getattr(request.app.state, _SERVICE_ATTR, None)
        if service is None:
            settings = state.settings
            service = ConversationService(
                state.engine,
                GroomingConfig.from_settings(settings),
                retention_days=settings.grooming_retention_days or None,
            )
            setattr(request.app.state, _SERVICE_ATTR, service)
    return service


def _answer(key: ApiKey, found: Assessment, warning: bool) -> RiskAnswer:
    if is_trusted(key):
        return ConversationRiskPublic.build(
            found.risk, found.warnings, found.warning if warning else None
        )
    latest = found.warning if warning else (found.warnings[-1] if found.warnings else None)
    return ConversationDecision.build(found.risk, latest)


@router.post("/score", summary="Score a whole conversation", response_model=RiskAnswer)
def score(body: ConversationIn, request: Request, state: StateDep, key: MatchCaller) -> RiskAnswer:
    """Score a conversation read message by message; ``warnings`` lists where a live monitor
    would have warned. Nothing is stored."""
    conv = Conversation.build(
        body.id,
        (m.to_domain() for m in body.messages),
        (p.to_domain() for p in body.participants),
    )
    found = conversation_service(request, state).score(conv)
    return _answer(key, found, warning=False)


@router.post(
    "/{conversation_id}/messages",
    summary="Append messages to a monitored conversation",
    response_model=RiskAnswer,
    responses={409: {"model": ErrorBody, "description": "a message id was already appended"}},
)
def append_messages(
    conversation_id: str, body: MessagesAppend, request: Request, state: StateDep, key: MatchCaller
) -> RiskAnswer:
    """Append messages (the conversation is created on its first append); answers the
    current risk and, in ``warning``, a warning raised by these messages (else null)."""
    found = conversation_service(request, state).append(
        conversation_id,
        [m.to_domain() for m in body.messages],
        [p.to_domain() for p in body.participants],
    )
    return _answer(key, found, warning=True)


@router.get(
    "/{conversation_id}",
    summary="Current risk of a monitored conversation",
    response_model=RiskAnswer,
    responses={404: {"model": ErrorBody, "description": "no such conversation"}},
)
def get_conversation(
    conversation_id: str, request: Request, state: StateDep, key: MatchCaller
) -> RiskAnswer:
    """The current risk and every warning so far (a ``client`` key: the latest warning)."""
    return _answer(key, conversation_service(request, state).get(conversation_id), warning=False)


@router.delete(
    "/{conversation_id}",
    status_code=204,
    summary="Forget a monitored conversation",
    responses={404: {"model": ErrorBody, "description": "no such conversation"}},
)
def delete_conversation(
    conversation_id: str, request: Request, state: StateDep, _key: MatcherKey
) -> Response:
    """Remove the conversation's stored evidence and message ids."""
    conversation_service(request, state).delete(conversation_id)
    return Response(status_code=204)
