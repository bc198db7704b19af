"""The blind splits with their own template file written by someone who never read the
detectors (``holdout3`` to ``holdout11``): each adds only its own wording, stays
disjoint from every other split and from the detector and training data, and generates.

The detector data files are read here as plain text only, to check that no split line was
copied into them; nothing in this module runs a detector on any split. ``holdout2``, the first
such split, has its own module (``test_holdout2_split.py``).
"""

from __future__ import annotations

import itertools
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from tests.grooming.split_files import (
    banks,
    line_patterns,
    own_file,
    read_packaged,
    shingles,
    texts,
)
from typer.testing import CliRunner

from safehold.cli.chat import _read
from safehold.cli.main import app
from safehold.grooming.synthetic import (
    DEFAULT_SIZES,
    SPLIT_SEEDS,
    SPLIT_TEMPLATE_FILES,
    SPLITS,
    SyntheticOptions,
    generate,
    load_split_templates,
    load_templates,
)

_SLOT = re.compile(r"\{(\w+)\}")
_WORD = re.compile(r"[a-z0-9{}_']+")

#: What each split's author wrote, as briefed (seed; grooming families' beats; adult lines of
#: the grooming and negative banks; the filler and first stage of grooming families, where the
#: brief asked for them).
BLIND = {
    "holdout3": {"seed": 6},
    "holdout4": {
        "seed": 7,
        "paces": [3, 5, 10, 10, 12, 19],
        "adult_lines": (119, 91),  # 117 templates, two with a second adult line; 91
        "fillers": {
            "drip_feed": "smalltalk_club",
            "skin_dealer": "smalltalk_gaming",
            "fake_teen": "smalltalk_peer",
            "study_coach": "smalltalk_club",
            "fast_lane": None,
            "smash_grab": None,
        },
    },
    "holdout5": {
        "seed": 8,
        "paces": [3, 5, 8, 10, 12, 18],
        "adult_lines": (117, 90),  # 13 banks of 8-10 templates; 10 situations of 9
        "fillers": {
            "slow_thaw": "smalltalk_band",
            "loot_runner": "smalltalk_lobby",
            "same_grade": "smalltalk_mate",
            "hush_first": None,
            "jump_ship": None,
            "gift_grab": None,
        },
        "first_stage": {  # briefed: secrecy first, gifts first, a platform move first
            "slow_thaw": "flattery",
            "loot_runner": "gifts",
            "same_grade": "age_probing",
            "hush_first": "secrecy",
            "jump_ship": "platform_move",
            "gift_grab": "gifts",
        },
        "negative_beats": (7, 10),
    },
    "holdout6": {
        "seed": 9,
        "paces": [3, 4, 7, 10, 12, 17],
        "adult_lines": (118, 90),  # 13 banks of 9-10 templates; 10 situations of 9
        "fillers": {
            "tuition_uncle": "smalltalk_tuition",
            "squad_carry": "smalltalk_squad",
            "fan_page": "smalltalk_fandom",
            "sweet_talk": None,
            "pic_rush": None,
            "age_hop": None,
        },
        "first_stage": {  # briefed: flattery first, a compliment then a photo, age then an app
            "tuition_uncle": "isolation",
            "squad_carry": "supervision_check",
            "fan_page": "platform_move",
            "sweet_talk": "flattery",
            "pic_rush": "flattery",
            "age_hop": "age_probing",
        },
        "negative_beats": (7, 10),
    },
    "holdout7": {
        "seed": 10,
        "paces": [3, 4, 7, 11, 12, 18],
        "adult_lines": (130, 91),  # 13 banks of 10 templates; 10 situations of 9-10
        "fillers": {
            "lesson_master": "smalltalk_lesson",
            "data_plug": "smalltalk_clan",
            "form_mate": "smalltalk_schoolmate",
            "snap_ask": None,
            "empty_yard": None,
            "bf_question": None,
        },
        "first_stage": {  # briefed: two or more open on other than age probing or flattery
            "lesson_master": "flattery",
            "data_plug": "gifts",
            "form_mate": "age_probing",
            "snap_ask": "image_request",
            "empty_yard": "supervision_check",
            "bf_question": "sexualising",
        },
        "negative_beats": (7, 10),
    },
    "holdout8": {
        "seed": 11,
        "paces": [3, 5, 8, 10, 13, 17],
        "adult_lines": (130, 90),  # 13 banks of 10 templates; 10 situations of 9
        "fillers": {
            "fellowship_helper": "smalltalk_fellowship",
            "tandem_buddy": "smalltalk_tandem",
            "scout_eye": "smalltalk_scout",
            "quiet_deal": None,
            "new_normal": None,
            "old_enough": None,
        },
        "first_stage": {  # briefed: six different stages, three or more not age or flattery
            "fellowship_helper": "isolation",
            "tandem_buddy": "platform_move",
            "scout_eye": "meeting",
            "quiet_deal": "secrecy",
            "new_normal": "desensitisation",
            "old_enough": "age_gap",
        },
        "negative_beats": (7, 10),
    },
    "holdout9": {
        "seed": 12,
        "paces": [3, 4, 7, 9, 14, 20],
        "adult_lines": (130, 90),  # 13 banks of 10 templates; 10 situations of 9
        "fillers": {
            "roster_spot": "smalltalk_manager",
            "mod_squad": "smalltalk_mod",
            "portfolio_ask": "smalltalk_agency",
            "mum_knows": None,
            "gift_drop": None,
            "lonely_hook": None,
        },
        "first_stage": {  # briefed: six different stages, none repeating an earlier pace's
            "roster_spot": "age_probing",
            "mod_squad": "flattery",
            "portfolio_ask": "image_request",
            "mum_knows": "supervision_check",
            "gift_drop": "gifts",
            "lonely_hook": "isolation",
        },
        "negative_beats": (7, 10),
    },
    "holdout10": {
        "seed": 13,
        "paces": [3, 5, 8, 11, 15, 21],
        "adult_lines": (130, 90),  # 13 banks of 10 templates; 10 situations of 9
        "fillers": {
            "hagwon_helper": "smalltalk_hagwon",
            "cover_unnie": "smalltalk_cover",
            "court_planner": "smalltalk_quince",
            "contest_pics": None,
            "mom_said_yes": None,
            "quiet_rush": None,
        },
        "first_stage": {  # briefed: six different stages, no (stage, pace) of an earlier split
            "hagwon_helper": "gifts",
            "cover_unnie": "flattery",
            "court_planner": "age_probing",
            "contest_pics": "image_request",
            "mom_said_yes": "meeting",
            "quiet_rush": "secrecy",
        },
        "negative_beats": (7, 10),
    },
    "holdout11": {
        "seed": 14,
        "paces": [3, 4, 6, 10, 13, 19],
        "adult_lines": (130, 90),  # 13 banks of 10 templates; 10 situations of 9
        "fillers": {
            "homework_volunteer": "smalltalk_devoirs",
            "academy_agent": "smalltalk_centre",
            "event_host": "smalltalk_soiree",
            "dare_chain": None,
            "age_upfront": None,
            "wave_drop": None,
        },
        # briefed: six different stages, no (stage, pace) of an earlier split, three rushes
        # (3, 4 and 6 beats), one opening with no rapport at all
        "first_stage": {
            "homework_volunteer": "age_probing",
            "academy_agent": "image_request",
            "event_host": "platform_move",
            "dare_chain": "desensitisation",
            "age_upfront": "age_gap",
            "wave_drop": "gifts",
        },
        "negative_beats": (7, 10),
    },
}
ALL = pytest.mark.parametrize("split", list(BLIND))
#: The splits whose brief fixed paces, fillers and adult-line counts.
BRIEFED = pytest.mark.parametrize("split", [s for s in BLIND if "paces" in BLIND[s]])


