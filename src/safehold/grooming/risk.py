"""Conversation risk: a calibrated 0-1 score per sender, a level, reasons and an action.

The score of a sender is a logistic model over :mod:`.features` (weights fitted on the
synthetic training split by :mod:`.calibration` and shipped in ``data/risk_model.json``, one
weight set per detector because their strengths differ). A logistic model fitted by maximum
likelihood is calibrated in Platt's sense (1999): among senders scored 0.8, about 80 % were
grooming in the training data. The conversation's score is its riskiest sender's.

Levels and actions follow Project Artemis's practice: the platform chooses its thresholds
(:class:`RiskThresholds`, from ``SAFEHOLD_GROOMING_*``) and every positive goes to human review
before any report. ``urgent`` is for scores over the urgent threshold, or for review-level
risk that includes pressure or threats (sextortion is time-critical). A sender who repeated
requests :data:`~.features.PERSISTENCE_CAP` times to someone not known to be an adult
(:meth:`~.features.Evidence.persistent`) gets at least ``review``, and ``urgent`` at review
level: persistence is pressure, but the score stays bounded.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from safehold.errors import ConfigurationError
from safehold.grooming.explain import escalation_stages, reasons
from safehold.grooming.features import FEATURE_NAMES, PRESENT, Evidence
from safehold.grooming.indicators import INDICATORS

if TYPE_CHECKING:
    from safehold.settings import Settings

LEVELS = ("minimal", "elevated", "high", "severe")
ACTIONS = ("none", "monitor", "review", "urgent")
RISK_MODEL_FORMAT = "safehold-grooming-risk"


@dataclass(frozen=True, slots=True)
class RiskThresholds:
    """Score thresholds (0-1) for each action; each platform sets its own."""

    monitor: float = 0.3
    review: float = 0.6
    urgent: float = 0.9

    def __post_init__(self) -> None:
        if not 0 <= self.monitor <= self.review <= self.urgent <= 1:
            raise ConfigurationError(
                "grooming thresholds must satisfy 0 <= monitor <= review <= urgent <= 1"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> RiskThresholds:
        """Thresholds from ``SAFEHOLD_GROOMING_{MONITOR,REVIEW,URGENT}_THRESHOLD``."""
        return cls(
            settings.grooming_monitor_threshold,
            settings.grooming_review_threshold,
            settings.grooming_urgent_threshold,
        )

    def action(self, score: float, *, pressure: bool = False, persistent: bool = False) -> str:
        """The action for ``score``: none, monitor, review or urgent.

        Args:
            pressure: the sender pressures or threatens: review-level risk becomes urgent.
            persistent: the sender kept repeating a request: at least ``review``, and review
                becomes urgent (the score itself stays bounded).
        """
        if score >= self.urgent or (pressure and score >= self.review):
            return "urgent"
        if score >= self.review:
            return "urgent" if persistent else "review"
        if persistent:
            return "review"
        return "monitor" if score >= self.monitor else "none"


@dataclass(frozen=True)
class RiskModel:
    """Logistic weights over :data:`FEATURE_NAMES` (standardised by ``mean``/``scale``).

    ``min_behaviours``: review and urgent need this many distinct behaviours of the sender
    (strength >= PRESENT), unless one is of the exclusivity, sexual or approach stage or the
    sender is persistent; below, the action stops at ``monitor`` (the score is unchanged).
    2 for the embedding path in rounds 5-7 (its graded strengths let one friendship or gift
    message plus weak hits reach review); 1 since round 8, whose neighbour line model made the
    rule hold warnings back without keeping any negative unflagged (docs/grooming.md).

    ``confident``: a score (0-1) at or above which a monitor warns at the first message at
    review level or above, skipping its skepticism window; ``None`` (the default): the window
    always applies. Round 7 sets it to 0.6 on the embedding path, whose false positives did not
    change without the window when leaving one writer out (docs/grooming.md, "Round 7").
    """

    name: str
    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    min_behaviours: int = 1
    confident: float | None = None

    def score(self, features: list[float]) -> float:
        """Probability (0-1) that the sender with these features is grooming."""
        z = self.bias + sum(
            w * (x - m) / s
            for w, x, m, s in zip(self.weights, features, self.mean, self.scale, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def to_dict(self) -> dict[str, Any]:
        """JSON form (lists instead of tuples)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@lru_cache(maxsize=4)
