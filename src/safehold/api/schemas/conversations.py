"""Shapes of the conversation routes (``/v1/conversations/...``): grooming risk for review.

Requests carry a conversation in Safehold's JSON shape (docs/grooming.md): participants with
what the platform knows about them, and messages ``{"id", "sender", "text", "time"}``.

Requests are validated as ``safehold chat`` reads JSON Lines (docs/grooming.md, "Input: JSON
Lines"): types are strict (no ``"30"``, ``30.0`` or ``true`` for an integer, no number for a
string; an integer is a number), ``time`` is an ISO 8601 string, ids are strings of 1-200
characters (an integer id is read as its decimal string). Unknown fields are refused (a
misspelt ``declared_age`` must not be silently dropped); the score route accepts ``label``
(labelled files, ``safehold chat generate``), checks it as the CLI does and ignores it, and
numbers messages without an ``id`` by position, skipping ids already taken. Appends need
message ids: they are what makes a retried batch a 409 instead of a second copy.

Answers come in two shapes, side by side in OpenAPI. Trusted keys (``admin``, ``matcher``)
get :class:`ConversationRiskPublic`: the score, level and action, every sender's score, the
indicators with the message ids that showed them and the matched words, the escalation, the
reasons and the warnings. ``client`` keys get :class:`ConversationDecision`: the level and
the action only (and for warnings the message id and action), so a client (which may be the
app of either participant) never learns what was found or about whom. ``warning`` means the
same in both: on an append, the warning its messages raised; on score and GET, the latest
warning (else null). Models forbid extra fields, so nothing more can slip into a client's
answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from safehold.grooming.model import (
    MAX_ID_CHARS,
    MAX_MESSAGE_CHARS,
    Conversation,
    ConversationLabel,
    Message,
    Participant,
)
from safehold.grooming.readers import number_missing
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


def _id_from_int(value: object) -> object:
    """An integer id is read as its decimal string, as ``safehold chat`` reads it (a boolean
    is not an integer here)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


#: An id (conversation, participant, message, sender, groomer): a string of 1-200 characters
#: with a non-space, or an integer read as its decimal string.
Id = Annotated[
    str,
    BeforeValidator(_id_from_int, json_schema_input_type=str | int),
    Field(min_length=1, max_length=MAX_ID_CHARS, pattern=r"\S"),
]

_STRICT = ConfigDict(extra="forbid")
#: Request bodies: no unknown fields and no type coercion (as ``safehold chat`` reads them).
_REQUEST = ConfigDict(extra="forbid", strict=True)


def _iso_time(value: object) -> object:
    """An ISO 8601 string (a trailing ``Z`` is UTC), read as ``safehold chat`` reads it."""
    if value is None or isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("time must be an ISO 8601 string")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("time is not ISO 8601") from None


Time = Annotated[datetime | None, BeforeValidator(_iso_time)]


class ParticipantIn(BaseModel):
    """What the platform knows about one participant (all optional but the id)."""

    model_config = _REQUEST

    id: Id
    declared_age: int | None = Field(None, ge=0, le=130)
    account_age_days: float | None = Field(None, ge=0, allow_inf_nan=False)
    role: Role = "unknown"

    def to_domain(self) -> Participant:
        """The engine's :class:`~safehold.grooming.model.Participant`."""
        return Participant(self.id, self.declared_age, self.account_age_days, self.role)


class MessageIn(BaseModel):
    """One chat message to append (the id is required: it deduplicates). The text is read,
    never stored or logged."""

    model_config = _REQUEST

    id: Id
    sender: Id
    text: str = Field(max_length=MAX_MESSAGE_CHARS)
    time: Time = None

    def to_domain(self) -> Message:
        """The engine's :class:`~safehold.grooming.model.Message`."""
        return Message(self.id, self.sender, self.text, self.time)


class ScoreMessageIn(BaseModel):
    """One message of a conversation to score; without an ``id`` it is numbered by position
    (:meth:`ConversationIn.domain_messages`)."""

    model_config = _REQUEST

    id: Id | None = None
    sender: Id
    text: str = Field(max_length=MAX_MESSAGE_CHARS)
    time: Time = None


class LabelIn(BaseModel):
    """A conversation's label in JSON Lines (read by ``chat evaluate`` and ``chat train``):
    accepted on the score route so labelled files can be sent as they are, then ignored.
    Checked as the CLI checks it; other keys in it are ignored, as the CLI ignores them."""

    model_config = ConfigDict(extra="ignore", strict=True)

    grooming: bool
    groomers: list[Id] | None = Field(None, max_length=MAX_PARTICIPANTS)
    family: str | None = None

    def to_domain(self) -> ConversationLabel:
        """The engine's label, which checks it as ``safehold chat`` does (groomers in the
        conversation, none when ``grooming`` is false)."""
        return ConversationLabel(self.grooming, frozenset(self.groomers or ()), self.family or "")


class ConversationIn(BaseModel):
    """A whole conversation to score (nothing is stored), one JSON Lines object."""

    model_config = _REQUEST

    id: Id
    participants: list[ParticipantIn] = Field(default_factory=list, max_length=MAX_PARTICIPANTS)
    messages: list[ScoreMessageIn] = Field(max_length=MAX_SCORE_MESSAGES)
    label: LabelIn | None = None

    def to_domain(self) -> Conversation:
        """The engine's conversation, built and checked as ``safehold chat`` builds it: a
        message without an id gets its 1-based position, or the next number no other message
        of the conversation has (:func:`~safehold.grooming.readers.number_missing`); the label
        is checked, then not used for scoring.

        Raises:
            InvalidInputError: a duplicate message or participant id, a bad label.
        """
        ids = number_missing([m.id for m in self.messages])
        return Conversation.build(
            self.id,
            (
                Message(message_id, m.sender, m.text, m.time)
                for message_id, m in zip(ids, self.messages, strict=True)
            ),
            (p.to_domain() for p in self.participants),
            self.label.to_domain() if self.label else None,
        )


class MessagesAppend(BaseModel):
    """Messages to append to a monitored conversation, in the order they were sent."""

    model_config = _REQUEST

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
    """The risk with its reasons (trusted keys). ``warning``: on an append, the warning its
    messages raised; on score and GET, the latest warning (the last of ``warnings``)."""

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
    """The decision a ``client`` key gets: level and action, nothing about who or why;
    ``warning`` as in :class:`ConversationRiskPublic`."""

    model_config = _STRICT

    conversation_id: str
    level: Level
    action: Action
    messages_read: int
    warning: ClientWarning | None = None

    @classmethod
    def build(cls, risk: ConversationRisk, warning: dict[str, Any] | None) -> ConversationDecision:
        """From the engine's risk and the warning to report (as in the trusted answer)."""
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
