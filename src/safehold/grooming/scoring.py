"""The grooming engine's public entry points: score a conversation, or monitor a live one.

:func:`score_conversation` reads a whole conversation. :class:`ConversationMonitor` reads a
message stream and warns as early as it can: it re-scores after every message and raises a
:class:`EarlyWarning` once the risk has stayed at or above the review threshold for
``skepticism`` consecutive messages (one when the score reaches the risk model's
``confident`` score, :class:`~.risk.RiskModel`). The skepticism window is Vogt, Leser &
Akbik's (2021, "Early Detection of Sexual Predators in Chats", ACL) device for trading a
little latency for far fewer false alarms; a later warning is raised again only when the
action escalates (review -> urgent). Appending costs O(indicators) per message for the risk
model (plus the detector's own time; a trained classifier keeps per-sender n-gram counts, so
it too costs O(sender vocabulary) per message), so a monitor can sit behind a chat send path.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from safehold.errors import InvalidInputError
from safehold.grooming.detector import Detector, Hit
from safehold.grooming.features import Evidence
from safehold.grooming.model import Conversation, Message, Participant
from safehold.grooming.risk import (
    ACTIONS,
    ConversationRisk,
    RiskModel,
    RiskThresholds,
    assess,
    load_risk_model,
)

if TYPE_CHECKING:
    from safehold.grooming.classifier import GroomingClassifier

#: Default skepticism window (consecutive messages at review level before a warning); chosen
#: on the dev split (docs/grooming.md).
DEFAULT_SKEPTICISM = 2


@lru_cache(maxsize=1)
def default_detector() -> Detector:
    """The shared pattern detector (compiled once per process)."""
    from safehold.grooming.patterns import PatternDetector

    return PatternDetector()


def score_conversation(
    conv: Conversation,
    detector: Detector | None = None,
    *,
    thresholds: RiskThresholds | None = None,
    model: RiskModel | None = None,
    classifier: GroomingClassifier | None = None,
) -> ConversationRisk:
    """Score a whole conversation.

    Args:
        conv: the conversation.
        detector: indicator detector (default: the pattern detector).
        thresholds: action thresholds (default :class:`RiskThresholds()`).
        model: risk model (default: the packaged one for the detector).
        classifier: a trained classifier; when given, its per-sender probabilities replace
            the risk model's scores (indicators still explain them).

    Returns:
        The :class:`ConversationRisk`.

    Raises:
        InvalidInputError: a message text is too long (see ``model.MAX_MESSAGE_CHARS``).
    """
    detector = detector or default_detector()
    evidence = Evidence(dict(conv.participants))
    hits = detector.detect([m.text for m in conv.messages])
    for message, message_hits in zip(conv.messages, hits, strict=True):
        evidence.add(message, message_hits)
    model = model or load_risk_model(detector.name)
    scores = classifier.sender_scores(conv, evidence) if classifier and conv.messages else None
    return assess(
        conv.id,
        evidence,
        model=model,
        thresholds=thresholds or RiskThresholds(),
        model_label=_label(detector, model, classifier),
        sender_scores=scores,
    )


@dataclass(frozen=True, slots=True)
class EarlyWarning:
    """A warning raised while a conversation was being read.

    Attributes:
        conversation_id: the conversation.
        message_id: the message after which the warning was raised.
        message_index: 0-based position of that message in the stream.
        action: ``review`` or ``urgent``.
        score: the risk score at that point.
        risk: the full assessment at that point.
    """

    conversation_id: str
    message_id: str
    message_index: int
    action: str
    score: float
    risk: ConversationRisk

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "conversation_id": self.conversation_id,
            "message_id": self.message_id,
            "message_index": self.message_index,
            "action": self.action,
            "score": self.score,
            "risk": self.risk.to_dict(),
        }


class ConversationMonitor:
    """Streaming risk for one conversation; feed it messages as they arrive.

    Args:
        conversation_id: the conversation.
        detector: indicator detector (default: the pattern detector).
        participants: what the platform knows about the participants.
        thresholds: action thresholds; warnings start at ``review``.
        skepticism: consecutive messages at review level or above before a warning (>= 1);
            one suffices at or above the risk model's ``confident`` score.
        model: risk model (default: the packaged one for the detector).
        classifier: optional trained classifier; its n-gram counts are kept per sender and
            it scores after every message, like the risk model.
    """

    def __init__(
        self,
        conversation_id: str,
        *,
        detector: Detector | None = None,
        participants: Sequence[Participant] | Mapping[str, Participant] = (),
        thresholds: RiskThresholds | None = None,
        skepticism: int = DEFAULT_SKEPTICISM,
        model: RiskModel | None = None,
        classifier: GroomingClassifier | None = None,
    ) -> None:
        if skepticism < 1:
            raise InvalidInputError("skepticism must be >= 1")
        people = participants.values() if isinstance(participants, Mapping) else participants
        self.conversation_id = conversation_id
        self.detector = detector or default_detector()
        self.thresholds = thresholds or RiskThresholds()
        self.skepticism = skepticism
        self.model = model or load_risk_model(self.detector.name)
        self.classifier = classifier
        self.participants = {p.id: p for p in people}
        self.evidence = Evidence(self.participants)
        self.ngram_counts: dict[str, Counter[int]] = {}
        self.seen: set[str] = set()
        self.streak = 0
        self.warned = "none"
        self.warnings: list[EarlyWarning] = []
        #: ``{"message_id", "message_index", "action", "score"}`` per warning, kept when
        #: the monitor is stored (``monitor_state``); :attr:`warnings` is this process's only.
        self.warning_log: list[dict[str, Any]] = []
        self.risk = self.current_risk()

    def update_participants(self, participants: Iterable[Participant]) -> None:
        """Add or replace what is known about participants (applies from the next score)."""
        for person in participants:
            self.participants[person.id] = person
            self.evidence.participants[person.id] = person

    def append(self, messages: Sequence[Message]) -> tuple[ConversationRisk, EarlyWarning | None]:
        """Read new messages; return the current risk and the warning they raised, if any.

        When one call raises several warnings (review, then urgent) the last is returned;
        all are kept in :attr:`warnings`.

        Raises:
            InvalidInputError: a message id was already appended, or a text is too long.
        """
        for message in messages:
            if message.id in self.seen:
                raise InvalidInputError(f"message id {message.id!r} already appended")
        return self.append_detected(messages, self.detector.detect([m.text for m in messages]))

    def append_detected(
        self, messages: Sequence[Message], hits: Sequence[list[Hit]]
    ) -> tuple[ConversationRisk, EarlyWarning | None]:
        """:meth:`append` for messages whose ``hits`` the detector already found.

        The HTTP service detects before it locks the conversation's stored state, so the
        detector's time is not spent holding the lock. ``hits[i]`` belongs to ``messages[i]``.

        Raises:
            ValueError: ``messages`` and ``hits`` differ in length.
        """
        new: EarlyWarning | None = None
        for message, message_hits in zip(messages, hits, strict=True):
            self.seen.add(message.id)
            if message.sender not in self.participants:
                self.participants[message.sender] = Participant(message.sender)
            if self.classifier is not None:
                counts = self.ngram_counts.setdefault(message.sender, Counter())
                counts.update(self.classifier.counts(message.text))
            self.evidence.add(message, message_hits)
            warning = self._step(message)
            new = warning or new
        return self.risk, new

    def _step(self, message: Message) -> EarlyWarning | None:
        self.risk = self.current_risk()
        if ACTIONS.index(self.risk.action) >= ACTIONS.index("review"):
            self.streak += 1
        else:
            self.streak = 0
        confident = self.model.confident is not None and self.risk.score >= self.model.confident
        if self.streak < (1 if confident else self.skepticism):
            return None
        if ACTIONS.index(self.risk.action) <= ACTIONS.index(self.warned):
            return None
        self.warned = self.risk.action
        warning = EarlyWarning(
            self.conversation_id,
            message.id,
            self.evidence.count - 1,
            self.risk.action,
            self.risk.score,
            self.risk,
        )
        self.warnings.append(warning)
        self.warning_log.append(
            {
                "message_id": warning.message_id,
                "message_index": warning.message_index,
                "action": warning.action,
                "score": warning.score,
            }
        )
        return warning

    def current_risk(self) -> ConversationRisk:
        """Assess the evidence read so far (what :attr:`risk` holds after each message)."""
        scores = None
        if self.classifier is not None:
            scores = {
                sender: self.classifier.score(counts, self.evidence.features(sender))
                for sender, counts in self.ngram_counts.items()
            }
        return assess(
            self.conversation_id,
            self.evidence,
            model=self.model,
            thresholds=self.thresholds,
            model_label=_label(self.detector, self.model, self.classifier),
            sender_scores=scores,
        )


def _label(detector: Detector, model: RiskModel, classifier: GroomingClassifier | None) -> str:
    label = f"{detector.version}+risk-{model.name}"
    return f"{label}+{classifier.label}" if classifier is not None else label
