"""Sentence-level scoring in the embedding detector (a user test: a request after small talk
in one message, or before it, was lost in the whole message's embedding)."""

from __future__ import annotations

import pytest

from safehold.grooming.detector import Detector
from safehold.grooming.embedding import MAX_SEGMENTS, SEGMENT_WORDS, message_segments

FILLER = "the match yesterday was great and the weather was nice."
ASK = "are your parents home right now"


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        (ASK, []),  # one sentence: only the whole message is scored
        (f"{FILLER} {ASK}", []),  # 16 words: one thought, read whole
        (f"ok. {FILLER} {ASK}", [FILLER, ASK]),  # "ok." is under three words
        (f"{FILLER} {FILLER} {ASK}", [FILLER, ASK]),  # repeated sentences scored once
        (f"{ASK}\nlol\n{FILLER}", [ASK, FILLER]),  # line breaks cut too (17 words)
        (
            "haha nice! so what did you do at the weekend then? send me a pic of your new haircut",
            ["so what did you do at the weekend then?", "send me a pic of your new haircut"],
        ),
    ],
)
def test_message_segments(text: str, segments: list[str]) -> None:
    assert message_segments(text) == segments


def test_a_long_run_is_scored_in_overlapping_windows() -> None:
    words = [f"w{i}" for i in range(80)]
    windows = message_segments(" ".join(words))
    step = SEGMENT_WORDS // 2
    assert windows == [" ".join(words[s : s + SEGMENT_WORDS]) for s in range(0, 80 - step, step)]
    assert windows[-1].split()[-1] == "w79"  # the end is covered
    many = " ".join(f"sentence number {i} here." for i in range(2 * MAX_SEGMENTS))
    assert len(message_segments(many)) == MAX_SEGMENTS


@pytest.mark.parametrize("filler", [2, 6, 150])
@pytest.mark.parametrize("where", ["before", "after"])
def test_padding_does_not_hide_a_request(
    embedding_detector: Detector, filler: int, where: str
) -> None:
    padding = " ".join([FILLER] * filler)
    text = f"{padding} {ASK}" if where == "before" else f"{ASK}. {padding}"
    [plain, padded] = embedding_detector.detect([ASK, text])
    plain_found = {h.indicator: h.strength for h in plain}
    assert plain_found.get("supervision_check", 0.0) >= 0.5
    padded_found = {h.indicator: h.strength for h in padded}
    assert padded_found.get("supervision_check", 0.0) >= 0.5
