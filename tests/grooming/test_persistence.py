"""Repetition, reciprocity and known adults: what a trust-and-safety reviewer expects.

Asking a child again and again for a photo is pressure and escalates; one message pasted ten
thousand times escalates the same way but never makes the score grow without bound; peers who
ask each other the same things, and adults talking to adults, are not grooming."""

from __future__ import annotations

from collections.abc import Callable

from safehold.grooming.features import PERSISTENCE_CAP, Evidence
from safehold.grooming.model import Conversation, Message, Participant
from safehold.grooming.monitor_state import dump_monitor, load_monitor
from safehold.grooming.patterns import PatternDetector
from safehold.grooming.risk import ConversationRisk, RiskThresholds
from safehold.grooming.scoring import ConversationMonitor, score_conversation

Chat = Callable[..., Conversation]

ASKS = [
    "send me a pic of you",
    "come on send a picture of yourself",
    "just one photo of you please",
    "send me a selfie now",
    "i want to see you, send it",
]


def _monitor(b_age: int | None = 13) -> ConversationMonitor:
    return ConversationMonitor("c1", participants=[Participant("a"), Participant("b", b_age)])


def _asked(asks: list[str]) -> ConversationMonitor:
    """A monitor after ``a`` made each request of ``asks`` and a 13-year-old ``b`` said ok."""
    monitor = _monitor()
    for i, text in enumerate(asks):
        monitor.append([Message(f"a{i}", "a", text), Message(f"b{i}", "b", "ok")])
    return monitor


def test_asking_again_after_refusals_escalates_to_review() -> None:
    monitor = _monitor()
    actions = []
    for i, text in enumerate(ASKS[:4]):
        risk, _ = monitor.append([Message(f"a{i}", "a", text), Message(f"b{i}", "b", "no")])
        actions.append(risk.action)
    # one request is not review; the third repeat (PERSISTENCE_CAP = 3) is pressure
    assert PERSISTENCE_CAP == 3
    assert actions[0] in ("none", "monitor")
    # at least review (docs/grooming.md: persistence gives review, and urgent once the score
    # itself is at review level, as round 4's refitted model puts four asks to a 13-year-old)
    assert actions[3] in ("review", "urgent")
    assert monitor.evidence.persistence("a") == 3
    # the review warning at the third or fourth ask's refusal (then urgent, if it escalates)
    assert monitor.warnings[0].message_id in ("b2", "b3")
    assert any("repeated a request 3 or more times" in r for r in monitor.risk.reasons)


def test_a_message_pasted_ten_thousand_times_is_bounded() -> None:
    few, many = _monitor(), _monitor()
    few.append([Message(f"m{i}", "a", ASKS[0]) for i in range(PERSISTENCE_CAP + 1)])
    many.append([Message(f"m{i}", "a", ASKS[0]) for i in range(10_000)])
    assert many.risk.action in ("review", "urgent")  # escalated from the single message's
    assert many.risk.score == few.risk.score  # and no higher than after four copies
    found = many.evidence.senders["a"].found["image_request"]
    assert (found.repeats, len(found.message_ids)) == (PERSISTENCE_CAP, 20)
    single = _monitor()
    single.append([Message("m0", "a", ASKS[0])])
    assert single.risk.action in ("none", "monitor")


def test_repeats_between_known_adults_do_not_escalate() -> None:
    monitor = ConversationMonitor("c1", participants=[Participant("a", 40), Participant("b", 38)])
    monitor.append([Message(f"m{i}", "a", "send me a pic of you") for i in range(5)])
    assert monitor.evidence.persistence("a") == PERSISTENCE_CAP
    assert monitor.evidence.persistent("a") is False
    # no override: the score alone decides. Rounds 4-10 scored this 0.56 (monitor); round 11's
    # refit (minors' account ages make a new account weaker evidence, the other weights move)
    # puts it at 0.600, at the review line by score alone (docs/grooming.md, "Round 11")
    risk = monitor.risk
    assert risk.action == RiskThresholds().action(risk.score)
    assert risk.score < 0.61
    # the same requests to a 13-year-old score higher and are escalated by persistence
    child = _monitor()
    child.append([Message(f"m{i}", "a", "send me a pic of you") for i in range(5)])
    assert child.risk.score > risk.score
    assert child.risk.action in ("review", "urgent")


