"""The blind ``holdout5`` split: its own template file, new wording only, and it generates.

The detector data files are read here as plain text only, to check that no holdout5 line was
copied into them; nothing in this module runs a detector on holdout5.
"""

from __future__ import annotations

import itertools
import json
import re
import tomllib
from pathlib import Path
from typing import Any

from tests.grooming.split_files import (
    banks,
    line_patterns,
    own_file,
    read_packaged,
    shingles,
    texts,
)
from typer.testing import CliRunner

from safehold.cli.chat import _load
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

SPLIT = "holdout5"
_SLOT = re.compile(r"\{(\w+)\}")
_WORD = re.compile(r"[a-z0-9{}_']+")


_read = read_packaged


def _own() -> dict[str, Any]:
    """The holdout5 file alone, as written."""
    return own_file(SPLIT)


def _other_files() -> list[dict[str, Any]]:
    """Every other template file: synthetic.toml and the other splits' own files."""
    names = [name for split, name in SPLIT_TEMPLATE_FILES.items() if split != SPLIT]
    return [load_templates(), *(tomllib.loads(_read(name)) for name in names)]


_banks = banks
_texts = texts


def _norm(text: str) -> str:
    """Lowercased words joined by one space (slots kept as ``{name}`` tokens)."""
    return " ".join(_WORD.findall(text.lower()))


def _shingles(line: str, n: int = 5) -> set[str]:
    return shingles(line, n)


def _own_templates() -> list[tuple[str, str]]:
    return [(name, t) for name, bank in _banks(_own()).items() for t in bank[SPLIT]]


def test_split_generates_the_stated_counts_with_its_own_seed_and_families() -> None:
    assert SPLIT in SPLITS
    assert SPLIT_SEEDS[SPLIT] == 8
    assert list(SPLIT_SEEDS.values()).count(8) == 1
    assert DEFAULT_SIZES[SPLIT] == (200, 400)
    conversations = generate(SPLIT)
    assert conversations == generate(SPLIT)
    assert len(conversations) == 600
    assert [c.id for c in conversations[:2]] == ["holdout5-0", "holdout5-1"]
    labels = [c.label for c in conversations]
    assert [label.grooming if label else None for label in labels] == [True] * 200 + [False] * 400
    own = _own()["families"]
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


def test_own_file_adds_only_holdout5_wording_slots_and_families() -> None:
    own = _own()
    base = load_templates()
    for name, bank in _banks(own).items():
        assert set(bank) == {SPLIT}, name
    assert set(own["grooming"]) == set(base["grooming"])  # every indicator bank, no other
    assert all(spec["splits"] == [SPLIT] for spec in own["families"].values())
    for other in _other_files():
        assert not set(own["negative"]) & set(other["negative"])  # situations of its own
        assert not set(own["families"]) & set(other["families"])
        assert not set(own["slots"]) & set(other["slots"])
        assert all(SPLIT not in bank for bank in _banks(other).values())
        assert all(SPLIT not in spec["splits"] for spec in other["families"].values())
    used = {slot for _, template in _own_templates() for slot in _SLOT.findall(template)}
    assert used == set(own["slots"])  # every slot used, none from elsewhere


def test_every_bank_its_families_use_has_enough_distinct_phrasings() -> None:
    own = _own()
    banks = _banks(load_split_templates(SPLIT))
    used = {
        str(spec.get("filler", "smalltalk")) if beat == "smalltalk" else f"{spec['kind']}.{beat}"
        for spec in own["families"].values()
        for beat in spec["beats"]
    }
    assert {f"grooming.{name}" for name in own["grooming"]} <= used
    assert {f"negative.{name}" for name in own["negative"]} <= used
    for name in used:
        assert len(banks[name][SPLIT]) >= 7, name
    for name, bank in _banks(own).items():
        assert len(set(bank[SPLIT])) == len(bank[SPLIT]), f"{name}: repeated phrasing"


