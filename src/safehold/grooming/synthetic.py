"""Synthetic, non-explicit development data: grooming-pattern conversations and hard negatives.

Real grooming chats cannot be collected or shipped, so development and the repo's own
evaluation use conversations generated from the templates in ``data/synthetic.toml``: short
exchanges ("beats") per indicator or situation, in the plain behavioural wording the safety
rules allow, assembled by template family with small talk in between, then obfuscated the way
people type (leetspeak, elongation, abbreviations, emoji, typos).

Splits are fixed by seed (train 1, dev 2, eval 3, holdout 4) and honest: every bank has
disjoint phrasings per split; two grooming families (``scout``, ``slow``) and one negative
family (``tutoring``) appear only in ``eval``; ``holdout`` has its own grooming families
(``sextortion``, ``benefactor``, ``confidant``) and negative families (``babysitting``,
``youth_club``, ``neighbours``) and was written before any detector was run on it. Nothing in
``eval`` or ``holdout`` is used to write patterns, fit the risk model or choose thresholds.
``holdout2`` (seed 5) is a second blind split written without reading the detectors: its
phrasings, slots and families live in ``data/synthetic_holdout2.toml``, merged in only when
that split is generated. ``holdout3`` (seed 6) is a third, written the same way in
``data/synthetic_holdout3.toml``; ``holdout4`` (seed 7) a fourth, in
``data/synthetic_holdout4.toml``; ``holdout5`` (seed 8) a fifth, in
``data/synthetic_holdout5.toml``; ``holdout6`` (seed 9) a sixth, in
``data/synthetic_holdout6.toml``; ``holdout7`` (seed 10) a seventh, in
``data/synthetic_holdout7.toml``; ``holdout8`` (seed 11) an eighth, in
``data/synthetic_holdout8.toml``; ``holdout9`` (seed 12) a ninth, in
``data/synthetic_holdout9.toml``; ``holdout10`` (seed 13) a tenth, in
``data/synthetic_holdout10.toml``; ``holdout11`` (seed 14) an eleventh, in
``data/synthetic_holdout11.toml``. See ``docs/grooming.md``.
"""

from __future__ import annotations

import copy
import random
import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any

from safehold.errors import InvalidInputError
from safehold.grooming.model import Conversation, ConversationLabel, Message, Participant

SPLITS = (
    "train",
    "dev",
    "eval",
    "holdout",
    "holdout2",
    "holdout3",
    "holdout4",
    "holdout5",
    "holdout6",
    "holdout7",
    "holdout8",
    "holdout9",
    "holdout10",
    "holdout11",
)
SPLIT_SEEDS = {
    "train": 1,
    "dev": 2,
    "eval": 3,
    "holdout": 4,
    "holdout2": 5,
    "holdout3": 6,
    "holdout4": 7,
    "holdout5": 8,
    "holdout6": 9,
    "holdout7": 10,
    "holdout8": 11,
    "holdout9": 12,
    "holdout10": 13,
    "holdout11": 14,
}
#: Default sizes per split: (grooming, negative) conversations.
DEFAULT_SIZES = {
    "train": (300, 600),
    "dev": (100, 300),
    "eval": (200, 400),
    "holdout": (200, 400),
    "holdout2": (200, 400),
    "holdout3": (200, 400),
    "holdout4": (200, 400),
    "holdout5": (200, 400),
    "holdout6": (200, 400),
    "holdout7": (200, 400),
    "holdout8": (200, 400),
    "holdout9": (200, 400),
    "holdout10": (200, 400),
    "holdout11": (200, 400),
}
#: Splits with their own template file, merged over ``data/synthetic.toml`` for that split only.
SPLIT_TEMPLATE_FILES = {
    "holdout2": "data/synthetic_holdout2.toml",
    "holdout3": "data/synthetic_holdout3.toml",
    "holdout4": "data/synthetic_holdout4.toml",
    "holdout5": "data/synthetic_holdout5.toml",
    "holdout6": "data/synthetic_holdout6.toml",
    "holdout7": "data/synthetic_holdout7.toml",
    "holdout8": "data/synthetic_holdout8.toml",
    "holdout9": "data/synthetic_holdout9.toml",
    "holdout10": "data/synthetic_holdout10.toml",
    "holdout11": "data/synthetic_holdout11.toml",
}
_SLOT = re.compile(r"\{(\w+)\}")
_LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}
_SHORT = {
    "you": "u",
    "your": "ur",
    "are": "r",
    "picture": "pic",
    "please": "pls",
    "for": "4",
    "to": "2",
    "people": "ppl",
    "because": "cuz",
    "tomorrow": "tmrw",
}
_EMOJI = ["\U0001f60a", "\U0001f609", "\U0001f618", "\U0001f92b", "\U0001f602", "\u2764\ufe0f"]