def _other_files(split: str) -> list[dict[str, Any]]:
    """Every other template file: synthetic.toml and the other splits' own files."""
    names = [name for other, name in SPLIT_TEMPLATE_FILES.items() if other != split]
    return [load_templates(), *(tomllib.loads(read_packaged(name)) for name in names)]


def _norm(text: str) -> str:
    """Lowercased words joined by one space (slots kept as ``{name}`` tokens)."""
    return " ".join(_WORD.findall(text.lower()))


def _own_templates(split: str) -> list[tuple[str, str]]:
    return [(name, t) for name, bank in banks(own_file(split)).items() for t in bank[split]]


def _speakers(template: str) -> list[str]:
    """``A`` or ``B`` for each line of a template, in order."""
    return [part.strip()[:1] for part in template.split("||")]


@ALL
def test_split_generates_the_stated_counts_with_its_own_seed_and_families(split: str) -> None:
    seed = BLIND[split]["seed"]
    assert split in SPLITS
    assert SPLIT_SEEDS[split] == seed
    assert list(SPLIT_SEEDS.values()).count(seed) == 1
    assert DEFAULT_SIZES[split] == (200, 400)
    conversations = generate(split)
    assert conversations == generate(split)
    assert len(conversations) == 600
    assert [c.id for c in conversations[:2]] == [f"{split}-0", f"{split}-1"]
    labels = [c.label for c in conversations]
    assert [label.grooming if label else None for label in labels] == [True] * 200 + [False] * 400
    own = own_file(split)["families"]
    by_kind = {
        kind: {f"synthetic:{name}" for name, spec in own.items() if spec["kind"] == kind}
        for kind in ("grooming", "negative")
    }
    assert len(by_kind["grooming"]) == 6
    assert len(by_kind["negative"]) == 10
    assert {label.family for label in labels[:200] if label} == by_kind["grooming"]
    assert {label.family for label in labels[200:] if label} == by_kind["negative"]
    for conv in conversations[:200]:
        assert conv.label is not None
        assert conv.messages[0].sender in conv.label.groomers
    for conv in conversations[200:]:
        assert conv.label is not None
        assert conv.label.groomers == frozenset()