def test_grooming_families_span_slow_to_fast_vary_the_order_and_cover_every_indicator() -> None:
    """Paces as briefed: a slow burn of 15+ beats, two rushes of 3-5 beats; between them the
    families use all 13 indicator banks, and they open on different stages (secrecy first,
    gifts first, a platform move first). Adults-only families use adult small talk."""
    families = _own()["families"]
    grooming = {n: spec["beats"] for n, spec in families.items() if spec["kind"] == "grooming"}
    lengths = sorted(len(beats) for beats in grooming.values())
    assert lengths == [3, 5, 8, 10, 12, 18]
    assert sum(1 for n in lengths if 3 <= n <= 5) == 2
    assert max(lengths) >= 15
    used = {beat for beats in grooming.values() for beat in beats} - {"smalltalk"}
    assert used == set(load_templates()["grooming"])
    assert len(used) == 13
    first_stage = {n: next(b for b in beats if b != "smalltalk") for n, beats in grooming.items()}
    assert first_stage == {
        "slow_thaw": "flattery",
        "loot_runner": "gifts",
        "same_grade": "age_probing",
        "hush_first": "secrecy",
        "jump_ship": "platform_move",
        "gift_grab": "gifts",
    }
    for name, spec in families.items():
        if spec.get("people") == "adults":
            assert spec.get("filler") == "smalltalk_adult", name
    # the band-mentor, gaming and peer-posing families carry their context in their filler
    fillers = {n: spec.get("filler") for n, spec in families.items() if spec["kind"] == "grooming"}
    assert fillers == {
        "slow_thaw": "smalltalk_band",
        "loot_runner": "smalltalk_lobby",
        "same_grade": "smalltalk_mate",
        "hush_first": None,
        "jump_ship": None,
        "gift_grab": None,
    }


def test_negative_families_are_not_told_apart_by_length() -> None:
    """Hard-negative families run 7-10 beats, inside the grooming families' range."""
    families = _own()["families"]
    lengths = sorted(len(f["beats"]) for f in families.values() if f["kind"] == "negative")
    assert len(lengths) == 10
    assert lengths[0] == 7
    assert lengths[-1] == 10


def _a_line_patterns(kind: str) -> list[re.Pattern[str]]:
    """Regexes for the opening speaker's lines of this file's ``kind`` banks, slots filled."""
    own = _own()
    out = []
    for bank in own[kind].values():
        for template in bank[SPLIT]:
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


def test_every_conversation_carries_its_own_kind_of_beat() -> None:
    """Each grooming conversation has at least one adult line from a grooming bank and none
    from a negative situation; each negative conversation the reverse (obfuscation off)."""
    conversations = generate(SPLIT, SyntheticOptions(*DEFAULT_SIZES[SPLIT], obfuscation=0))
    grooming, negative = _a_line_patterns("grooming"), _a_line_patterns("negative")
    assert len(grooming) == 117  # 13 banks of 8-10 templates, one adult line each
    assert len(negative) == 90  # 10 situations of 9

    def hits(conv_messages: list[str], patterns: list[re.Pattern[str]]) -> int:
        return sum(1 for text in conv_messages for p in patterns if p.fullmatch(text))

    for conv in conversations:
        assert conv.label is not None
        texts_ = [m.text for m in conv.messages]
        own_kind, other_kind = (grooming, negative) if conv.label.grooming else (negative, grooming)
        assert hits(texts_, own_kind) >= 1, conv.id
        assert hits(texts_, other_kind) == 0, conv.id


def _speakers(template: str) -> list[str]:
    """``A`` or ``B`` for each line of a template, in order."""
    return [part.strip()[:1] for part in template.split("||")]


