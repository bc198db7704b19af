"""The synthetic data: deterministic, labelled, and with disjoint phrasing per split."""

from __future__ import annotations

import random

import pytest

from safehold.errors import InvalidInputError
from safehold.grooming.synthetic import (
    SyntheticOptions,
    generate,
    load_templates,
    obfuscate,
)


def test_deterministic_and_labelled() -> None:
    a = generate("eval", SyntheticOptions(5, 5))
    b = generate("eval", SyntheticOptions(5, 5))
    assert a == b
    assert [c.label.grooming for c in a if c.label] == [True] * 5 + [False] * 5
    for conv in a[:5]:
        assert conv.label is not None
        assert conv.label.groomers <= set(conv.participants)
        assert conv.messages[0].sender in conv.label.groomers


def test_splits_never_share_a_phrasing() -> None:
    data = load_templates()
    for kind in ("grooming", "negative"):
        for name, bank in data[kind].items():
            seen: dict[str, str] = {}
            for split, lines in bank.items():
                for line in lines:
                    assert line not in seen, (
                        f"{kind}.{name}: {line!r} in {seen.get(line)} and {split}"
                    )
                    seen[line] = split


def test_eval_only_families() -> None:
    families = {c.label.family for c in generate("eval") if c.label}
    train = {c.label.family for c in generate("train") if c.label}
    assert {"synthetic:scout", "synthetic:slow", "synthetic:tutoring"} <= families - train


def test_unknown_split() -> None:
    with pytest.raises(InvalidInputError, match="unknown split"):
        generate("test")


def test_obfuscate_changes_little() -> None:
    rng = random.Random(1)
    for _ in range(50):
        text = obfuscate(rng, "please keep this between us")
        assert abs(len(text) - len("please keep this between us")) <= 8