@lru_cache(maxsize=1)
def load_templates() -> dict[str, Any]:
    """The packaged ``data/synthetic.toml`` as a dict."""
    text = resources.files("safehold.grooming").joinpath("data/synthetic.toml").read_text()
    return tomllib.loads(text)


@lru_cache(maxsize=4)
def load_split_templates(split: str) -> dict[str, Any]:
    """The templates ``split`` is generated from: :func:`load_templates`, plus the split's own
    file from :data:`SPLIT_TEMPLATE_FILES` when it has one (slots, phrasings, families added).

    Raises:
        ValueError: the split's file redefines a slot, phrasing list or family.
    """
    name = SPLIT_TEMPLATE_FILES.get(split)
    if name is None:
        return load_templates()
    data = copy.deepcopy(load_templates())
    text = resources.files("safehold.grooming").joinpath(name).read_text()
    _merge(data, tomllib.loads(text), name)
    return data


def _merge(into: dict[str, Any], extra: dict[str, Any], where: str) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value, f"{where}: {key}")
        elif key in into:
            raise ValueError(f"{where}: {key!r} is already defined")
        else:
            into[key] = value


@dataclass(frozen=True)
class SyntheticOptions:
    """How much to generate and how noisy.

    Attributes:
        grooming: number of grooming conversations.
        negative: number of hard-negative conversations.
        obfuscation: probability that an "A" line is obfuscated (0-1).
        seed: overrides the split's fixed seed (tests only).
    """

    grooming: int
    negative: int
    obfuscation: float = 0.3
    seed: int | None = None


def generate(split: str, options: SyntheticOptions | None = None) -> list[Conversation]:
    """Generate one split's conversations, deterministically.

    Args:
        split: ``train``, ``dev``, ``eval``, ``holdout``, ``holdout2`` or ``holdout3``.
        options: sizes and noise; :data:`DEFAULT_SIZES` when None.

    Returns:
        Grooming conversations first, then negatives; each labelled, ids ``<split>-<n>``.

    Raises:
        InvalidInputError: unknown split or negative sizes.
    """
    if split not in SPLITS:
        raise InvalidInputError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")
    if options is None:
        options = SyntheticOptions(*DEFAULT_SIZES[split])
    if options.grooming < 0 or options.negative < 0:
        raise InvalidInputError("sizes must be >= 0")
    rng = random.Random(options.seed if options.seed is not None else SPLIT_SEEDS[split])
    data = load_split_templates(split)
    families = data["families"]
    grooming = [n for n, f in families.items() if f["kind"] == "grooming" and split in f["splits"]]
    negative = [n for n, f in families.items() if f["kind"] == "negative" and split in f["splits"]]
    out: list[Conversation] = []
    groomers: list[str] = []
    for i in range(options.grooming + options.negative):
        is_grooming = i < options.grooming
        family = rng.choice(grooming if is_grooming else negative)
        if is_grooming and groomers and rng.random() < 0.4:
            adult = rng.choice(groomers)  # one groomer, several children (per-author eval)
        else:
            adult = f"{split}-u{i}a"
            if is_grooming:
                groomers.append(adult)
        out.append(
            _conversation(
                rng,
                data,
                split,
                family,
                f"{split}-{i}",
                adult,
                f"{split}-u{i}b",
                is_grooming,
                options.obfuscation,
            )
        )
    return out


