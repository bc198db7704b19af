"""md5: equals md5sum's value for every reference file (expected-hashes CSVs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from safehold.errors import InvalidSignalError
from safehold.signals import get_signal_type
from safehold.signals.content import detect_content
from safehold.signals.md5 import Md5SignalType


def test_registered() -> None:
    assert get_signal_type("md5") is Md5SignalType


def test_reference_images_and_videos(
    reference: Path, image_rows: list[dict[str, str]], video_rows: list[dict[str, str]]
) -> None:
    hasher = Md5SignalType()
    rows = image_rows + video_rows
    assert len(rows) == 45
    for row in rows:
        signal = hasher.hash_content(detect_content(reference / row["path"]))
        assert signal.value == row["md5"], row["path"]
        assert signal.quality is None
        assert signal.variants == ()


def test_validate_signal_normalises_case_and_space() -> None:
    assert Md5SignalType.validate_signal(" D35C785545392755E7E4164457657269\n") == (
        "d35c785545392755e7e4164457657269"
    )


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "d35c78554539275",
        "d35c785545392755e7e41644576572690",
    ],
)
def test_validate_signal_rejects(bad: str) -> None:
    with pytest.raises(InvalidSignalError, match=r"^an md5 hash is 32 hexadecimal digits"):
        Md5SignalType.validate_signal(bad)


@pytest.mark.parametrize(
    "bad",
    [
        "g35c785545392755e7e4164457657269",
        "d35c785545392755e7e416445765726\uff19",  # a fullwidth digit nine
        "d35c785545392755e7e416445765726\u0669",  # an Arabic-Indic digit nine
        "d35c785545392755e7e416445765726\u0000",
        "d35c785545392755e7e4164457657269\u00ff",  # right length plus one non-hex
    ],
)
def test_validate_signal_names_characters_that_are_not_hex(bad: str) -> None:
    with pytest.raises(InvalidSignalError) as info:
        Md5SignalType.validate_signal(bad)
    assert info.value.message == (
        "an md5 hash contains characters that are not hexadecimal digits (0-9, a-f)"
    )


def test_validate_signal_points_at_a_0x_prefix() -> None:
    with pytest.raises(InvalidSignalError, match=r"not hexadecimal digits \(0-9, a-f\) \(drop"):
        Md5SignalType.validate_signal("0xd35c785545392755e7e41644576572")
