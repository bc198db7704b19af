"""Leave-one-family-out estimate: how the risk model does on a grooming family it never saw.

The blind splits test new families and new wording. Before spending one, this estimates the
first on the data we may tune on: for each grooming family of ``train``, the risk model is
refitted (:func:`~.calibration.fit_risk_model`) on ``train`` without that family, and scored on
``dev``'s conversations of that family (whose phrasings no detector was fitted on) together
with every ``dev`` negative. Families not in ``dev`` are scored on their own ``train``
conversations (phrasings seen by the indicator model: an optimistic figure, marked so).
As in :mod:`.calibration`, the embedding detector's risk model is fitted on out-of-fold hits
(:func:`~.calibration.fitting_detector`); dev is scored with the detector's own hits.

Run ``python -m safehold.grooming.crossval [pattern|embedding ...]``; prints one JSON line per
detector and family.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from safehold.grooming.calibration import (
    fit_risk_model,
    fitting_detector,
    training_conversations,
)
from safehold.grooming.detector import Detector, get_detector
from safehold.grooming.evaluate import evaluate
from safehold.grooming.model import Conversation
from safehold.grooming.scoring import DEFAULT_SKEPTICISM


def _family(conv: Conversation) -> str:
    return conv.label.family if conv.label else ""


def _is_grooming(conv: Conversation) -> bool:
    return bool(conv.label and conv.label.grooming)


def leave_one_family_out(
    detector: Detector,
    train: list[Conversation],
    dev: list[Conversation],
    skepticism: int = DEFAULT_SKEPTICISM,
    fit_detector: Detector | None = None,
) -> list[dict[str, Any]]:
    """One row per grooming family of ``train``: recall, median share read, false positives.

    Args:
        fit_detector: the detector whose hits the risk model is fitted on (default
            ``detector``; :func:`~.calibration.fitting_detector` gives out-of-fold hits).

    Returns:
        Dicts with ``family``, ``scored_on`` (``dev`` or ``train (seen phrasings)``),
        ``grooming`` (conversations scored), ``recall``, ``median_share_read``,
        ``false_positive_rate`` (over ``dev``'s negatives) and ``f05``.
    """
    families = sorted({_family(c) for c in train if _is_grooming(c)})
    negatives = [c for c in dev if not _is_grooming(c)]
    rows = []
    for family in families:
        rest = [c for c in train if _family(c) != family]
        model = fit_risk_model(rest, fit_detector or detector)
        held = [c for c in dev if _family(c) == family]
        scored_on = "dev"
        if not held:
            held = [c for c in train if _family(c) == family][:100]
            scored_on = "train (seen phrasings)"
        report = evaluate(held + negatives, detector, skepticism=skepticism, model=model)
        rows.append(
            {
                "family": family,
                "scored_on": scored_on,
                "grooming": report.grooming,
                "recall": report.per_conversation.recall,
                "f05": report.per_conversation.f05,
                "median_share_read": report.median_share_read,
                "false_positive_rate": report.false_positive_rate,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the leave-one-family-out rows of the named detectors (default: both)."""
    from safehold.grooming.benign import chatterbot_conversations
    from safehold.grooming.synthetic import generate

    names = (argv if argv is not None else sys.argv[1:]) or ["pattern", "embedding"]
    train = training_conversations()
    dev = generate("dev") + chatterbot_conversations("dev")
    for name in names:
        detector = get_detector(name)
        fitting = fitting_detector(detector, train)
        for row in leave_one_family_out(detector, train, dev, fit_detector=fitting):
            print(json.dumps({"detector": name, **row}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
