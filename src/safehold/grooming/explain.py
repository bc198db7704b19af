"""Plain-language explanations of a sender's risk, for reviewers (used by :mod:`.risk`).

Reviewers need to see why a conversation was flagged and what lowered its score: the
behaviours in the order they appeared (with message ids), repeated requests, the stages the
sender went through, what is known about ages, and the protective context (parents included,
a named family relationship, peers of about the same age).
"""

from __future__ import annotations

from safehold.grooming.features import (
    FEATURE_NAMES,
    NEW_ACCOUNT_DAYS,
    PERSISTENCE_CAP,
    PRESENT,
    REQUESTS,
    Evidence,
)
from safehold.grooming.indicators import INDICATORS, Stage


def escalation_stages(evidence: Evidence, sender: str) -> tuple[str, ...]:
    """The stage names of ``sender``'s indicators (strength >= PRESENT, context left out), in
    the order they first appeared."""
    state = evidence.senders[sender]
    stages: list[str] = []
    for name, found in sorted(state.found.items(), key=lambda kv: kv[1].first_index):
        stage = INDICATORS.get(name).stage
        if (
            found.strength >= PRESENT
            and stage != Stage.CONTEXT
            and stage.name.lower() not in stages
        ):
            stages.append(stage.name.lower())
    return tuple(stages)


def reasons(evidence: Evidence, sender: str | None, escalation: tuple[str, ...]) -> tuple[str, ...]:
    """Plain-language lines for reviewers about ``sender`` (none when ``sender`` is None):
    the behaviours in order, repeats, stages, ages, and what lowered the risk."""
    if sender is None:
        return ()
    state = evidence.senders[sender]
    lines: list[str] = []
    shown = sorted((f.first_index, n, f) for n, f in state.found.items() if f.strength >= PRESENT)
    if shown:
        steps = ", then ".join(
            f"{INDICATORS.get(n).title} ({', '.join(f.message_ids[:3])})" for _, n, f in shown
        )
        lines.append(f"{sender}: {steps}")
    repeats = evidence.persistence(sender)
    if repeats:
        asked = sorted(n for n in REQUESTS if n in state.found and state.found[n].repeats)
        titles = ", ".join(INDICATORS.get(n).title for n in asked)
        more = " or more" if repeats >= PERSISTENCE_CAP else ""
        times = "once" if repeats == 1 and not more else f"{repeats}{more} times"
        # pressure only where it escalates (Evidence.persistent: not to a known adult, and
        # not with the parents included or a purpose stated); otherwise the repeat is a fact
        why = (
            "pressure"
            if repeats < PERSISTENCE_CAP or evidence.persistent(sender)
            else (
                "not treated as pressure: the parents are included, an administrative purpose "
                "is stated, or the other person is an adult"
            )
        )
        lines.append(f"{sender} repeated a request {times} ({titles}): {why}")
    if len(escalation) >= 2:
        lines.append(f"escalates through {len(escalation)} stages: {' -> '.join(escalation)}")
    features = dict(zip(FEATURE_NAMES, evidence.features(sender), strict=True))
    if features["new_account"]:
        lines.append(f"{sender}'s account is new (under {NEW_ACCOUNT_DAYS} days): raises the risk")
    if features["age_gap"]:
        lines.append(f"{sender} appears to be an adult talking with a minor")
    elif features["partner_minor"]:
        lines.append("the other participant appears to be under 18")
    if state.protective:
        lines.append(
            "parents or guardians included, or an administrative purpose stated "
            f"({', '.join(state.protective_ids[:3])}): lowers the risk"
        )
    if features["family"]:
        ids = [i for s in evidence.senders.values() for i in s.family_ids][:3]
        if ids:
            lines.append(f"a family relationship is named ({', '.join(ids)}): lowers the risk")
        if evidence.parent_role():
            lines.append("a participant is marked as a parent by the platform: lowers the risk")
    if features["peer_minor"]:
        lines.append(f"{sender} appears to be a minor of about the same age: lowers the risk")
    return tuple(lines)
