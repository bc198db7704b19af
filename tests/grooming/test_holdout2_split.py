"""The blind ``holdout2`` split: its own template file, new wording only, and it generates."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from tests.grooming.split_files import (
    banks,
    line_patterns,
    own_file,
    shingles,
)
from typer.testing import CliRunner

from safehold.cli.chat import _read
from safehold.cli.main import app
from safehold.grooming.indicators import RISK_INDICATORS
from safehold.grooming.synthetic import (
    DEFAULT_SIZES,
    SPLIT_SEEDS,
    SPLITS,
    SyntheticOptions,
    _merge,
    generate,
    load_split_templates,
    load_templates,
)

SPLIT = "holdout2"
_SLOT = re.compile(r"\{(\w+)\}")
_WORD = re.compile(r"[a-z0-9{}_']+")


def _own() -> dict[str, Any]:
    return own_file(SPLIT)


_banks = banks


def _lines(template: str) -> list[str]:
    """The lines of a template without speakers, lowercased, as words joined by one space."""
    parts = [part.strip().partition(":")[2] for part in template.split("||")]
    return [" ".join(_WORD.findall(part.lower())) for part in parts]


def _shingles(line: str, n: int = 6) -> set[str]:
    return shingles(line, n)


def _bank_of(kind: str, beat: str, spec: dict[str, Any]) -> str:
    if beat == "smalltalk":
        return str(spec.get("filler", "smalltalk"))
    return f"{kind}.{beat}"


def test_own_file_adds_only_holdout2_wording() -> None:
    own = _own()
    base = load_templates()
    for name, bank in _banks(own).items():
        assert set(bank) == {SPLIT}, name
    assert set(own["grooming"]) == set(RISK_INDICATORS)  # every indicator, no other bank
    assert not set(own["negative"]) & set(base["negative"])  # situations of its own
    assert not set(own["families"]) & set(base["families"])
    assert all(spec["splits"] == [SPLIT] for spec in own["families"].values())
    # the other splits never see holdout2's file
    assert all(SPLIT not in bank for bank in _banks(base).values())
    assert all(SPLIT not in spec["splits"] for spec in base["families"].values())


def test_families_and_phrasing_counts() -> None:
    own = _own()
    merged = load_split_templates(SPLIT)
    families = own["families"]
    kinds = [spec["kind"] for spec in families.values()]
    assert kinds.count("grooming") >= 3
    assert kinds.count("negative") >= 4
    used = {
        _bank_of(spec["kind"], beat, spec) for spec in families.values() for beat in spec["beats"]
    }
    assert {f"grooming.{name}" for name in RISK_INDICATORS} <= used
    banks = _banks(merged)
    for name in used:
        assert len(banks[name][SPLIT]) >= 6, name
    for name, bank in _banks(own).items():
        assert len(set(bank[SPLIT])) == len(bank[SPLIT]), f"{name}: repeated phrasing"


def test_wording_is_disjoint_from_every_other_split() -> None:
    others: set[str] = set()
    other_shingles: set[str] = set()
    for bank in _banks(load_split_templates(SPLIT)).values():
        for split, templates in bank.items():
            if split == SPLIT:
                continue
            for template in templates:
                for line in _lines(template):
                    others.add(line)
                    other_shingles |= _shingles(line)
    assert len(others) > 300  # every other split's phrasings were read
    for name, bank in _banks(_own()).items():
        for template in bank[SPLIT]:
            for line in _lines(template):
                if len(line.split()) >= 4:
                    assert line not in others, f"{name}: {line!r} is another split's line"
                shared = _shingles(line) & other_shingles
                assert not shared, f"{name}: {line!r} shares {shared} with another split"


def test_slots_come_from_its_own_file() -> None:
    own = _own()
    used = {
        slot
        for bank in _banks(own).values()
        for template in bank[SPLIT]
        for slot in _SLOT.findall(template)
    }
    assert used
    assert used <= set(own["slots"])
    assert not set(own["slots"]) & set(load_templates()["slots"])


def test_generated_conversations_use_only_holdout2_wording() -> None:
    sizes = DEFAULT_SIZES[SPLIT]
    conversations = generate(SPLIT, SyntheticOptions(*sizes, obfuscation=0.0))
    patterns = line_patterns(SPLIT)
    for conv in conversations:
        for message in conv.messages[2:]:  # after the greeting pair
            assert any(p.fullmatch(message.text) for p in patterns), (conv.id, message.text)


def test_split_generates_with_its_own_seed_sizes_and_families() -> None:
    assert SPLIT in SPLITS
    assert SPLIT_SEEDS[SPLIT] == 5
    assert list(SPLIT_SEEDS.values()).count(5) == 1
    assert DEFAULT_SIZES[SPLIT] == (200, 400)
    conversations = generate(SPLIT)
    assert conversations == generate(SPLIT)
    assert len(conversations) == 600
    assert [c.id for c in conversations[:2]] == ["holdout2-0", "holdout2-1"]
    labels = [c.label for c in conversations]
    assert all(label is not None for label in labels)
    assert [label.grooming for label in labels if label] == [True] * 200 + [False] * 400
    own = _own()["families"]
    by_kind = {
        kind: {f"synthetic:{name}" for name, spec in own.items() if spec["kind"] == kind}
        for kind in ("grooming", "negative")
    }
    assert {label.family for label in labels[:200] if label} == by_kind["grooming"]
    assert {label.family for label in labels[200:] if label} == by_kind["negative"]
    for conv in conversations[:200]:
        assert conv.label is not None
        assert conv.messages[0].sender in conv.label.groomers


def test_cli_generate_and_evaluate_source(tmp_path: Path) -> None:
    path = tmp_path / "h2.jsonl"
    result = CliRunner().invoke(app, ["chat", "generate", "--split", SPLIT, "-o", str(path)])
    assert result.exit_code == 0, result.output
    assert "wrote 600 conversations" in result.stdout
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [row["id"] for row in rows[:2]] == ["holdout2-0", "holdout2-1"]
    # `chat evaluate synthetic:holdout2` reads the split through the same loader
    loaded = _read([f"synthetic:{SPLIT}"], None)[1]
    assert [c.id for c in loaded] == [row["id"] for row in rows]


def test_merge_refuses_to_redefine() -> None:
    base: dict[str, Any] = {"slots": {"game": ["zelda"]}, "smalltalk": {"train": ["A: hi"]}}
    _merge(base, {"smalltalk": {"holdout2": ["A: yo"]}}, "extra.toml")
    assert base["smalltalk"] == {"train": ["A: hi"], "holdout2": ["A: yo"]}
    with pytest.raises(ValueError, match="'game' is already defined"):
        _merge(base, {"slots": {"game": ["apex"]}}, "extra.toml")
