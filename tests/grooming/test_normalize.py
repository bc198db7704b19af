"""Normalisation: leetspeak, elongation, spacing, symbols, emoji, abbreviations, typos."""

from __future__ import annotations

import random

import pytest

from safehold.grooming.normalize import SpellingCorrector, normalize, squeeze


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("Don't tell ur mom \U0001f92b", "do not tel your mom secret"),
        ("s3cr3t!!", "secret"),
        ("keep it a $ecret", "kep it a secret"),
        ("sooooo prettyyyy", "so prety"),
        ("s e c r e t", "secret"),
        ("s.e.c.r.e.t", "secret"),
        ("H0W 0LD R U", "how old are you"),
        ("I'm 14 y/o", "i am 14 y o"),
        ("13yo", "13 yo"),
        ("m15", "m 15"),
        ("u r so mature 4 ur age", "you are so mature for your age"),
        ("caf\u00e9 meeting", "cafe meting"),
        ("se\u200bcret", "secret"),
        ("\uff53\uff45\uff43\uff52\uff45\uff54", "secret"),  # full-width letters (NFKC)
        ("send me a pic \U0001f4f8", "send me a picture photo"),
        ("", ""),
        ("\U0001f600\U0001f600", ""),
    ],
)
def test_plain_form(text: str, plain: str) -> None:
    assert normalize(text) == plain


def test_ages_survive_and_digits_inside_words_do_not() -> None:
    assert normalize("i am 13") == "i am 13"
    assert normalize("gr8 n1ce") == "great nice"


def test_readable_form_keeps_spelling() -> None:
    assert normalize("keep it between us", plain=False) == "keep it between us"
    assert normalize("have u ever kisssed", plain=False) == "have you ever kissed"
    assert normalize("dont tell ur mom", plain=False) == "do not tell your mom"


def test_squeeze_is_idempotent() -> None:
    assert squeeze("mississippi") == "misisipi"
    assert squeeze(squeeze("meeeet")) == squeeze("meeeet") == "met"


def test_spelling_corrector_fixes_one_edit_only() -> None:
    corrector = SpellingCorrector({"secret", "picture", "parents"})
    assert corrector.correct("its our secrit") == "its our secret"  # substitution
    assert corrector.correct("send a pictre") == "send a picture"  # deletion
    assert corrector.correct("your parentss") == "your parents"  # insertion
    assert corrector.correct("a sacrat thing") == "a sacrat thing"  # two edits: unchanged
    assert corrector.correct("pets") == "pets"  # short words are never corrected


@pytest.mark.parametrize("plain", [True, False])
def test_ascii_fast_path_gives_what_the_unicode_steps_give(plain: bool) -> None:
    # ASCII text skips NFKC/NFKD and the per-character emoji pass; a zero-width space (which
    # those steps delete) sends the same text down the full path, and the results must agree
    rng = random.Random(7)
    alphabet = [chr(i) for i in range(32, 127)]
    samples = ["wh^t r u d0ing `later`", "how oooold r u?? ^^", "s.e.n.d it", "i'm 13 :)"]
    samples += [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 50))) for _ in range(3000)
    ]
    for text in samples:
        assert text.isascii()
        assert normalize(text, plain=plain) == normalize(text + "\u200b", plain=plain), text
    assert normalize("wh^t `now`") == "wh t now"