@ALL
def test_own_file_adds_only_its_wording_slots_and_families(split: str) -> None:
    own = own_file(split)
    base = load_templates()
    for name, bank in banks(own).items():
        assert set(bank) == {split}, name
    assert set(own["grooming"]) == set(base["grooming"])  # every indicator bank, no other
    assert all(spec["splits"] == [split] for spec in own["families"].values())
    for other in _other_files(split):
        assert not set(own["negative"]) & set(other["negative"])  # situations of its own
        assert not set(own["families"]) & set(other["families"])
        assert not set(own["slots"]) & set(other["slots"])
        assert all(split not in bank for bank in banks(other).values())
        assert all(split not in spec["splits"] for spec in other["families"].values())
    used = {slot for _, template in _own_templates(split) for slot in _SLOT.findall(template)}
    assert used == set(own["slots"])  # every slot used, none from elsewhere


@ALL
def test_every_bank_its_families_use_has_enough_distinct_phrasings(split: str) -> None:
    own = own_file(split)
    merged = banks(load_split_templates(split))
    used = {
        str(spec.get("filler", "smalltalk")) if beat == "smalltalk" else f"{spec['kind']}.{beat}"
        for spec in own["families"].values()
        for beat in spec["beats"]
    }
    assert {f"grooming.{name}" for name in own["grooming"]} <= used
    assert {f"negative.{name}" for name in own["negative"]} <= used
    for name in used:
        assert len(merged[name][split]) >= 7, name
    for name, bank in banks(own).items():
        assert len(set(bank[split])) == len(bank[split]), f"{name}: repeated phrasing"


