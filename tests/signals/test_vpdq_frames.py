"""vPDQ frame lists: the reference text format, python-threatexchange's JSON, validation."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from safehold.errors import InvalidSignalError
from safehold.signals.base import Signal
from safehold.signals.vpdq import VpdqSignalType
from safehold.signals.vpdq_frames import VpdqFrame, compare, parse_frames, to_pytx_json

Reference = Callable[[str], list[VpdqFrame]]


def test_compare_counts_unique_usable_frames() -> None:
    a, b, c = "0" * 64, "f" * 64, "0" * 56 + "ff000000"  # c is 8 bits from a
    query = "\n".join([f"0,100,{a},0.000", f"1,100,{a},1.000", f"2,100,{b},2.000"])
    bank = "\n".join([f"0,100,{c},0.000", f"1,20,{b},1.000", f"2,100,{'1' * 64},2.000"])
    result = compare(query, bank)
    # query: unique {a, b}; a has c within 31, b's twin in the bank is low quality -> 50 %
    # bank: usable {c, 111..1}; c matched, 0x11..1 (64 bits from a and b) not -> 50 %
    assert (result.query_match_percent, result.bank_match_percent) == (50.0, 50.0)
    assert compare(query, f"0,10,{a},0.000").query_match_percent == 0.0


def test_canonical_text_format(reference: Path, reference_vpdq: Reference) -> None:
    text = (reference / "videos/vpdq-hashes/doorknob-hd-no-bar.txt").read_text()
    canonical = VpdqSignalType.validate_signal(text.upper().replace("\n", "\r\n"))
    assert canonical == text.strip()
    assert parse_frames(canonical) == reference_vpdq("doorknob-hd-no-bar")


def test_pytx_json_round_trip(video_signals: dict[str, Signal]) -> None:
    value = video_signals["doorknob-hd-no-bar"].value
    pytx = to_pytx_json(value)
    items = json.loads(pytx)
    first = parse_frames(value)[0]
    assert items[0] == f"{first.pdq_hex},{first.quality},0.0"  # pytx's '{:.3}' timestamp
    back = parse_frames(VpdqSignalType.validate_signal(pytx))
    assert [(f.pdq_hex, f.quality) for f in back] == [
        (f.pdq_hex, f.quality) for f in parse_frames(value)
    ]
    assert [f.number for f in back] == list(range(len(back)))


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "0,100,abc,0.000",
        "0,100,0000000000000000000000000000000000000000000000000000000000000000",
        "0,101,0000000000000000000000000000000000000000000000000000000000000000,0.0",
        "-1,50,0000000000000000000000000000000000000000000000000000000000000000,0.0",
        "0,50,0000000000000000000000000000000000000000000000000000000000000000,nan",
        '["0000000000000000000000000000000000000000000000000000000000000000,50"]',
        "[1, 2",
    ],
)
def test_invalid_signals(bad: str) -> None:
    with pytest.raises(InvalidSignalError):
        VpdqSignalType.validate_signal(bad)
