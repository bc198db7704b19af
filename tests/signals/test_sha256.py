"""sha256: equals sha256sum's value for every reference file (expected-hashes CSVs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from safehold.errors import InvalidSignalError
from safehold.signals import get_signal_type
from safehold.signals.content import detect_content
from safehold.signals.sha256 import Sha256SignalType


def test_registered() -> None:
    assert get_signal_type("sha256") is Sha256SignalType


def test_reference_images_and_videos(
    reference: Path, image_rows: list[dict[str, str]], video_rows: list[dict[str, str]]
) -> None:
    hasher = Sha256SignalType()
    for row in image_rows + video_rows:
        content = detect_content(reference / row["path"])
        assert hasher.hash_content(content).value == row["sha256"], row["path"]


def test_hash_of_bytes_already_read(reference: Path, video_rows: list[dict[str, str]]) -> None:
    row = video_rows[0]
    content = detect_content(reference / row["path"])
    content.read_bytes()
    assert Sha256SignalType().hash_content(content).value == row["sha256"]


def test_validate_signal() -> None:
    value = "B5B0799616DF52D475A3968DC7E54F1D0724C912244FFA6175BC786375DD7298"
    assert Sha256SignalType.validate_signal(value) == value.lower()
    with pytest.raises(InvalidSignalError, match="64 hexadecimal digits"):
        Sha256SignalType.validate_signal(value[:-1])
