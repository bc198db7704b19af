"""The grooming indicators: one plug-in per behaviour, each with a permanent name and a stage.

An indicator names a behaviour the grooming literature describes, not a word list: the
detectors (:mod:`.patterns`, :mod:`.embedding`) decide per message whether it is present. The
names are permanent (they are stored with match events and shown to reviewers); new ones are
added with :data:`INDICATORS.register`.

Stages follow O'Connell (2003, "A typology of child cybersexploitation and online grooming
practices"): friendship forming, relationship forming, risk assessment, exclusivity, sexual,
and the approach/control that ends it, merged with Olson et al.'s luring communication theory
(2007: access, deceptive trust, isolation, desensitisation, approach) and the categories coded
by Gupta et al. (2012), Winters & Jeglic (2017) and Lorenzo-Dus et al. (2016). The risk scorer
rewards stages that appear in this order (escalation), not single hits.

Two indicators are context, not risk: ``minor_age_disclosed`` (someone says they are under 18)
and ``adult_inclusion`` (parents or guardians are brought in: the protective opposite of
isolation and secrecy, as in a coach copying parents on practice times).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from safehold.plugins import Registry


class Stage(IntEnum):
    """Grooming stages in the order they usually unfold (O'Connell 2003; Olson et al. 2007)."""

    CONTEXT = 0
    FRIENDSHIP = 1
    RELATIONSHIP = 2
    RISK_ASSESSMENT = 3
    EXCLUSIVITY = 4
    SEXUAL = 5
    APPROACH = 6


@dataclass(frozen=True, slots=True)
class Indicator:
    """One behaviour a message can show.

    Attributes:
        name: permanent identifier (lower_snake_case).
        stage: where it sits in the escalation order.
        title: short human label for reviewers.
        description: what it means, in plain words.
        sources: literature it comes from.
        polarity: ``risk`` (raises risk), ``context`` (informs the risk scorer) or
            ``protective`` (lowers it).
    """

    name: str
    stage: Stage
    title: str
    description: str
    sources: tuple[str, ...]
    polarity: str = "risk"


INDICATORS: Registry[Indicator] = Registry("grooming indicator")

_BUILT_IN = (
    Indicator(
        "age_probing",
        Stage.FRIENDSHIP,
        "probing age",
        "asks the other person's age, school year or grade",
        ("O'Connell 2003", "Gupta et al. 2012", "Winters & Jeglic 2017"),
    ),
    Indicator(
        "age_gap",
        Stage.FRIENDSHIP,
        "age-gap signal",
        "says they are an adult or much older, or that age does not matter",
        ("Winters & Jeglic 2017", "PAN-2012"),
    ),
    Indicator(
        "flattery",
        Stage.RELATIONSHIP,
        "flattery and special relationship",
        "compliments looks or maturity, or claims a special bond",
        ("O'Connell 2003", "Olson et al. 2007", "Lorenzo-Dus et al. 2016"),
    ),
    Indicator(
        "gifts",
        Stage.RELATIONSHIP,
        "gifts, money or game currency",
        "offers presents, money, gift cards or in-game currency",
        ("Winters & Jeglic 2017", "Roblox safety guidance"),
    ),
    Indicator(
        "supervision_check",
        Stage.RISK_ASSESSMENT,
        "checking for adults",
        "asks whether parents or other adults are around or read the chats",
        ("O'Connell 2003", "Gupta et al. 2012"),
    ),
    Indicator(
        "secrecy",
        Stage.EXCLUSIVITY,
        "requests for secrecy",
        "asks to keep the contact or its content secret, or to delete messages",
        ("O'Connell 2003", "Olson et al. 2007", "Winters & Jeglic 2017"),
    ),
    Indicator(
        "isolation",
        Stage.EXCLUSIVITY,
        "isolating from family and friends",
        "runs down family or friends, or claims to be the only one who understands",
        ("Olson et al. 2007", "Lorenzo-Dus et al. 2016"),
    ),
    Indicator(
        "platform_move",
        Stage.EXCLUSIVITY,
        "moving to another platform",
        "asks to continue on another app, a private channel or by phone",
        ("Winters & Jeglic 2017", "Thorn 2022"),
    ),
    Indicator(
        "desensitisation",
        Stage.SEXUAL,
        "desensitisation",
        "tells the child that something unusual is normal, or not to be shy",
        ("Olson et al. 2007", "O'Connell 2003"),
    ),
    Indicator(
        "sexualising",
        Stage.SEXUAL,
        "sexualising talk",
        "turns the talk to relationships, bodies or clothing (mild terms only)",
        ("O'Connell 2003", "Gupta et al. 2012"),
    ),
    Indicator(
        "image_request",
        Stage.SEXUAL,
        "requests for photos or video",
        "asks for pictures, video or a camera call of the child",
        ("O'Connell 2003", "Winters & Jeglic 2017"),
    ),
    Indicator(
        "meeting",
        Stage.APPROACH,
        "arranging to meet",
        "asks where the child lives or arranges to meet in person",
        ("O'Connell 2003", "Olson et al. 2007"),
    ),
    Indicator(
        "pressure_threats",
        Stage.APPROACH,
        "pressure and threats",
        "pressures, guilt-trips or threatens, including threats to share images",
        ("Lorenzo-Dus et al. 2016", "Thorn sextortion research 2022"),
    ),
    Indicator(
        "minor_age_disclosed",
        Stage.CONTEXT,
        "minor age disclosed",
        "the writer says they are under 18 or in school (context, not risk)",
        ("PAN-2012",),
        polarity="context",
    ),
    Indicator(
        "adult_inclusion",
        Stage.CONTEXT,
        "parents included",
        "brings parents or guardians in (protective: the opposite of isolation)",
        ("hard-negative design, docs/grooming.md",),
        polarity="protective",
    ),
    Indicator(
        "family_relation",
        Stage.CONTEXT,
        "family relationship",
        "one participant addresses the other as a relative or signs as one ('thanks nana', "
        "'love, grandad'): lowers the risk, never clears it (relatives can groom too)",
        ("hard-negative design, docs/grooming.md (round 5)",),
        polarity="protective",
    ),
    Indicator(
        "stated_purpose",
        Stage.CONTEXT,
        "administrative purpose stated",
        "an institution or organiser says what an asked-for photo, age or date of birth is for "
        "(a form, a registration, an id card, the prints): protective, counted "
        "with parents included; lowers the risk, never clears it",
        ("hard-negative design, docs/grooming.md (round 11)",),
        polarity="protective",
    ),
)

for _indicator in _BUILT_IN:
    INDICATORS.register(_indicator.name)(_indicator)

#: Names of the indicators that raise risk, in stage order.
RISK_INDICATORS: tuple[str, ...] = tuple(
    i.name for i in sorted(_BUILT_IN, key=lambda i: i.stage) if i.polarity == "risk"
)

#: Facts left to the pattern detector on every path (ages said, parents included, a relative
#: named, a stated purpose, an age gap): they match exactly, so the embedding detector takes
#: them from the patterns and the learned line model is not fitted on them.
PATTERN_ONLY: tuple[str, ...] = (
    "minor_age_disclosed",
    "adult_inclusion",
    "family_relation",
    "age_gap",
    "stated_purpose",
)


def stage_of(name: str) -> Stage:
    """Return the stage of indicator ``name`` (raises NotFoundError for an unknown name)."""
    return INDICATORS.get(name).stage
