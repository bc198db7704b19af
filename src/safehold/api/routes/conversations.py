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
embedding one) is built on the first request of each worker and shared; bad grooming
settings answer 503 ``configuration`` (``api/conversation_engine.py``).

``warning`` means the same for every scope: on an append, the warning these messages raised
(else null; act on it); on score and GET, the latest warning so far (else null).
"""

from __future__ import annotations

from fastapi import APIRouter, Response

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
from safehold.grooming.service import Assessment, ConversationService

router = APIRouter(
    prefix="/v1/conversations",
    tags=["conversations"],
    responses={
        **AUTH_RESPONSES,
        422: {"model": ErrorBody, "description": "invalid conversation or message"},
    },
)

RiskAnswer = ConversationRiskPublic | ConversationDecision


def conversation_service(state: ServiceState) -> ConversationService:
    """The worker's :class:`ConversationService`, built from the settings on first use.

    Raises:
        ConfigurationError: the grooming settings do not give a working engine (503
            ``configuration``, never a 4xx or 500: ``api/conversation_engine.py``).
    """
    return state.conversations.service()


def _answer(key: ApiKey, found: Assessment, *, append: bool) -> RiskAnswer:
    """The answer in the key's shape. ``warning`` means the same for every scope: on an
    append the warning these messages raised (else null); on score and GET the latest
    warning so far (the last of ``warnings``, else null)."""
    latest = found.warnings[-1] if found.warnings else None
    warning = found.warning if append else latest
    if is_trusted(key):
        return ConversationRiskPublic.build(found.risk, found.warnings, warning)
    return ConversationDecision.build(found.risk, warning)


@router.post("/score", summary="Score a whole conversation", response_model=RiskAnswer)
def score(body: ConversationIn, state: StateDep, key: MatchCaller) -> RiskAnswer:
    """Score a conversation read message by message; ``warnings`` lists where a live monitor
    would have warned, ``warning`` is the last of them. Nothing is stored. A ``label`` (as
    ``safehold chat generate`` writes) is accepted and ignored; messages without an ``id`` are
    numbered by position, skipping ids already taken."""
    found = conversation_service(state).score(body.to_domain())
    return _answer(key, found, append=False)


@router.post(
    "/{conversation_id}/messages",
    summary="Append messages to a monitored conversation",
    response_model=RiskAnswer,
    responses={409: {"model": ErrorBody, "description": "a message id was already appended"}},
)
def append_messages(
    conversation_id: str, body: MessagesAppend, state: StateDep, key: MatchCaller
) -> RiskAnswer:
    """Append messages (the conversation is created on its first append); answers the
    current risk and, in ``warning``, a warning raised by these messages (else null). Message
    ids are required here: they make a retried batch a 409, not a second copy."""
    found = conversation_service(state).append(
        conversation_id,
        [m.to_domain() for m in body.messages],
        [p.to_domain() for p in body.participants],
    )
    return _answer(key, found, append=True)


@router.get(
    "/{conversation_id}",
    summary="Current risk of a monitored conversation",
    response_model=RiskAnswer,
    responses={404: {"model": ErrorBody, "description": "no such conversation"}},
)
def get_conversation(conversation_id: str, state: StateDep, key: MatchCaller) -> RiskAnswer:
    """The current risk, every warning so far and, in ``warning``, the latest of them (a
    ``client`` key: the latest warning only)."""
    return _answer(key, conversation_service(state).get(conversation_id), append=False)


@router.delete(
    "/{conversation_id}",
    status_code=204,
    summary="Forget a monitored conversation",
    responses={404: {"model": ErrorBody, "description": "no such conversation"}},
)
def delete_conversation(conversation_id: str, state: StateDep, _key: MatcherKey) -> Response:
    """Remove the conversation's stored evidence and message ids."""
    conversation_service(state).delete(conversation_id)
    return Response(status_code=204)
