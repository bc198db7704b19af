"""Evidence per sender, accumulated message by message, and the features the risk model reads.

:class:`Evidence` is the incremental state shared by batch scoring and the streaming monitor:
adding a message costs O(indicators), and :meth:`Evidence.features` turns one sender's
evidence into a fixed-length vector (:data:`FEATURE_NAMES`). The features encode what the
literature says matters more than any single hit: how many distinct behaviours a sender shows,
how many stages they span, whether the stages appear in grooming order (escalation, O'Connell
2003), whether exclusivity is followed by sexual or approach behaviour, whether the behaviour
is one-sided (peers ask each other's age; groomers ask and do not answer), whether it is
mutual (the other person showed the same behaviours), the age gap (declared ages, or adult
and minor ages said in the chat), a partner known to be an adult, protective context (parents
included, or an administrative purpose stated: round 11), **peers** (both minors of about
the same age), **family** (someone named a family relationship: "thanks nana"; round 5) and
**persistence**: a request for photos or sexualised talk made again and again, after a
refusal or not, is pressure (a design choice: that is how a trust-and-safety reviewer reads
a repeated demand on a child). Persistence is capped at
:data:`PERSISTENCE_CAP` repeats, so one message pasted ten thousand times weighs what a
handful of repeats do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from safehold.grooming.detector import Hit
from safehold.grooming.indicators import RISK_INDICATORS, Stage, stage_of
from safehold.grooming.model import Message, Participant

#: Strength at which a hit counts as present for counting features.
PRESENT = 0.5
#: Message ids kept per sender and indicator (for explanations).
MAX_IDS = 20
#: Requests whose repetition is pressure: asking again for a photo or video, or pushing
#: sexualised questions again. Repeated meeting, platform or secrecy requests are left out:
#: classmates and gaming guilds repeat those innocently (on dev, counting them flagged 4-16 %
#: of guild chats).
REQUESTS = ("image_request", "sexualising")
#: Declared ages at most this many years apart count as peers (``peer_minor``): one or two
#: school years either way. A design choice of this engine (round 5), not from a paper.
PEER_YEARS = 2
#: An account younger than this many days is new (``new_account``; a design choice: one week).
NEW_ACCOUNT_DAYS = 7
#: Repeats of requests counted at most (the score is bounded however often a request is sent).
PERSISTENCE_CAP = 3
#: Protective context counted in the ``protective`` feature (one fitted weight, <= 0):
#: parents included (``adult_inclusion``) and, since round 11, an administrative purpose stated
#: for a request (``stated_purpose``: a form, a registration, an id card, the prints). Pooled
#: so the purpose inherits the weight learned from the parents' far more frequent hits.
PROTECTIVE_CONTEXT = ("adult_inclusion", "stated_purpose")
_EXCLUSIVITY = {n for n in RISK_INDICATORS if stage_of(n) == Stage.EXCLUSIVITY}
_SEXUAL = {n for n in RISK_INDICATORS if stage_of(n) == Stage.SEXUAL}
_APPROACH = {n for n in RISK_INDICATORS if stage_of(n) == Stage.APPROACH}
_STRONG = _EXCLUSIVITY | _SEXUAL | _APPROACH

FEATURE_NAMES: tuple[str, ...] = (
    *(f"ind_{n}" for n in RISK_INDICATORS),
    "distinct_indicators",
    "distinct_stages",
    "escalation",
    "exclusivity_then_harm",
    "one_sided",
    "partner_minor",
    "self_adult",
    "age_gap",
    "protective",
    "new_account",
    "persistence",
    "mutual",
    "partner_adult",
    "peer_minor",
    "family",
)


@dataclass
class Found:
    """One indicator's evidence for one sender: best strength, where it first showed, ids,
    and how many later messages showed it again (``repeats``, counted up to
    :data:`PERSISTENCE_CAP`)."""

    strength: float
    first_index: int
    message_ids: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    repeats: int = 0


@dataclass
class SenderEvidence:
    """Everything one sender showed so far."""

    found: dict[str, Found] = field(default_factory=dict)
    messages: int = 0
    protective: int = 0
    protective_ids: list[str] = field(default_factory=list)
    minor_ids: list[str] = field(default_factory=list)
    adult_ids: list[str] = field(default_factory=list)
    family_ids: list[str] = field(default_factory=list)


class Evidence:
    """Per-sender evidence of one conversation, fed one message (and its hits) at a time.

    Args:
        participants: what the platform knows about each participant (declared ages, roles).
    """

    def __init__(self, participants: dict[str, Participant] | None = None) -> None:
        self.participants: dict[str, Participant] = dict(participants or {})
        self.senders: dict[str, SenderEvidence] = {}
        self.count = 0

    def add(self, message: Message, hits: list[Hit]) -> None:
        """Record ``message`` (the ``count``-th of the conversation) and its ``hits``."""
        state = self.senders.setdefault(message.sender, SenderEvidence())
        state.messages += 1
        for hit in hits:
            if hit.indicator in PROTECTIVE_CONTEXT:
                state.protective += 1
                _keep(state.protective_ids, message.id)
            elif hit.indicator == "minor_age_disclosed":
                _keep(state.minor_ids, message.id)
            elif hit.indicator == "family_relation":
                _keep(state.family_ids, message.id)
            elif hit.indicator in RISK_INDICATORS:
                if hit.indicator == "age_gap" and hit.strength >= PRESENT:
                    _keep(state.adult_ids, message.id)
                found = state.found.get(hit.indicator)
                if found is None:
                    found = state.found[hit.indicator] = Found(hit.strength, self.count)
                elif hit.strength >= PRESENT and found.repeats < PERSISTENCE_CAP:
                    found.repeats += 1
                found.strength = max(found.strength, hit.strength)
                if hit.strength >= PRESENT or not found.message_ids:
                    _keep(found.message_ids, message.id)
                    _keep(found.evidence, hit.evidence)
        self.count += 1

    def features(self, sender: str) -> list[float]:
        """The feature vector of ``sender`` (order: :data:`FEATURE_NAMES`)."""
        state = self.senders.get(sender, SenderEvidence())
        others = [s for name, s in self.senders.items() if name != sender]
        present = {n: f for n, f in state.found.items() if f.strength >= PRESENT}
        stages = {stage_of(n) for n in present}
        own_mass = sum(f.strength for f in state.found.values())
        other_mass = max((sum(f.strength for f in o.found.values()) for o in others), default=0.0)
        exclusivity = max(
            (state.found[n].strength for n in _EXCLUSIVITY if n in state.found), default=0.0
        )
        harm = max(
            (state.found[n].strength for n in (_SEXUAL | _APPROACH) if n in state.found),
            default=0.0,
        )
        partner_minor = 1.0 if self._partner_minor(sender, others) else 0.0
        self_adult = 1.0 if self._is_adult(sender, state) else 0.0
        account = self.participants.get(sender)
        new_account = (
            1.0
            if account
            and account.account_age_days is not None
            and account.account_age_days < NEW_ACCOUNT_DAYS
            else 0.0
        )
        return [
            *(state.found[n].strength if n in state.found else 0.0 for n in RISK_INDICATORS),
            float(len(present)),
            float(len(stages)),
            _escalation(present) * math.log1p(len(stages)),
            exclusivity * harm,
            own_mass / (own_mass + other_mass) if own_mass > 0 else 0.0,
            partner_minor,
            self_adult,
            partner_minor * self_adult,
            math.log1p(state.protective),
            new_account,
            float(self.persistence(sender)),
            _mutual(present, others),
            1.0 if self._partner_adult(sender) else 0.0,
            1.0 if self._peer_minor(sender, state) else 0.0,
            1.0 if self.family_context() else 0.0,
        ]

    def behaviours(self, sender: str) -> tuple[int, bool]:
        """How many distinct risk indicators ``sender`` showed (strength >= PRESENT), and
        whether one is of the exclusivity, sexual or approach stage."""
        state = self.senders.get(sender, SenderEvidence())
        present = [n for n, f in state.found.items() if f.strength >= PRESENT]
        return len(present), any(n in _STRONG for n in present)

    def persistence(self, sender: str) -> int:
        """How often ``sender`` repeated a request (:data:`REQUESTS`), 0-PERSISTENCE_CAP."""
        state = self.senders.get(sender)
        if state is None:
            return 0
        repeats = sum(state.found[n].repeats for n in REQUESTS if n in state.found)
        return min(repeats, PERSISTENCE_CAP)

    def _is_adult(self, sender: str, state: SenderEvidence) -> bool:
        person = self.participants.get(sender)
        if person is not None:
            if person.declared_age is not None:
                return person.declared_age >= 18
            if person.role in ("adult", "verified_adult", "parent", "teacher", "coach"):
                return True
        return bool(state.adult_ids)

    def persistent(self, sender: str) -> bool:
        """``sender`` repeated requests :data:`PERSISTENCE_CAP` times to someone not known to
        be an adult (repeated demands on a child are pressure; between adults they are not
        this engine's concern), without saying parents are included (``adult_inclusion``:
        requests made through or in front of the parents are not covert pressure; since
        2026-11-30, after an uncle's repeated requests for a report-card photo, parents
        included, were put at review with a score of 0.002). This only drops the override of
        :meth:`~.risk.RiskThresholds.action`: the score still decides, and a groomer who claims
        the parents know is scored as before. Since round 11 a stated administrative purpose
        (``stated_purpose``, counted with it in :data:`PROTECTIVE_CONTEXT`) drops it too: an
        office asking again for the form's photo is not covert pressure."""
        if self.persistence(sender) < PERSISTENCE_CAP or self._partner_adult(sender):
            return False
        state = self.senders.get(sender)
        return state is None or not state.protective

    def _partner_adult(self, sender: str) -> bool:
        """Every other participant is known to be an adult (declared age or role, or they
        said an adult age in the chat). Declared ages can be false, so this lowers the risk
        through a fitted weight; it never clears it."""
        others = [pid for pid in {*self.participants, *self.senders} if pid != sender]
        return bool(others) and all(
            self._is_adult(pid, self.senders.get(pid, SenderEvidence())) for pid in others
        )

    def family_context(self) -> bool:
        """Someone in the conversation addressed the other as a relative or signed as one
        (``family_relation``), or the platform marks a participant as a parent (role
        ``parent``: most chats of a parent's account with a minor are family ones). A feature
        of this engine (fitted weight <= 0): it lowers the risk, never clears it (relatives
        and parents can groom, and a stranger can type "thanks uncle")."""
        return any(s.family_ids for s in self.senders.values()) or self.parent_role()

    def parent_role(self) -> bool:
        """A participant carries the platform role ``parent``."""
        return any(p.role == "parent" for p in self.participants.values())

    def _peer_minor(self, sender: str, state: SenderEvidence) -> bool:
        """``sender`` is known to be a minor (declared age or role, or said a minor age in the
        chat) of an age close to the other's (within :data:`PEER_YEARS` where both declared
        one), and never claimed an adult age. Declared ages can be false (the fitted weight,
        <= 0, lowers the risk; it never clears it)."""
        if state.adult_ids or not any(pid != sender for pid in {*self.participants, *self.senders}):
            return False  # no one else in the chat to be a peer of
        person = self.participants.get(sender)
        age = person.declared_age if person is not None else None
        if age is not None and age >= 18:
            return False
        minor = (age is not None) or (person is not None and person.role == "minor")
        if not (minor or state.minor_ids):
            return False
        if age is None:
            return True
        partner_ages = [
            p.declared_age
            for pid, p in self.participants.items()
            if pid != sender and p.declared_age is not None
        ]
        return all(abs(age - other) <= PEER_YEARS for other in partner_ages)

    def _partner_minor(self, sender: str, others: list[SenderEvidence]) -> bool:
        for pid, person in self.participants.items():
            if pid == sender:
                continue
            if person.declared_age is not None and person.declared_age < 18:
                return True
            if person.role == "minor":
                return True
        return any(o.minor_ids for o in others)


def _escalation(present: dict[str, Found]) -> float:
    """Kendall-style agreement (-1..1) between first-appearance order and stage order."""
    items = sorted(present.items(), key=lambda kv: kv[1].first_index)
    concordant = discordant = 0
    for i, (name_a, _) in enumerate(items):
        for name_b, _ in items[i + 1 :]:
            a, b = stage_of(name_a), stage_of(name_b)
            if a < b:
                concordant += 1
            elif a > b:
                discordant += 1
    total = concordant + discordant
    return (concordant - discordant) / total if total else 0.0


def _mutual(present: dict[str, Found], others: list[SenderEvidence]) -> float:
    """Share (0-1) of the sender's risk indicators that another participant showed too.

    Peers ask each other the same things (age, apps, pictures of a build); a groomer asks and
    the child answers. A feature of this engine (fitted weight <= 0), not from a paper.
    """
    if not present:
        return 0.0
    shared = max(
        (sum(1 for n in present if o.found.get(n, _NONE).strength >= PRESENT) for o in others),
        default=0,
    )
    return shared / len(present)


_NONE = Found(0.0, 0)


def _keep(items: list[str], value: str) -> None:
    if len(items) < MAX_IDS and (not items or items[-1] != value):
        items.append(value)
