"""Every indicator of the pattern detector: positives, near-miss negatives and obfuscated
variants (leetspeak, elongation, spacing, emoji, abbreviations, typos). Wording is mild and
non-graphic throughout."""

from __future__ import annotations

import pytest

from safehold.errors import ConfigurationError, InvalidInputError
from safehold.grooming.indicators import INDICATORS
from safehold.grooming.model import MAX_MESSAGE_CHARS
from safehold.grooming.patterns import PatternDetector, compile_pattern, load_pattern_table

#: indicator -> (positives, near misses, obfuscated positives)
CASES: dict[str, tuple[list[str], list[str], list[str]]] = {
    "age_probing": (
        [
            "how old are you?",
            "what grade are you in",
            "are you in middle school",
            "asl",
            "are you under 16",
        ],
        ["how old is your dog", "what grade did you get on the test", "how old is this game"],
        ["h0w 0ld r u", "how oooold are youuu", "whats ur age"],
    ),
    "age_gap": (
        ["i'm 34 btw", "age is just a number", "do you mind older guys", "our age difference"],
        ["i'm 25 minutes late", "my dad is 40", "i am 13"],
        ["im 41 lol", "4ge is just a number", "age is juuust a number"],
    ),
    "flattery": (
        [
            "you're so mature for your age",
            "you are really pretty",
            "we have a special connection",
            "you're not like other kids",
        ],
        ["that drawing is pretty", "great job on the test", "your essay was excellent"],
        [
            "ur sooo pretty",
            "u r s0 mature 4 ur age",
            "you are my favorite person to talk to \U0001f60d",
        ],
    ),
    "gifts": (
        ["i can buy you robux", "want me to get you a gift card", "i'll send you money"],
        ["my mom got me a game", "let me buy you lunch", "what do you want for your birthday"],
        ["ill get u fr33 r0bux", "i can buy you sk1ns", "a present 4 u \U0001f381"],
    ),
    "supervision_check": (
        [
            "are your parents home?",
            "do your parents check your phone",
            "are you home alone",
            "when do your parents go to bed",
        ],
        ["are your parents coming to the game", "my parents are home", "is this seat taken"],
        ["r ur parents h0me", "are u hooome alone", "do ur parnts check ur phone"],
    ),
    "secrecy": (
        [
            "don't tell your parents about me",
            "this is our little secret",
            "keep this between us",
            "delete our chat",
        ],
        [
            "don't tell anyone about the surprise party",
            "i found the secret level",
            "keep it a secret until her birthday",
        ],
        [
            "dont tell ur mom \U0001f92b",
            "our lil s3cr3t",
            "k e e p this between us",
            "its our secrit",
        ],
    ),
    "isolation": (
        [
            "your parents don't understand you like i do",
            "your friends are just jealous",
            "you can tell me anything",
            "forget about them, you have me",
        ],
        [
            "your parents care about you",
            "you can talk to your mom about it",
            "my friends are jealous of my skin",
        ],
        [
            "ur parents dont get u like i do",
            "ur friends r just jeeealous",
            "u can tell me anything",
        ],
    ),
    "platform_move": (
        [
            "add me on snapchat",
            "what's your discord",
            "lets talk somewhere more private",
            "give me your number",
        ],
        [
            "i deleted snapchat last year",
            "the discord server had an outage",
            "my number is on the form",
        ],
        ["add me on sn@pchat", "whats ur d1scord", "lets talk somewhere more priiivate"],
    ),
    "desensitisation": (
        [
            "it's totally normal at your age",
            "everyone does it",
            "don't be shy with me",
            "you're not a little kid anymore",
        ],
        ["it's normal to be nervous before a test", "everyone passed the exam", "the kid is shy"],
        ["its t0tally n0rmal at ur age", "dont be shyyy", "everyone d0es it"],
    ),
    "sexualising": (
        ["do you have a boyfriend", "what are you wearing", "have you ever kissed anyone"],
        [
            "what are you wearing to the party",
            "my body hurts after practice",
            "the couple in the movie kissed",
        ],
        ["do u have a bf", "what r u wearing", "have u ever kisssed anyone"],
    ),
    "image_request": (
        [
            "send me a pic of you",
            "can you turn on your camera",
            "show me what you look like",
            "video call me",
        ],
        [
            "send me a pic of the homework",
            "send me a screenshot of your score",
            "the class photo is friday",
        ],
        ["send me a p1c", "send me a pic \U0001f4f8", "turn on ur cam"],
    ),
    "meeting": (
        [
            "we should meet up",
            "where do you live?",
            "i can pick you up after school",
            "can you sneak out tonight",
        ],
        [
            "meet at the field at 9 with your parents",
            "i live near the park",
            "the meeting is at noon",
        ],
        ["we sh0uld meet up", "wanna meeet up irl", "where do u live"],
    ),
    "pressure_threats": (
        [
            "if you don't send it i'll tell your parents",
            "you owe me after everything i did",
            "prove you trust me",
            "why are you ignoring me",
        ],
        [
            "if you don't finish your homework you can't play",
            "you owe me 5 bucks lol",
            "i owe you one",
        ],
        ["if u dont send it ill tell ur parents", "pr0ve u trust me", "why r u ignoring me"],
    ),
    "minor_age_disclosed": (
        ["i'm 13", "13 u?", "im in 7th grade", "year 8", "you're 12 too?", "year 9 like you"],
        ["i have 2 dogs", "i'm 34", "there were 13 of us", "are you 18 too"],
        ["im 13 yo", "I'M 12", "6th wbu"],
    ),
    "adult_inclusion": (
        [
            "ask your parents first",
            "i've emailed your parents",
            "bring your mom or dad",
            "your parents are welcome to come",
            # round 11: parents on the thread, or come with one
            "your parents are on this thread too",
            "parents cc'd",
            "please come with a parent or guardian",
            "a parent must attend",
        ],
        [
            "don't tell your parents",
            "your parents are strict",
            "i have two parents",
            "come without your parents",
            "your parents are on their phones all day",
            # after holdout10's blind run: a parent's approval claimed by the sender includes
            # no parent (a groomer's way past a child's doubt); relaying a request still counts
            "your mom said it's fine, i'll pick you up",
            "your dad already knows i'm helping you",
            "your parents said you can stay over",
            "ur mum is ok with it",
        ],
        [
            "ask ur parents first",
            "bring ur mom",
            "ive emailed ur parents",
            "ur parents r on this thread 2",
            "come w1th a parent",
        ],
    ),
    "stated_purpose": (
        [
            "send a passport photo for the registration form",
            "how old are you? it goes on the print",
            "what is your date of birth, we need it for the exam board",
            "your photo goes on your student card",
            "the school office needs your candidate number",
        ],
        [
            # a groomer's own purposes, and age or photo asks with no administrative purpose
            "send a pic so i can see u",
            "its for my collection, send one for the registration form",
            "how old are you",
            "just for me ok, a passport photo",
            "nice, we can use it for the poster",
            "which age group do you play in",
            "people my age are so boring, i'd rather talk to you",
        ],
        [
            "send a passp0rt photo for the registration f0rm",
            "how old r u? it goes on the pr1nt",
            "wats ur d.o.b for the exam board",
            "ur pic goes on ur student card",
        ],
    ),
    "family_relation": (
        ["thanks grandma", "love you too dad", "lots of love, auntie meg", "from uncle ray and me"],
        ["you're like a big brother to me", "call me uncle", "i told my mum", "your dad is strict"],
        ["thx nana", "love u 2 mum", "ok thanks m0m"],
    ),
}


