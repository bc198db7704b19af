"""The synthetic data: deterministic, labelled, and with disjoint phrasing per split."""

from __future__ import annotations

import hashlib
import random

import pytest

from safehold.errors import InvalidInputError
from safehold.grooming.model import Conversation
from safehold.grooming.synthetic import (
    BENIGN_NEW_ACCOUNT_SHARE,
    DEFAULT_SIZES,
    MINOR_NEW_ACCOUNT_SHARE,
    SPLIT_SEEDS,
    SPLITS,
    SyntheticOptions,
    generate,
    load_split_templates,
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


def _banks() -> dict[str, dict[str, list[str]]]:
    data = load_templates()
    banks = {
        f"{kind}.{name}": bank
        for kind in ("grooming", "negative")
        for name, bank in data[kind].items()
    }
    banks.update({name: data[name] for name in ("smalltalk", "smalltalk_adult")})
    return banks


def test_splits_never_share_a_phrasing() -> None:
    banks = _banks()
    assert len(banks) == 13 + 17 + 2
    for name, bank in banks.items():
        assert set(bank) <= set(SPLITS), name
        seen: dict[str, str] = {}
        for split, lines in bank.items():
            for line in lines:
                assert line not in seen, f"{name}: {line!r} in {seen.get(line)} and {split}"
                seen[line] = split


def test_every_family_has_phrasings_in_each_of_its_splits() -> None:
    data = load_templates()
    banks = _banks()
    for family, spec in data["families"].items():
        kind = spec["kind"]
        filler = spec.get("filler", "smalltalk")
        for split in spec["splits"]:
            for beat in spec["beats"]:
                bank = banks[filler if beat == "smalltalk" else f"{kind}.{beat}"]
                assert bank.get(split), f"{family}: no {split} phrasing for {beat}"


def test_eval_only_families() -> None:
    families = {c.label.family for c in generate("eval") if c.label}
    train = {c.label.family for c in generate("train") if c.label}
    assert {"synthetic:scout", "synthetic:slow", "synthetic:tutoring"} <= families - train


def test_holdout_has_its_own_families_and_seed() -> None:
    assert SPLIT_SEEDS["holdout"] not in {SPLIT_SEEDS[s] for s in ("train", "dev", "eval")}
    holdout = generate("holdout")
    assert [c.id for c in holdout[:2]] == ["holdout-0", "holdout-1"]
    assert sum(1 for c in holdout if c.label and c.label.grooming) == DEFAULT_SIZES["holdout"][0]
    families = {c.label.family for c in holdout if c.label}
    others = {c.label.family for s in ("train", "dev", "eval") for c in generate(s) if c.label}
    only = {"sextortion", "benefactor", "confidant", "babysitting", "youth_club", "neighbours"}
    assert families - others == {f"synthetic:{f}" for f in only}
    grooming = {c.label.family for c in holdout if c.label and c.label.grooming}
    assert grooming <= {"synthetic:sextortion", "synthetic:benefactor", "synthetic:confidant"}


def test_adult_families_are_between_adults() -> None:
    convs = [c for c in generate("dev") if c.label and c.label.family == "synthetic:support"]
    assert convs
    ages = [p.declared_age for c in convs for p in c.participants.values()]
    assert all(a is None or a >= 25 for a in ages)
    assert any(a is not None for a in ages)


def test_unknown_split() -> None:
    with pytest.raises(InvalidInputError, match="unknown split"):
        generate("test")


def test_obfuscate_changes_little() -> None:
    rng = random.Random(1)
    for _ in range(50):
        text = obfuscate(rng, "please keep this between us")
        assert abs(len(text) - len("please keep this between us")) <= 8


def _digest(conversations: list[Conversation], grooming_people: bool = False) -> str:
    digest = hashlib.sha256()
    for conv in conversations:
        if grooming_people:
            if conv.label and conv.label.grooming:
                for key in sorted(conv.participants):
                    p = conv.participants[key]
                    # the child's account age (round 11) comes from a generator of its own;
                    # left out, so the digest pins every draw made before
                    account = p.account_age_days if key in conv.label.groomers else None
                    digest.update(f"{p.id}|{p.declared_age}|{account}\n".encode())
            continue
        for m in conv.messages:
            stamp = m.time.isoformat() if m.time else ""
            digest.update(f"{conv.id}|{m.id}|{m.sender}|{m.text}|{stamp}\n".encode())
    return digest.hexdigest()


def test_benign_adults_have_account_ages_and_other_draws_are_unchanged() -> None:
    # round 10: before, only groomers had accounts under a week (30 % of them), so "new account"
    # was grooming evidence by construction. Benign adults now get account ages from their own
    # generator (10 % under 7 days) and every other draw is what it was: the digests below were
    # computed from generate("train") before the change.
    train = generate("train")
    assert _digest(train) == "a06c32e3f6dac07f12404e5959cacf78fda3f864edcac0a2af50c73360513629"
    assert (
        _digest(train, grooming_people=True)
        == "7d0d32e46e26098b169ce848c7ecd555f26a0b8a81ee9e5a8d33470a6f7b36b1"
    )
    adults, _ = _accounts_by_person(train)
    ages = [age for age in adults if age is not None]
    assert len(ages) == len(adults) == 565  # adult_minor negatives' adults, adults' both people
    new = sum(age < 7 for age in ages)
    assert new == 59  # 10.4 %
    assert abs(new / len(ages) - BENIGN_NEW_ACCOUNT_SHARE) < 0.03
    assert max(ages) <= 2000
    # deterministic: the separate generator is seeded by the conversation id
    assert generate("train") == train


def _accounts_by_person(
    conversations: list[Conversation],
) -> tuple[list[float | None], list[float | None]]:
    """Account ages of the benign adults and of the minors, by each family's ``people``."""
    families = load_split_templates("train")["families"]
    adults: list[float | None] = []
    minors: list[float | None] = []
    for conv in conversations:
        assert conv.label is not None
        default = "grooming" if conv.label.grooming else "adult_minor"
        people = families[conv.label.family.removeprefix("synthetic:")].get("people", default)
        for key, p in conv.participants.items():
            speaker_a = key.endswith("a")  # ids: <split>-u<n>a (A) and <split>-u<n>b (B)
            if people == "minors" or (people in ("grooming", "adult_minor") and not speaker_a):
                minors.append(p.account_age_days)
            elif people in ("adults", "adult_minor"):
                adults.append(p.account_age_days)
    return adults, minors


def test_minors_have_account_ages_and_other_draws_are_unchanged() -> None:
    # round 11: minors (every chat's child, both people of minors negatives) had no account age,
    # so among senders only groomers and benign adults could be new and a new account still
    # marked a groomer. They now get one from a generator of their own (15 % under a week);
    # the digests of the test above are unchanged, so no other draw moved.
    train = generate("train")
    _, minors = _accounts_by_person(train)
    ages = [age for age in minors if age is not None]
    assert len(ages) == len(minors) == 935
    new = sum(age < 7 for age in ages)
    assert new == 139  # 14.9 %
    assert abs(new / len(ages) - MINOR_NEW_ACCOUNT_SHARE) < 0.03
    assert min(ages) >= 0
    assert max(ages) <= 1500
    children = [
        conv.participants[key].account_age_days
        for conv in train
        if conv.label and conv.label.grooming
        for key in conv.participants
        if key not in conv.label.groomers
    ]
    assert len(children) == 300  # one child in each of train's 300 grooming chats
    assert all(age is not None for age in children)


class _DropEverything(random.Random):
    """A generator whose every ``random()`` is 0.99: every beat is dropped (keep <= 0.85)."""

    def random(self) -> float:
        return 0.99


@pytest.mark.parametrize("family", ["slow", "sextortion", "tutoring"])
def test_a_conversation_keeps_a_beat_of_its_own_kind(family: str) -> None:
    # holdout11's author found a 3-beat rush whose three beats the generator had all dropped
    # (0.15 ** 3): small talk labelled grooming. The first beat of the family's own kind is now
    # kept, drawn from a generator of its own (seeded by the conversation id), so every other
    # conversation stays byte for byte the same: generated splits are unchanged but for the
    # three conversations where it happened (holdout2-292, holdout4-358, holdout11-141).
    from safehold.grooming.synthetic import _conversation, _exchange

    data = load_templates()
    split = "eval" if family != "sextortion" else "holdout"
    grooming = family != "tutoring"
    conv = _conversation(
        _DropEverything(1), data, split, family, "c1", "c1a", "c1b", grooming, obfuscation=0.0
    )
    first = next(b for b in data["families"][family]["beats"] if b != "smalltalk")
    kept = _exchange(random.Random("c1:kept_beat"), data, split, first, grooming=grooming)
    texts = [m.text for m in conv.messages]
    assert texts[2 : 2 + len(kept)] == [text for _, text in kept]
    assert len(texts) > 2 + len(kept)  # the closing small talk follows
