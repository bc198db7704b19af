"""Benign chats from the chatterbot-corpus package (read in place)."""

from __future__ import annotations

import pytest

from safehold.errors import InvalidInputError
from safehold.grooming.benign import chatterbot_conversations


def test_splits_partition_the_corpus() -> None:
    pytest.importorskip("chatterbot_corpus")
    every = {c.id for c in chatterbot_conversations()}
    parts = [{c.id for c in chatterbot_conversations(s)} for s in ("train", "dev", "eval")]
    assert set().union(*parts) == every
    assert sum(len(p) for p in parts) == len(every) > 300
    conv = chatterbot_conversations("eval")[0]
    assert conv.label is not None
    assert not conv.label.grooming
    assert len(conv.senders()) == 2


def test_unknown_split() -> None:
    with pytest.raises(InvalidInputError):
        chatterbot_conversations("test")