def _conversation(
    rng: random.Random,
    data: dict[str, Any],
    split: str,
    family: str,
    conv_id: str,
    a_id: str,
    b_id: str,
    is_grooming: bool,
    obfuscation: float,
) -> Conversation:
    spec = data["families"][family]
    filler = spec.get("filler", "smalltalk")
    lines: list[tuple[str, str]] = [
        ("A", rng.choice(["hey", "hi", "hello", "heyy", "yo"])),
        ("B", rng.choice(["hi", "hey", "hii", "sup"])),
    ]
    kept = 0  # beats of the family's own kind (indicators or the situation) kept
    for beat in spec["beats"]:
        keep = 0.7 if beat == "smalltalk" else 0.85
        if rng.random() > keep:
            continue
        for _ in range(rng.randint(0, 2)):
            lines.extend(_exchange(rng, data, split, filler))
        kept += beat != "smalltalk"
        beat = filler if beat == "smalltalk" else beat
        lines.extend(_exchange(rng, data, split, beat, grooming=is_grooming))
    own = [beat for beat in spec["beats"] if beat != "smalltalk"]
    # Every beat of its kind dropped (a 3-beat rush: 0.15 ** 3) would leave small talk
    # labelled grooming, or no hard negative at all: its first beat is kept, its lines drawn
    # (words, obfuscation, times) from a generator of their own so that every other
    # conversation stays byte for byte the same.
    spare, extra = rng, range(0)
    if own and not kept:
        spare, first = random.Random(f"{conv_id}:kept_beat"), len(lines)
        lines.extend(_exchange(spare, data, split, own[0], grooming=is_grooming))
        extra = range(first, len(lines))
    lines.extend(_exchange(rng, data, split, filler))
    start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 500_000))
    messages = []
    for n, (who, text) in enumerate(lines):
        draw = spare if n in extra else rng
        if who == "A" and draw.random() < obfuscation:
            text = obfuscate(draw, text)
        start += timedelta(seconds=draw.randint(5, 300))
        messages.append(Message(f"m{n + 1}", a_id if who == "A" else b_id, text, start))
    people = spec.get("people", "adult_minor" if spec["kind"] == "negative" else "grooming")
    a_person, b_person = _people(rng, people, a_id, b_id, conv_id)
    label = ConversationLabel(
        is_grooming, frozenset({a_id}) if is_grooming else frozenset(), f"synthetic:{family}"
    )
    return Conversation.build(conv_id, messages, [a_person, b_person], label)


def _exchange(
    rng: random.Random, data: dict[str, Any], split: str, beat: str, grooming: bool = False
) -> list[tuple[str, str]]:
    if beat.startswith("smalltalk"):
        bank = data[beat][split]
    else:
        bank = data["grooming" if grooming else "negative"][beat][split]
    template = rng.choice(bank)
    return _parts(_SLOT.sub(lambda m: rng.choice(data["slots"][m.group(1)]), template))


def _parts(filled: str) -> list[tuple[str, str]]:
    """``"A: hi || B: hey"`` -> ``[("A", "hi"), ("B", "hey")]``."""
    out: list[tuple[str, str]] = []
    for part in filled.split("||"):
        who, _, text = part.strip().partition(":")
        out.append((who.strip(), text.strip()))
    return out


#: Share of benign adults' accounts under a week old (round 10): before it only groomers had
#: new accounts (30 % of them), so the risk models learned "new account" as grooming evidence
#: by construction (a user test: a lone age question from a week-old account reached review,
#: 0.83, on the pattern path).
BENIGN_NEW_ACCOUNT_SHARE = 0.1
#: Share of minors' accounts under a week old (round 11): before it minors (the child of every
#: chat, both people of ``minors`` negatives) had no account age, so among the senders only
#: groomers and benign adults could be new and a new account still marked a groomer (a user
#: test: a lone age question from a 3-day account, 0.72, review, on the pattern path). Children
#: make new accounts often; the rest are 7-1500 days old.
MINOR_NEW_ACCOUNT_SHARE = 0.15