@BRIEFED
def test_grooming_families_have_the_briefed_paces_and_cover_every_indicator(split: str) -> None:
    """A slow burn of 15+ beats and two rushes of 3-5 beats; between them the families use all
    13 indicator banks; adults-only families use adult small talk; the context families carry
    their context in their filler (and, where briefed, open on different stages)."""
    spec = BLIND[split]
    families = own_file(split)["families"]
    grooming = {n: f["beats"] for n, f in families.items() if f["kind"] == "grooming"}
    lengths = sorted(len(beats) for beats in grooming.values())
    assert lengths == spec["paces"]
    assert sum(1 for n in lengths if 3 <= n <= 5) == 2
    assert max(lengths) >= 15
    used = {beat for beats in grooming.values() for beat in beats} - {"smalltalk"}
    assert used == set(load_templates()["grooming"])
    assert len(used) == 13
    for name, family in families.items():
        if family.get("people") == "adults":
            assert family.get("filler") == "smalltalk_adult", name
    fillers = {n: f.get("filler") for n, f in families.items() if f["kind"] == "grooming"}
    assert fillers == spec["fillers"]
    if "first_stage" in spec:
        first = {n: next(b for b in beats if b != "smalltalk") for n, beats in grooming.items()}
        assert first == spec["first_stage"]
    if "negative_beats" in spec:  # not told apart from grooming by length
        negative = sorted(len(f["beats"]) for f in families.values() if f["kind"] == "negative")
        assert (negative[0], negative[-1]) == spec["negative_beats"]


def _a_line_patterns(split: str, kind: str) -> list[re.Pattern[str]]:
    """Regexes for the opening speaker's lines of the split's ``kind`` banks, slots filled."""
    own = own_file(split)
    out = []
    for bank in own[kind].values():
        for template in bank[split]:
            for part in template.split("||"):
                who, _, text = part.strip().partition(":")
                if who.strip() == "A":
                    pieces = _SLOT.split(text.strip())
                    out.append(
                        re.compile(
                            "".join(
                                re.escape(piece)
                                if i % 2 == 0
                                else "(?:" + "|".join(map(re.escape, own["slots"][piece])) + ")"
                                for i, piece in enumerate(pieces)
                            )
                        )
                    )
    return out


@BRIEFED
def test_every_conversation_carries_its_own_kind_of_beat(split: str) -> None:
    """Each grooming conversation has at least one adult line from a grooming bank and none
    from a negative situation; each negative conversation the reverse (obfuscation off)."""
    conversations = generate(split, SyntheticOptions(*DEFAULT_SIZES[split], obfuscation=0))
    grooming = _a_line_patterns(split, "grooming")
    negative = _a_line_patterns(split, "negative")
    assert (len(grooming), len(negative)) == BLIND[split]["adult_lines"]

    def hits(conv_messages: list[str], patterns: list[re.Pattern[str]]) -> int:
        return sum(1 for text in conv_messages for p in patterns if p.fullmatch(text))

    for conv in conversations:
        assert conv.label is not None
        lines = [m.text for m in conv.messages]
        own_kind, other_kind = (grooming, negative) if conv.label.grooming else (negative, grooming)
        assert hits(lines, own_kind) >= 1, conv.id
        assert hits(lines, other_kind) == 0, conv.id


@ALL
def test_template_lines_are_disjoint_from_every_other_split(split: str) -> None:
    """No line equals another split's line (short replies aside; adult lines never) or shares
    five consecutive words with one."""
    others: set[str] = set()
    other_adult: set[str] = set()  # the other files' "A" lines, short ones included
    other_shingles: set[str] = set()
    files = _other_files(split)
    for data in files:
        for bank in banks(data).values():
            for templates in bank.values():
                for template in templates:
                    for who, text in zip(_speakers(template), texts(template), strict=True):
                        others.add(_norm(text))
                        if who == "A":
                            other_adult.add(_norm(text))
                        other_shingles |= shingles(_norm(text), 5)
    assert len(files) == len(SPLIT_TEMPLATE_FILES)  # synthetic.toml and the other holdouts
    assert len(others) > 1500  # their phrasings were all read
    for name, template in _own_templates(split):
        for who, text in zip(_speakers(template), texts(template), strict=True):
            line = _norm(text)
            if who == "A" or len(line.split()) >= 4:  # short replies ("ok", "no") may repeat
                assert line not in others, f"{name}: {text!r} is another split's line"
            if who == "A":
                assert line not in other_adult, f"{name}: {text!r} is another split's adult line"
            shared = shingles(line, 5) & other_shingles
            assert not shared, f"{name}: {text!r} shares {shared} with another split"