def test_every_indicator_has_cases() -> None:
    assert set(CASES) == set(INDICATORS.names())
    assert set(load_pattern_table()) == set(INDICATORS.names())


def _names(detector: PatternDetector, text: str) -> set[str]:
    return {hit.indicator for hit in detector.detect([text])[0]}


@pytest.mark.parametrize("name", sorted(CASES))
def test_positives(pattern_detector: PatternDetector, name: str) -> None:
    for text in CASES[name][0]:
        assert name in _names(pattern_detector, text), text


@pytest.mark.parametrize("name", sorted(CASES))
def test_near_misses(pattern_detector: PatternDetector, name: str) -> None:
    for text in CASES[name][1]:
        assert name not in _names(pattern_detector, text), text


@pytest.mark.parametrize("name", sorted(CASES))
def test_obfuscated(pattern_detector: PatternDetector, name: str) -> None:
    for text in CASES[name][2]:
        assert name in _names(pattern_detector, text), text


def test_hit_carries_matched_words(pattern_detector: PatternDetector) -> None:
    [hits] = pattern_detector.detect(["so... how old r u??"])
    assert [(h.indicator, h.strength, h.evidence) for h in hits] == [
        ("age_probing", 1.0, "how old are you")
    ]


@pytest.mark.parametrize(
    ("text", "evidence"),
    [
        # a user test: evidence read "do not tel anyone", "after schol", "kep this secret"
        ("dont tell anyone ok", "do not tell anyone"),
        ("see you after school", "after school"),
        ("keep this secret", "keep this secret"),
        ("k33p th1s s3cr3t", "keep this secret"),
        ("we should meet up", "we should meet up"),
    ],
)
def test_evidence_keeps_the_spelling(
    pattern_detector: PatternDetector, text: str, evidence: str
) -> None:
    assert [h.evidence for h in pattern_detector.detect([text])[0]] == [evidence]


def test_batch_keeps_order_and_empty_texts(pattern_detector: PatternDetector) -> None:
    result = pattern_detector.detect(["", "add me on kik", "\U0001f600"])
    assert result[0] == []
    assert result[2] == []
    assert [h.indicator for h in result[1]] == ["platform_move"]
    assert pattern_detector.detect([]) == []


def test_bad_input_is_a_clear_error(pattern_detector: PatternDetector) -> None:
    with pytest.raises(InvalidInputError, match="longer than"):
        pattern_detector.detect(["x" * (MAX_MESSAGE_CHARS + 1)])
    with pytest.raises(InvalidInputError, match="string"):
        pattern_detector.detect([b"bytes"])  # type: ignore[list-item]


def test_bad_pattern_table() -> None:
    with pytest.raises(ConfigurationError, match="unknown indicator"):
        load_pattern_table("[not_an_indicator]\npatterns = ['x']\n")
    with pytest.raises(ConfigurationError, match="does not compile"):
        compile_pattern("(unclosed")


def test_custom_table_and_version() -> None:
    custom = PatternDetector({"gifts": {"patterns": ["free pizza"]}})
    assert [h.indicator for h in custom.detect(["free pizza!"])[0]] == ["gifts"]
    assert custom.version != PatternDetector().version