def test_template_lines_are_disjoint_from_every_other_split() -> None:
    """No holdout5 line equals another split's line (short replies aside, both ways: the other
    split files' tests hold their adult lines to the same rule) or shares five consecutive
    words with one."""
    others: set[str] = set()
    other_adult: set[str] = set()  # the other files' "A" lines, short ones included
    other_shingles: set[str] = set()
    for data in _other_files():
        for bank in _banks(data).values():
            for templates in bank.values():
                for template in templates:
                    for who, text in zip(_speakers(template), _texts(template), strict=True):
                        others.add(_norm(text))
                        if who == "A":
                            other_adult.add(_norm(text))
                        other_shingles |= _shingles(_norm(text))
    assert len(_other_files()) == 4  # synthetic.toml, holdout2, holdout3 and holdout4
    assert len(others) > 2000  # their phrasings were all read (2201 distinct lines)
    for name, template in _own_templates():
        for who, text in zip(_speakers(template), _texts(template), strict=True):
            line = _norm(text)
            if who == "A" or len(line.split()) >= 4:  # short replies ("ok", "no") may repeat
                assert line not in others, f"{name}: {text!r} is another split's line"
            assert line not in other_adult, f"{name}: {text!r} is another split's adult line"
            shared = _shingles(line) & other_shingles
            assert not shared, f"{name}: {text!r} shares {shared} with another split"


def test_generated_lines_are_disjoint_from_every_other_split() -> None:
    """Exact comparison after slot filling, on the conversations each split generates."""

    def lines(split: str) -> set[str]:
        conversations = generate(split, SyntheticOptions(*DEFAULT_SIZES[split], obfuscation=0))
        return {m.text for c in conversations for m in c.messages[2:] if len(m.text.split()) >= 4}

    own = lines(SPLIT)
    assert len(own) > 300
    for split in SPLITS:
        if split != SPLIT:
            assert not own & lines(split), split


def test_generated_conversations_use_only_holdout5_wording() -> None:
    conversations = generate(SPLIT, SyntheticOptions(*DEFAULT_SIZES[SPLIT], obfuscation=0))
    patterns = line_patterns(SPLIT)
    for conv in conversations:
        for message in conv.messages[2:]:  # after the greeting pair
            assert any(p.fullmatch(message.text) for p in patterns), (conv.id, message.text)


def _filled(text: str, slots: dict[str, list[str]]) -> list[str]:
    """``text`` with its slots filled every possible way."""
    pieces = _SLOT.split(text)  # text, slot, text, slot, ..., text
    choices = [[piece] if i % 2 == 0 else slots[piece] for i, piece in enumerate(pieces)]
    return ["".join(parts) for parts in itertools.product(*choices)]


def test_no_holdout5_text_in_the_detector_data() -> None:
    """The pattern table and embedding examples (read as plain text) hold no holdout5 line."""
    detector_text = (
        " " + " ".join(_norm(_read(f"data/{name}.toml")) for name in ("examples", "patterns")) + " "
    )
    assert len(detector_text) > 1000
    slots = _own()["slots"]
    checked = 0
    for name, template in _own_templates():
        for text in _texts(template):
            for filled in _filled(text, slots):
                line = _norm(filled)
                if len(line.split()) >= 4:
                    checked += 1
                    assert f" {line} " not in detector_text, f"{name}: {filled!r}"
    assert checked > 300


def test_no_benign_training_line_shares_five_words_with_holdout5() -> None:
    """The line model's benign-only lines (round 6, ``data/benign_lines.toml``, written without
    reading holdout5) share no five consecutive words with any holdout5 template line."""
    table = tomllib.loads(_read("data/benign_lines.toml"))
    benign = [_norm(line) for lines in table["topics"].values() for line in lines]
    assert len(benign) >= 100
    benign_shingles = set().union(*(_shingles(line) for line in benign))
    for name, template in _own_templates():
        for text in _texts(template):
            shared = _shingles(_norm(text)) & benign_shingles
            assert not shared, f"{name}: {text!r} shares {shared} with benign_lines.toml"


def test_cli_generate_and_synthetic_source(tmp_path: Path) -> None:
    path = tmp_path / "h5.jsonl"
    result = CliRunner().invoke(app, ["chat", "generate", "--split", SPLIT, "-o", str(path)])
    assert result.exit_code == 0, result.output
    assert "wrote 600 conversations" in result.stdout
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [row["id"] for row in rows[:2]] == ["holdout5-0", "holdout5-1"]
    assert sum(1 for row in rows if row["label"]["grooming"]) == 200
    # `synthetic:holdout5` names the split for the CLI's data loader (generation only here)
    loaded = _load([f"synthetic:{SPLIT}"], None)
    assert [c.id for c in loaded] == [row["id"] for row in rows]
