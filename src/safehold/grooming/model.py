"""Conversations, participants and messages: the data every grooming component reads.

A :class:`Conversation` is an ordered tuple of :class:`Message` plus what the platform knows
about each :class:`Participant` (declared age, account age, platform role). Labels
(:class:`ConversationLabel`) are optional and only used to train and evaluate. The types are
frozen so detectors, the risk scorer and the streaming monitor can share them safely.

Bounds (:data:`MAX_MESSAGE_CHARS`, :data:`MAX_ID_CHARS`) keep one bad input from costing
unbounded time; breaking them raises :class:`~safehold.errors.InvalidInputError` with the
offending field, never a crash.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from safehold.errors import InvalidInputError

#: Longest message text accepted (characters). Chat platforms cap messages at 2,000-4,000.
MAX_MESSAGE_CHARS = 10_000
#: Longest conversation, participant or message id accepted (characters).
MAX_ID_CHARS = 200
#: Platform roles a participant may carry. ``unknown`` when the platform does not say.
ROLES = frozenset(
    {
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
    }
)


@dataclass(frozen=True, slots=True)
class Participant:
    """One person in a conversation.

    Attributes:
        id: the platform's user id (an author in PAN-2012 terms).
        declared_age: age in years the user declared to the platform, if any (not verified).
        account_age_days: days since the account was created, if known.
        role: platform role, one of :data:`ROLES` (``unknown`` by default).
    """

    id: str
    declared_age: int | None = None
    account_age_days: float | None = None
    role: str = "unknown"

    def __post_init__(self) -> None:
        _check_id("participant id", self.id)
        age, account = self.declared_age, self.account_age_days
        if age is not None and (not isinstance(age, int) or isinstance(age, bool)):
            raise InvalidInputError(f"participant {self.id!r}: declared_age must be an integer")
        if age is not None and not 0 <= age <= 130:
            raise InvalidInputError(f"participant {self.id!r}: declared_age must be 0-130")
        if account is not None and (
            not isinstance(account, int | float)
            or isinstance(account, bool)
            or not math.isfinite(account)
        ):
            raise InvalidInputError(f"participant {self.id!r}: account_age_days must be a number")
        if account is not None and account < 0:
            raise InvalidInputError(f"participant {self.id!r}: account_age_days must be >= 0")
        if not isinstance(self.role, str):
            raise InvalidInputError(f"participant {self.id!r}: role must be a string")
        if self.role not in ROLES:
            known = ", ".join(sorted(ROLES))
            raise InvalidInputError(f"participant {self.id!r}: unknown role (known: {known})")


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message.

    Attributes:
        id: unique within its conversation.
        sender: the participant id that wrote it.
        text: the message as sent (any Unicode; up to :data:`MAX_MESSAGE_CHARS`).
        time: when it was sent, if known (timezone-aware or naive, as the source gives it).
    """

    id: str
    sender: str
    text: str
    time: datetime | None = None

    def __post_init__(self) -> None:
        _check_id("message id", self.id)
        _check_id(f"message {self.id!r} sender", self.sender)
        if not isinstance(self.text, str):
            raise InvalidInputError(f"message {self.id!r}: text must be a string")
        if self.time is not None and not isinstance(self.time, datetime):
            raise InvalidInputError(f"message {self.id!r}: time must be a datetime")
        if len(self.text) > MAX_MESSAGE_CHARS:
            raise InvalidInputError(
                f"message {self.id!r}: text longer than {MAX_MESSAGE_CHARS} characters"
            )


@dataclass(frozen=True, slots=True)
class ConversationLabel:
    """Ground truth for training and evaluation.

    Attributes:
        grooming: whether the conversation is a grooming conversation.
        groomers: ids of the participants doing the grooming (empty for negatives).
        family: where the conversation comes from (synthetic template family, ``pan``,
            ``chatterbot``...), for reporting per family.
    """

    grooming: bool
    groomers: frozenset[str] = frozenset()
    family: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.grooming, bool):
            raise InvalidInputError("label grooming must be a boolean")
        if isinstance(self.groomers, str) or not all(isinstance(g, str) for g in self.groomers):
            raise InvalidInputError("label groomers must be a set of participant ids")
        if not isinstance(self.groomers, frozenset):
            object.__setattr__(self, "groomers", frozenset(self.groomers))
        if not isinstance(self.family, str):
            raise InvalidInputError("label family must be a string")
        if self.groomers and not self.grooming:
            raise InvalidInputError("label groomers must be empty when grooming is false")


@dataclass(frozen=True)
class Conversation:
    """An ordered conversation.

    Attributes:
        id: the conversation id.
        messages: messages in the order they were sent.
        participants: participant id -> :class:`Participant`; every sender has one (a sender
            missing from the input gets a default participant).
        label: ground truth, if known.

    Raises:
        InvalidInputError: on a bad id, duplicate message ids, an out-of-range or mistyped
            field, or label groomers that are neither participants nor senders.
    """

    id: str
    messages: tuple[Message, ...]
    participants: Mapping[str, Participant] = field(default_factory=dict)
    label: ConversationLabel | None = None

    def __post_init__(self) -> None:
        _check_id("conversation id", self.id)
        seen: set[str] = set()
        for message in self.messages:
            if message.id in seen:
                raise InvalidInputError(
                    f"conversation {self.id!r}: duplicate message id {message.id!r}"
                )
            seen.add(message.id)
        people = dict(self.participants)
        for message in self.messages:
            if message.sender not in people:
                people[message.sender] = Participant(message.sender)
        object.__setattr__(self, "participants", people)
        unknown = sorted(self.label.groomers - people.keys()) if self.label else []
        if unknown:
            raise InvalidInputError(
                f"conversation {self.id!r}: label groomers {', '.join(map(repr, unknown))} "
                "are neither participants nor senders"
            )

    @classmethod
    def build(
        cls,
        conversation_id: str,
        messages: Iterable[Message],
        participants: Iterable[Participant] = (),
        label: ConversationLabel | None = None,
    ) -> Conversation:
        """Build a conversation from iterables (participants given as a list).

        Raises:
            InvalidInputError: as the constructor, or a participant id given twice.
        """
        people: dict[str, Participant] = {}
        for person in participants:
            if person.id in people:
                raise InvalidInputError(
                    f"conversation {conversation_id!r}: duplicate participant id {person.id!r}"
                )
            people[person.id] = person
        return cls(conversation_id, tuple(messages), people, label)

    def senders(self) -> list[str]:
        """Participant ids in order of their first message."""
        return list(dict.fromkeys(m.sender for m in self.messages))


def check_id(what: str, value: object) -> None:
    """Refuse an id that is not a non-empty string of at most :data:`MAX_ID_CHARS` characters
    without NUL (which PostgreSQL cannot store).

    Raises:
        InvalidInputError: naming ``what``.
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{what} must be a non-empty string")
    if len(value) > MAX_ID_CHARS:
        raise InvalidInputError(f"{what} longer than {MAX_ID_CHARS} characters")
    if "\x00" in value:
        raise InvalidInputError(f"{what} must not contain NUL characters")


_check_id = check_id
