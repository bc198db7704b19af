"""Benign chats from the ``chatterbot-corpus`` package, read where pip installed them.

The corpus (BSD-3-Clause) is a set of English small-talk dialogues in YAML (greetings, food,
sports, science, tech support...). They are general-audience negatives for false-positive
rates. The text is read from site-packages at run time and never copied into this repository.

Every three consecutive dialogues of one YAML file form one conversation between two
speakers (``<id>-a`` / ``<id>-b``, alternating). Conversations are split by a stable hash of
their id: 60 % train, 20 % dev, 20 % eval.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any

from safehold.errors import ConfigurationError, InvalidInputError
from safehold.grooming.model import MAX_MESSAGE_CHARS, Conversation, ConversationLabel, Message

#: Dialogues joined into one conversation.
GROUP = 3
EXTRA_HINT = "pip install 'safehold[grooming]'"


def _split_of(conv_id: str) -> str:
    bucket = hashlib.sha256(conv_id.encode()).digest()[0] % 10
    return "train" if bucket < 6 else "dev" if bucket < 8 else "eval"


def chatterbot_conversations(
    split: str | None = None, language: str = "english"
) -> list[Conversation]:
    """Benign conversations from ``chatterbot-corpus`` (labelled non-grooming).

    Args:
        split: ``train``, ``dev``, ``eval`` or None for all.
        language: the corpus folder to read.

    Raises:
        ConfigurationError: ``chatterbot-corpus`` or PyYAML is not installed.
        InvalidInputError: unknown split.
    """
    if split not in (None, "train", "dev", "eval"):
        raise InvalidInputError(f"unknown split {split!r} (known: train, dev, eval)")
    try:
        import yaml

        root = resources.files("chatterbot_corpus").joinpath("data", language)
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            f"the benign corpus needs chatterbot-corpus and PyYAML: {EXTRA_HINT}"
        ) from exc
    out: list[Conversation] = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yml"):
            continue
        document: Any = yaml.safe_load(entry.read_text(encoding="utf-8"))
        dialogues = [d for d in (document or {}).get("conversations", []) if isinstance(d, list)]
        stem = entry.name.removesuffix(".yml")
        for start in range(0, len(dialogues), GROUP):
            conv_id = f"chatterbot-{stem}-{start // GROUP}"
            if split is not None and _split_of(conv_id) != split:
                continue
            lines = [
                str(line)[:MAX_MESSAGE_CHARS]
                for d in dialogues[start : start + GROUP]
                for line in d
                if line is not None
            ]
            messages = [
                Message(f"m{i + 1}", f"{conv_id}-{'ab'[i % 2]}", text)
                for i, text in enumerate(lines)
            ]
            if messages:
                out.append(
                    Conversation.build(
                        conv_id, messages, label=ConversationLabel(False, family="chatterbot")
                    )
                )
    return out
