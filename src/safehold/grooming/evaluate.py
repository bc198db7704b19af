"""Evaluation of the engine on labelled conversations, as the field reports it.

Each conversation is read as a stream (:class:`~safehold.grooming.scoring.ConversationMonitor`);
it counts as flagged when a warning was raised. Reported:

* precision, recall, F1 and F0.5 per conversation, and per author (PAN-2012's unit: an author
  is flagged when they were the riskiest sender of a warning in any conversation; Inches &
  Crestani 2012). F0.5 weighs precision twice as much as recall, as PAN-2012 did.
* false-positive rate on the non-grooming conversations, overall and per family, and recall
  per family on the grooming ones (a family name may hold both kinds).
* latency-weighted F1 (Sadeque, Xu & Bethard 2018, used for eSPD by Vogt et al. 2021):
  ``F_latency = F1 * speed``, ``speed = 1 - median(penalty(k))`` over flagged grooming
  conversations, ``penalty(k) = -1 + 2 / (1 + exp(-p (k - 1)))`` with k the messages read at
  the warning. ``p`` defaults to ``ln 3 / (m/2 - 1)`` with m the median grooming conversation
  length, so a warning halfway through a typical grooming chat costs half the speed.
* the median share of a grooming conversation read before its warning (over flagged
  conversations, and over all grooming conversations with a miss counted as 1.0).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from safehold.errors import InvalidInputError
from safehold.grooming.detector import Detector, Hit
from safehold.grooming.model import Conversation
from safehold.grooming.risk import RiskModel, RiskThresholds
from safehold.grooming.scoring import DEFAULT_SKEPTICISM, ConversationMonitor, default_detector

if TYPE_CHECKING:
    from safehold.grooming.classifier import GroomingClassifier


@dataclass(frozen=True)
class Scores:
    """Precision, recall, F1 and F0.5 from counts (0.0 where undefined)."""

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    f05: float

    @classmethod
    def from_counts(cls, tp: int, fp: int, fn: int) -> Scores:
        """Compute the scores; F-beta = (1 + b^2) P R / (b^2 P + R)."""
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        f05 = 1.25 * p * r / (0.25 * p + r) if p + r else 0.0
        return cls(tp, fp, fn, round(p, 4), round(r, 4), round(f1, 4), round(f05, 4))


@dataclass(frozen=True)
class EvaluationReport:
    """What :func:`evaluate` measured (see the module docstring)."""

    conversations: int
    grooming: int
    negatives: int
    per_conversation: Scores
    per_author: Scores
    false_positive_rate: float
    false_positive_rate_by_family: dict[str, float]
    recall_by_family: dict[str, float]
    latency_p: float
    speed: float
    latency_f1: float
    median_share_read: float | None
    median_share_read_all: float | None
    median_messages_read: float | None
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


class BatchDetector(Detector):
    """Serves hits computed in one batch, so monitors do not re-run the detector (texts not
    in the batch are detected by ``inner`` on demand)."""

    def __init__(self, inner: Detector, texts: list[str]) -> None:
        self.name = inner.name  # type: ignore[misc]
        self.version = inner.version
        unique = list(dict.fromkeys(texts))
        self.table = dict(zip(unique, inner.detect(unique), strict=True))
        self.inner = inner

    def _detect(self, texts: list[str]) -> list[list[Hit]]:
        missing = [t for t in texts if t not in self.table]
        if missing:
            self.table.update(zip(missing, self.inner.detect(missing), strict=True))
        return [self.table[t] for t in texts]


def latency_penalty(k: int, p: float) -> float:
    """Sadeque et al. (2018) latency penalty of a decision after reading ``k`` messages."""
    return -1.0 + 2.0 / (1.0 + math.exp(-p * (k - 1)))


def evaluate(
    conversations: Sequence[Conversation],
    detector: Detector | None = None,
    *,
    thresholds: RiskThresholds | None = None,
    skepticism: int = DEFAULT_SKEPTICISM,
    model: RiskModel | None = None,
    classifier: GroomingClassifier | None = None,
    latency_p: float | None = None,
) -> EvaluationReport:
    """Stream every labelled conversation through a monitor and measure the results.

    Conversations without a label are skipped. Per-family rates read only the conversations
    they are about: false positives the non-grooming ones of the family, recall its grooming
    ones (a family name may hold both).

    Raises:
        InvalidInputError: no conversation is labelled (nothing to measure).
    """
    labelled = [c for c in conversations if c.label is not None]
    if not labelled:
        raise InvalidInputError(
            f"none of the {len(conversations)} conversations is labelled; evaluation needs "
            "labels ('label' in JSON Lines; --predators for PAN-2012 XML)"
        )
    replay = BatchDetector(
        detector or default_detector(), [m.text for c in labelled for m in c.messages]
    )
    tp = fp = fn = 0
    # family -> [conversations, flagged], grooming and other conversations apart (one family
    # name may hold both: recall reads the grooming ones, false positives the others).
    positive_families: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    negative_families: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    flagged_authors: set[str] = set()
    guilty: set[str] = set()
    authors: set[str] = set()
    reads: list[tuple[int, int]] = []  # (k, n) for flagged grooming conversations
    missed_lengths: list[int] = []
    for conv in labelled:
        assert conv.label is not None
        monitor = ConversationMonitor(
            conv.id,
            detector=replay,
            participants=conv.participants,
            thresholds=thresholds,
            skepticism=skepticism,
            model=model,
            classifier=classifier,
        )
        monitor.append(conv.messages)
        first = monitor.warnings[0] if monitor.warnings else None
        authors.update(conv.participants)
        guilty.update(conv.label.groomers)
        flagged_authors.update(w.risk.sender for w in monitor.warnings if w.risk.sender)
        counts = (positive_families if conv.label.grooming else negative_families)[
            conv.label.family
        ]
        counts[0] += 1
        counts[1] += first is not None
        if conv.label.grooming:
            if first is not None:
                tp += 1
                reads.append((first.message_index + 1, len(conv.messages)))
            else:
                fn += 1
                missed_lengths.append(len(conv.messages))
        elif first is not None:
            fp += 1
    grooming = [c for c in labelled if c.label and c.label.grooming]
    negatives = len(labelled) - len(grooming)
    if latency_p is None:
        half = statistics.median(len(c.messages) for c in grooming) / 2 if grooming else 50.0
        latency_p = math.log(3) / max(1.0, half - 1)
    per_conv = Scores.from_counts(tp, fp, fn)
    speed = (
        1.0 - statistics.median(latency_penalty(k, latency_p) for k, _ in reads) if reads else 0.0
    )
    shares = [k / n for k, n in reads]
    return EvaluationReport(
        conversations=len(labelled),
        grooming=len(grooming),
        negatives=negatives,
        per_conversation=per_conv,
        per_author=Scores.from_counts(
            len(flagged_authors & guilty),
            len(flagged_authors - guilty),
            len(guilty - flagged_authors),
        ),
        false_positive_rate=round(fp / negatives, 4) if negatives else 0.0,
        false_positive_rate_by_family={
            f: round(hit / total, 4) for f, (total, hit) in sorted(negative_families.items())
        },
        recall_by_family={
            f: round(hit / total, 4) for f, (total, hit) in sorted(positive_families.items())
        },
        latency_p=round(latency_p, 6),
        speed=round(speed, 4),
        latency_f1=round(per_conv.f1 * speed, 4),
        median_share_read=round(statistics.median(shares), 4) if shares else None,
        median_share_read_all=round(statistics.median(shares + [1.0] * len(missed_lengths)), 4)
        if grooming
        else None,
        median_messages_read=statistics.median(k for k, _ in reads) if reads else None,
        settings={
            "detector": replay.version,
            "skepticism": skepticism,
            "thresholds": asdict(thresholds or RiskThresholds()),
        },
    )