@ALL
def test_generated_lines_are_disjoint_from_every_other_split(split: str) -> None:
    """Exact comparison after slot filling, on the conversations each split generates."""

    def lines(name: str) -> set[str]:
        conversations = generate(name, SyntheticOptions(*DEFAULT_SIZES[name], obfuscation=0))
        return {m.text for c in conversations for m in c.messages[2:] if len(m.text.split()) >= 4}

    own = lines(split)
    assert len(own) > 300
    for other in SPLITS:
        if other != split:
            assert not own & lines(other), other


@ALL
def test_generated_conversations_use_only_the_splits_wording(split: str) -> None:
    conversations = generate(split, SyntheticOptions(*DEFAULT_SIZES[split], obfuscation=0))
    patterns = line_patterns(split)
    for conv in conversations:
        for message in conv.messages[2:]:  # after the greeting pair
            assert any(p.fullmatch(message.text) for p in patterns), (conv.id, message.text)


def _filled(text: str, slots: dict[str, list[str]]) -> list[str]:
    """``text`` with its slots filled every possible way."""
    pieces = _SLOT.split(text)  # text, slot, text, slot, ..., text
    choices = [[piece] if i % 2 == 0 else slots[piece] for i, piece in enumerate(pieces)]
    return ["".join(parts) for parts in itertools.product(*choices)]


@ALL
def test_no_split_text_in_the_detector_data(split: str) -> None:
    """The pattern table and embedding examples (read as plain text) hold no line of it."""
    detector_text = (
        " "
        + " ".join(_norm(read_packaged(f"data/{name}.toml")) for name in ("examples", "patterns"))
        + " "
    )
    assert len(detector_text) > 1000
    slots = own_file(split)["slots"]
    checked = 0
    for name, template in _own_templates(split):
        for text in texts(template):
            for filled in _filled(text, slots):
                line = _norm(filled)
                if len(line.split()) >= 4:
                    checked += 1
                    assert f" {line} " not in detector_text, f"{name}: {filled!r}"
    assert checked > 300


@ALL
def test_no_benign_training_line_shares_five_words_with_it(split: str) -> None:
    """The line model's benign-only lines (round 6, ``data/benign_lines.toml``) share no five
    consecutive words with any of its template lines."""
    table = tomllib.loads(read_packaged("data/benign_lines.toml"))
    benign = [_norm(line) for lines in table["topics"].values() for line in lines]
    assert len(benign) >= 100
    benign_shingles = set().union(*(shingles(line, 5) for line in benign))
    for name, template in _own_templates(split):
        for text in texts(template):
            shared = shingles(_norm(text), 5) & benign_shingles
            assert not shared, f"{name}: {text!r} shares {shared} with benign_lines.toml"


@ALL
def test_cli_generate_and_synthetic_source(split: str, tmp_path: Path) -> None:
    path = tmp_path / f"{split}.jsonl"
    result = CliRunner().invoke(app, ["chat", "generate", "--split", split, "-o", str(path)])
    assert result.exit_code == 0, result.output
    assert "wrote 600 conversations" in result.stdout
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [row["id"] for row in rows[:2]] == [f"{split}-0", f"{split}-1"]
    assert sum(1 for row in rows if row["label"]["grooming"]) == 200
    # `synthetic:SPLIT` names the split for the CLI's data loader (generation only here)
    loaded = _read([f"synthetic:{split}"], None)[1]
    assert [c.id for c in loaded] == [row["id"] for row in rows]
