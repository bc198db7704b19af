"""Grooming risk detection: conversations in, calibrated risk, reasons and early warnings out.

Public API (the HTTP routes and the ``safehold chat`` commands use only these)::

    from safehold.grooming import Conversation, Message, score_conversation, ConversationMonitor

    risk = score_conversation(conv)                    # ConversationRisk
    monitor = ConversationMonitor("c1")                # streaming, with early warning
    risk, warning = monitor.append([Message("m1", "u1", "hi")])

Detectors: ``get_detector("pattern")`` (transparent) or ``get_detector("embedding")`` (needs
``safehold[embeddings]``); the settings' default, ``auto``, is the second where it is installed
(``grooming.config.detector_from_settings``). Design and figures: ``docs/grooming.md``.
"""

from __future__ import annotations

from safehold.grooming.detector import DETECTORS, Detector, Hit, get_detector
from safehold.grooming.indicators import INDICATORS, Indicator, Stage
from safehold.grooming.model import Conversation, ConversationLabel, Message, Participant
from safehold.grooming.risk import ConversationRisk, IndicatorFinding, RiskThresholds, SenderRisk
from safehold.grooming.scoring import ConversationMonitor, EarlyWarning, score_conversation

__all__ = [
    "DETECTORS",
    "INDICATORS",
    "Conversation",
    "ConversationLabel",
    "ConversationMonitor",
    "ConversationRisk",
    "Detector",
    "EarlyWarning",
    "Hit",
    "Indicator",
    "IndicatorFinding",
    "Message",
    "Participant",
    "RiskThresholds",
    "SenderRisk",
    "Stage",
    "get_detector",
    "score_conversation",
]