def _people(
    rng: random.Random, people: str, a_id: str, b_id: str, conv_id: str = ""
) -> tuple[Participant, Participant]:
    """Participants by the family's ``people``: grooming, minors, adults or adult_minor.

    Benign adults (``adults``: both people; ``adult_minor``: the adult) get an account age
    too since round 10: :data:`BENIGN_NEW_ACCOUNT_SHARE` under 7 days, the rest 7-2000 days,
    drawn from their own generator seeded by ``conv_id`` (``<split>-<n>``), so that every
    draw of ``rng`` (messages, ages, grooming accounts) is what it was before. Minors (the
    child of every chat, both people of ``minors``) get one since round 11 from another
    generator of their own (seeded ``<conv_id>:minor_account``):
    :data:`MINOR_NEW_ACCOUNT_SHARE` under 7 days, the rest 7-1500 days.
    """
    accounts = random.Random(f"{conv_id}:account")
    minor_accounts = random.Random(f"{conv_id}:minor_account")

    def benign_account() -> float:
        if accounts.random() < BENIGN_NEW_ACCOUNT_SHARE:
            return accounts.uniform(0, 7)
        return accounts.uniform(7, 2000)

    def minor_account() -> float:
        if minor_accounts.random() < MINOR_NEW_ACCOUNT_SHARE:
            return minor_accounts.uniform(0, 7)
        return minor_accounts.uniform(7, 1500)

    child_age = rng.randint(11, 15) if rng.random() < 0.4 else None
    if people == "grooming":
        roll = rng.random()
        a_age = rng.randint(15, 17) if roll < 0.2 else rng.randint(22, 50) if roll < 0.4 else None
        account = rng.uniform(0, 6) if rng.random() < 0.3 else rng.uniform(7, 900)
        return Participant(a_id, a_age, account), Participant(b_id, child_age, minor_account())
    if people == "minors":
        a_age = rng.randint(11, 15) if rng.random() < 0.4 else None
        return (
            Participant(a_id, a_age, minor_account()),
            Participant(b_id, child_age, minor_account()),
        )
    if people == "adults":
        return (
            Participant(
                a_id, rng.randint(25, 60) if rng.random() < 0.4 else None, benign_account()
            ),
            Participant(
                b_id, rng.randint(25, 60) if rng.random() < 0.4 else None, benign_account()
            ),
        )
    a_age = rng.randint(28, 55) if rng.random() < 0.4 else None
    rng.uniform(30, 2000)  # rounds 1-9 drew the account age here; kept so later draws stay put
    return Participant(a_id, a_age, benign_account()), Participant(b_id, child_age, minor_account())


def obfuscate(rng: random.Random, text: str) -> str:
    """Disguise ``text`` as people do: leetspeak, elongation, abbreviations, emoji or a typo.

    One transformation is chosen at random; words are kept recognisable to a human reader.
    """
    words = text.split()
    if not words:
        return text
    kind = rng.choice(["leet", "elongate", "short", "emoji", "typo", "short"])
    i = rng.randrange(len(words))
    if kind == "leet":
        words[i] = "".join(_LEET.get(c, c) if rng.random() < 0.6 else c for c in words[i])
    elif kind == "elongate":
        vowels = [j for j, c in enumerate(words[i]) if c in "aeiouy"]
        if vowels:
            j = rng.choice(vowels)
            words[i] = words[i][: j + 1] + words[i][j] * rng.randint(2, 5) + words[i][j + 1 :]
    elif kind == "short":
        words = [_SHORT.get(w.lower(), w) for w in words]
    elif kind == "emoji":
        words.append(rng.choice(_EMOJI))
    else:
        long = [j for j, w in enumerate(words) if len(w) >= 7 and w.isalpha()]
        if long:
            j = rng.choice(long)
            k = rng.randrange(1, len(words[j]) - 1)
            words[j] = words[j][:k] + words[j][k + 1 :]
    return " ".join(words)


@dataclass(frozen=True)
class TemplateLine:
    """One line of one template, slots filled (for the learned indicator model).

    Attributes:
        text: the line's words (no speaker prefix), slots filled.
        bank: ``grooming.<indicator>``, ``negative.<situation>`` or a small-talk bank name.
        speaker: ``A`` (who opened: the adult in grooming beats) or ``B``.
    """

    text: str
    bank: str
    speaker: str


def template_lines(split: str) -> list[TemplateLine]:
    """Every line of every template of ``split``, in file order, slots filled deterministically.

    A grooming bank's ``A`` lines show its indicator; ``B`` lines and negative or small-talk
    banks are the other person or benign. Used to fit :mod:`.indicator_model`. A split with
    its own template file (:data:`SPLIT_TEMPLATE_FILES`) reads it too (round 6: the seen
    holdout splits' lines train the line model; blind splits are never asked for, see
    :data:`~.calibration.SEEN_SPLITS`).

    Raises:
        InvalidInputError: unknown split.
    """
    if split not in SPLITS:
        raise InvalidInputError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")
    rng = random.Random(SPLIT_SEEDS[split])
    data = load_split_templates(split)
    banks = [(f"{k}.{n}", b) for k in ("grooming", "negative") for n, b in data[k].items()]
    banks += [(n, data[n]) for n in data if n.startswith("smalltalk")]
    out: list[TemplateLine] = []
    for bank, phrasings in banks:
        for template in phrasings.get(split, []):
            filled = _SLOT.sub(lambda m: rng.choice(data["slots"][m.group(1)]), template)
            out.extend(TemplateLine(text, bank, who) for who, text in _parts(filled))
    return out
