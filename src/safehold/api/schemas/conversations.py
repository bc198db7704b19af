"""Shapes of the conversation routes (``/v1/conversations/...``): grooming risk for review.

Requests carry a conversation in Safehold's JSON shape (docs/grooming.md): participants with
what the platform knows about them, and messages ``{"id", "sender", "text", "time"}``.

Answers come in two shapes, side by side in OpenAPI. Trusted keys (``admin``, ``matcher``)
get :class:`ConversationRiskPublic`: the score, level and action, every sender's score, the
indicators with the message ids that showed them and the matched words, the escalation, the
reasons and the warnings. ``client`` keys get :class:`ConversationDecision`: the level and
the action only (and for warnings the message id and action), so a client (which may be the
app of either participant) never learns what was found or about whom. Models forbid extra
fields, so nothing more can slip into a client's answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from safehold.grooming.model import MAX_ID_CHARS, MAX_MESSAGE_CHARS, Message, Participant
from safehold.grooming.risk import ConversationRisk
from safehold.grooming.service import MAX_APPEND

#: Most messages one ``/v1/conversations/score`` request may carry.
MAX_SCORE_MESSAGES = 10_000
#: Most participants one request may describe.
MAX_PARTICIPANTS = 1_000

Action = Literal["none", "monitor", "review", "urgent"]
Level = Literal["minimal", "elevated", "high", "severe"]
Role = Literal[
    "unknown",
    "member",
    "minor",
    "adult",
    "verified_adult",
    "parent",
    "teacher",
    "coach",
    "moderator",
    "staff",
]
Id: Any = Field(min_length=1, max_length=MAX_ID_CHARS, pattern=r"\S")

_STRICT = ConfigDict(extra="forbid")


class ParticipantIn(BaseModel):
    """What the platform knows about one participant (all optional but the id)."""

    model_config = _STRICT

    id: str = Id
    declared_age: int | None = Field(None, ge=0, le=130)
    account_age_days: float | None = Field(None, ge=0)
    role: Role = "unknown"

    def to_domain(self) -> Participant:
        """The engine's :class:`~safehold.grooming.model.Participant`."""
        return Participant(self.id, self.declared_age, self.account_age_days, self.role)


class MessageIn(BaseModel):
    """One chat message. The text is read, never stored or logged."""

    model_config = _STRICT

    id: str = Id
    sender: str = Id
    text: str = Field(max_length=MAX_MESSAGE_CHARS)
    time: datetime | None = None

    def to_domain(self) -> Message:
        """The engine's :class:`~safehold.grooming.model.Message`."""
        return Message(self.id, self.sender, self.text, self.time)


class ConversationIn(BaseModel):
    """A whole conversation to score (nothing is stored)."""

    model_config = _STRICT

    id: str = Id
    participants: list[ParticipantIn] = Field(default_factory=list, max_length=MAX_PARTICIPANTS)
    messages: list[MessageIn] = Field(max_length=MAX_SCORE_MESSAGES)


class MessagesAppend(BaseModel):
    """Messages to append to a monitored conversation, in the order they were sent."""

    model_config = _STRICT

    messages: list[MessageIn] = Field(min_length=1, max_length=MAX_APPEND)
    participants: list[ParticipantIn] = Field(default_factory=list, max_length=MAX_PARTICIPANTS)


class SenderRiskPublic(BaseModel):
    """One sender's calibrated score (0-1) and action."""

    model_config = _STRICT

    sender: str
    score: float
    action: Action


class IndicatorPublic(BaseModel):
    """An indicator one sender showed, with the messages that showed it and the evidence
    (matched words, or the nearest example sentence)."""

    model_config = _STRICT

    indicator: str
    title: str
    stage: str
    sender: str
    strength: float
    message_ids: list[str]
    evidence: list[str]


class WarningPublic(BaseModel):
    """An early warning: raised after message ``message_id`` (0-based ``message_index``)."""

    model_config = _STRICT

    message_id: str
    message_index: int
    action: Action
    score: float


class ClientWarning(BaseModel):
    """An early warning as a ``client`` key sees it."""

    model_config = _STRICT

    message_id: str
    action: Action


class ConversationRiskPublic(BaseModel):
    """The risk with its reasons (trusted keys). ``warning``: raised by this append only."""

    model_config = _STRICT

    conversation_id: str
    score: float
    level: Level
    action: Action
    sender: str | None
    senders: list[SenderRiskPublic]
    indicators: list[IndicatorPublic]
    escalation: list[str]
    reasons: list[str]
    messages_read: int
    model: str
    warnings: list[WarningPublic]
    warning: WarningPublic | None = None

    @classmethod
    def build(
        cls,
        risk: ConversationRisk,
        warnings: list[dict[str, Any]],
        warning: dict[str, Any] | None = None,
    ) -> ConversationRiskPublic:
        """From the engine's risk and warning dicts."""
        return cls.model_validate({**risk.to_dict(), "warnings": warnings, "warning": warning})


class ConversationDecision(BaseModel):
    """The decision a ``client`` key gets: level and action, nothing about who or why."""

    model_config = _STRICT

    conversation_id: str
    level: Level
    action: Action
    messages_read: int
    warning: ClientWarning | None = None

    @classmethod
    def build(cls, risk: ConversationRisk, warning: dict[str, Any] | None) -> ConversationDecision:
        """From the engine's risk and the warning raised by this call, if any."""
        return cls(
            conversation_id=risk.conversation_id,
            level=risk.level,
            action=risk.action,
            messages_read=risk.messages_read,
            warning=(
                ClientWarning(message_id=warning["message_id"], action=warning["action"])
                if warning
                else None
            ),
        )