def test_repeated_meeting_requests_are_not_persistence(chat: Chat) -> None:
    # classmates and guilds repeat meeting and platform requests innocently
    lines = [("a", "lets meet at the library on friday"), ("b", "cant")] * 4
    evidence = Evidence()
    for i, (who, text) in enumerate(lines):
        evidence.add(Message(f"m{i}", who, text), PatternDetector().detect([text])[0])
    assert evidence.persistence("a") == 0


def test_mutual_questions_lower_the_risk(chat: Chat) -> None:
    one_way = [("a", "how old are you"), ("b", "12"), ("a", "add me on discord"), ("b", "ok")]
    both = [*one_way, ("b", "how old are you"), ("a", "13"), ("b", "add me on snap")]
    assert score_conversation(chat(both)).score < score_conversation(chat(one_way)).score


def test_a_partner_known_to_be_an_adult_lowers_the_risk(chat: Chat) -> None:
    lines = [("a", "you look beautiful"), ("b", "thanks"), ("a", "we should meet up")]
    unknown = score_conversation(chat(lines)).score
    adult = score_conversation(chat(lines, a_age=40, b_age=41)).score
    assert adult < unknown
    assert score_conversation(chat(lines, a_age=40, b_age=41)).action == "none"


def test_stored_state_keeps_repeats_and_reads_old_states(pattern_detector: object) -> None:
    monitor = _monitor()
    monitor.append([Message(f"m{i}", "a", ASKS[i]) for i in range(3)])
    state = dump_monitor(monitor)
    again = load_monitor(
        "c1", state, detector=monitor.detector, thresholds=RiskThresholds(), skepticism=2
    )
    assert again.evidence.persistence("a") == 2
    assert dump_monitor(again) == state
    for found in state["senders"]["a"]["found"].values():
        del found[4]  # a state stored before repeats were counted
    old = load_monitor(
        "c1", state, detector=monitor.detector, thresholds=RiskThresholds(), skepticism=2
    )
    assert old.evidence.persistence("a") == 0


def _scored_not_overridden(monitor: ConversationMonitor) -> ConversationRisk:
    """Asserts that ``a``'s capped repeats are not treated as pressure: the score decides the
    action (what the thresholds give it, no override); returns the risk."""
    assert monitor.evidence.persistence("a") == PERSISTENCE_CAP
    assert monitor.evidence.persistent("a") is False
    risk = monitor.risk
    assert risk.action == RiskThresholds().action(risk.score)
    return risk


def test_repeats_with_the_parents_included_are_scored_not_overridden() -> None:
    """Holdout8's diagnostic (after its blind run): an uncle abroad asked three times for a
    report-card photo, saying the mother wanted it, and persistence put a score of 0.002 at
    review beside "parents or guardians included: lowers the risk"."""
    asks = [
        "your mum said send me a pic of you in the new uniform",
        "come on send a picture of yourself, your mum wants a photo",
        "just one photo of you please, your mum asked me",
        "send me a selfie now so your mum can see it",
    ]
    monitor = _asked(asks)
    assert monitor.evidence.senders["a"].protective >= 1
    risk = _scored_not_overridden(monitor)
    assert (
        "a repeated a request 3 or more times (requests for photos or video): not treated "
        "as pressure: the parents are included, an administrative purpose is stated, or the "
        "other person is an adult" in risk.reasons
    )
    # the same requests without the parents: persistence still escalates
    bare = _asked(ASKS[:4])
    assert bare.evidence.persistent("a") is True
    assert bare.risk.action in ("review", "urgent")


def test_repeats_with_a_stated_purpose_are_scored_not_overridden() -> None:
    """Round 11: an office asking again for a passport photo for the registration form is
    not covert pressure (``stated_purpose``, protective like parents included); the score
    decides, and the reason names the purpose."""
    asks = [
        "send me a pic of you for the registration form",
        "come on send a picture of yourself, it goes on your student card",
        "just one photo of you please, for the id card",
        "send me a selfie now for the registration form",
    ]
    monitor = _asked(asks)
    assert monitor.evidence.senders["a"].protective == 4
    assert monitor.evidence.senders["a"].protective_ids == ["a0", "a1", "a2", "a3"]
    risk = _scored_not_overridden(monitor)
    assert any(
        r.startswith("parents or guardians included, or an administrative purpose stated (a0,")
        for r in risk.reasons
    ), risk.reasons