def load_risk_model(detector: str = "pattern") -> RiskModel:
    """The packaged risk model for ``detector`` (``pattern`` weights for unknown detectors).

    Raises:
        ConfigurationError: the packaged file is missing or does not match FEATURE_NAMES.
    """
    text = resources.files("safehold.grooming").joinpath("data/risk_model.json").read_text()
    data = json.loads(text)
    if data.get("format") != RISK_MODEL_FORMAT or tuple(data["features"]) != FEATURE_NAMES:
        raise ConfigurationError(
            "grooming risk model does not match this Safehold's features; "
            "run python -m safehold.grooming.calibration"
        )
    entry = data["models"].get(detector) or data["models"]["pattern"]
    return RiskModel(
        entry["name"],
        tuple(entry["weights"]),
        entry["bias"],
        tuple(entry["mean"]),
        tuple(entry["scale"]),
        int(entry.get("min_behaviours", 1)),
        entry.get("confident"),
    )


@dataclass(frozen=True, slots=True)
class IndicatorFinding:
    """An indicator one sender showed: its stage, strength and the messages that showed it."""

    indicator: str
    title: str
    stage: str
    sender: str
    strength: float
    message_ids: tuple[str, ...]
    evidence: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SenderRisk:
    """One sender's calibrated score."""

    sender: str
    score: float
    action: str


@dataclass(frozen=True)
class ConversationRisk:
    """The risk of one conversation (or of the part read so far).

    Attributes:
        conversation_id: the conversation.
        score: calibrated 0-1 risk (the riskiest sender's).
        level: minimal, elevated, high or severe.
        action: none, monitor, review or urgent (for a human reviewer, never automatic).
        sender: the riskiest sender (None when no message was read).
        senders: every sender's score, riskiest first.
        indicators: findings of the riskiest sender first, then of the others.
        escalation: stage names of the riskiest sender, in the order they first appeared.
        reasons: plain-language explanation lines for reviewers.
        messages_read: how many messages the score covers.
        model: detector and model versions that produced it.
    """

    conversation_id: str
    score: float
    level: str
    action: str
    sender: str | None
    senders: tuple[SenderRisk, ...]
    indicators: tuple[IndicatorFinding, ...]
    escalation: tuple[str, ...]
    reasons: tuple[str, ...]
    messages_read: int
    model: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        result: dict[str, Any] = json.loads(json.dumps(asdict(self)))
        return result


def assess(
    conversation_id: str,
    evidence: Evidence,
    *,
    model: RiskModel,
    thresholds: RiskThresholds,
    model_label: str,
    sender_scores: dict[str, float] | None = None,
) -> ConversationRisk:
    """Turn accumulated evidence into a :class:`ConversationRisk`.

    Args:
        sender_scores: scores from a trained classifier that replace the risk model's.
    """
    ranked: list[SenderRisk] = []
    for sender, state in evidence.senders.items():
        score = (sender_scores or {}).get(sender)
        if score is None:
            score = model.score(evidence.features(sender))
        persistent = evidence.persistent(sender)
        action = thresholds.action(
            score, pressure="pressure_threats" in state.found, persistent=persistent
        )
        if action in ("review", "urgent") and not persistent:
            count, strong = evidence.behaviours(sender)
            if count < model.min_behaviours and not strong:
                action = "monitor"
        ranked.append(SenderRisk(sender, round(score, 4), action))
    ranked.sort(key=lambda r: (-r.score, r.sender))
    top = ranked[0] if ranked else None
    findings = _findings(evidence, [r.sender for r in ranked])
    escalation = escalation_stages(evidence, top.sender) if top else ()
    score = top.score if top else 0.0
    action = top.action if top else "none"
    return ConversationRisk(
        conversation_id=conversation_id,
        score=score,
        level=LEVELS[ACTIONS.index(action)],
        action=action,
        sender=top.sender if top else None,
        senders=tuple(ranked),
        indicators=findings,
        escalation=escalation,
        reasons=reasons(evidence, top.sender if top else None, escalation),
        messages_read=evidence.count,
        model=model_label,
    )


def _findings(evidence: Evidence, order: list[str]) -> tuple[IndicatorFinding, ...]:
    out: list[IndicatorFinding] = []
    for sender in order:
        state = evidence.senders[sender]
        for name, found in sorted(state.found.items(), key=lambda kv: kv[1].first_index):
            if found.strength < PRESENT:
                continue
            indicator = INDICATORS.get(name)
            out.append(
                IndicatorFinding(
                    name,
                    indicator.title,
                    indicator.stage.name.lower(),
                    sender,
                    round(found.strength, 4),
                    tuple(found.message_ids),
                    tuple(found.evidence),
                )
            )
    return tuple(out)
