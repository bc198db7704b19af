"""A streaming monitor's state as plain JSON, so any service worker can continue a conversation.

The HTTP service runs several worker processes; the messages of one conversation may reach any
of them. :func:`dump_monitor` turns a :class:`~safehold.grooming.scoring.ConversationMonitor`
into a JSON-ready dict and :func:`load_monitor` rebuilds it. The state is the accumulated
evidence (per sender: indicators with their best strength, first position, up to
``features.MAX_IDS`` message ids and matched words, repeats; states stored before repeats
were counted load with 0), the participants, the skepticism streak,
the last warning level and a summary of the warnings raised; with a trained classifier, the
per-sender n-gram counts. **Message texts are never part of it.** Its size is bounded by
senders x indicators x ``MAX_IDS`` (plus the classifier's vocabulary), not by the length of the
conversation.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from safehold.errors import StorageError
from safehold.grooming.detector import Detector
from safehold.grooming.features import Evidence, Found, SenderEvidence
from safehold.grooming.model import Participant
from safehold.grooming.risk import RiskModel, RiskThresholds
from safehold.grooming.scoring import ConversationMonitor

#: Version of the dict layout; a stored state of another version is refused.
STATE_VERSION = 1


def dump_monitor(monitor: ConversationMonitor) -> dict[str, Any]:
    """The monitor's state as a JSON-ready dict (no message texts).

    ``warnings`` holds ``{"message_id", "message_index", "action", "score"}`` per warning
    raised so far (the full risk of each is not kept).
    """
    return {
        "version": STATE_VERSION,
        "participants": [
            {
                "id": p.id,
                "declared_age": p.declared_age,
                "account_age_days": p.account_age_days,
                "role": p.role,
            }
            for p in monitor.participants.values()
        ],
        "count": monitor.evidence.count,
        "senders": {
            name: {
                "messages": s.messages,
                "protective": s.protective,
                "protective_ids": s.protective_ids,
                "minor_ids": s.minor_ids,
                "adult_ids": s.adult_ids,
                "found": {
                    ind: [f.strength, f.first_index, f.message_ids, f.evidence, f.repeats]
                    for ind, f in s.found.items()
                },
            }
            for name, s in monitor.evidence.senders.items()
        },
        "streak": monitor.streak,
        "warned": monitor.warned,
        "warnings": list(monitor.warning_log),
        "ngrams": {
            sender: [[gram, n] for gram, n in counts.items()]
            for sender, counts in monitor.ngram_counts.items()
        },
    }


def load_monitor(
    conversation_id: str,
    state: dict[str, Any],
    *,
    detector: Detector,
    thresholds: RiskThresholds,
    skepticism: int,
    model: RiskModel | None = None,
    classifier: Any = None,
) -> ConversationMonitor:
    """Rebuild a monitor from :func:`dump_monitor`'s dict, with today's detector and settings.

    Raises:
        StorageError: the state has another layout version or is malformed.
    """
    if state.get("version") != STATE_VERSION:
        raise StorageError(f"conversation {conversation_id!r}: unknown stored state version")
    try:
        participants = [Participant(**p) for p in state["participants"]]
        monitor = ConversationMonitor(
            conversation_id,
            detector=detector,
            participants=participants,
            thresholds=thresholds,
            skepticism=skepticism,
            model=model,
            classifier=classifier,
        )
        evidence = Evidence(monitor.participants)
        evidence.count = int(state["count"])
        for name, s in state["senders"].items():
            evidence.senders[name] = SenderEvidence(
                found={
                    ind: Found(
                        float(v[0]), int(v[1]), list(v[2]), list(v[3]), int(v[4]) if v[4:] else 0
                    )
                    for ind, v in s["found"].items()
                },
                messages=int(s["messages"]),
                protective=int(s["protective"]),
                protective_ids=list(s["protective_ids"]),
                minor_ids=list(s["minor_ids"]),
                adult_ids=list(s["adult_ids"]),
            )
        monitor.evidence = evidence
        monitor.streak = int(state["streak"])
        monitor.warned = str(state["warned"])
        monitor.warning_log = [dict(w) for w in state["warnings"]]
        monitor.ngram_counts = {
            sender: Counter({int(g): int(n) for g, n in pairs})
            for sender, pairs in state["ngrams"].items()
        }
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise StorageError(f"conversation {conversation_id!r}: malformed stored state") from exc
    monitor.risk = monitor.current_risk()
    return monitor
