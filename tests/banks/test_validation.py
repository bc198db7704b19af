"""Input rules shared by the service and the bank-file readers."""

from __future__ import annotations

import pytest

from safehold.banks.models import NewEntry
from safehold.banks.validation import EntryValidator, describe_name, validate_thresholds
from safehold.errors import InvalidInputError, InvalidSignalError

BRIDGE = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def test_a_hash_in_the_signal_type_field_is_not_echoed() -> None:
    assert describe_name("tmk") == "'tmk'"
    assert describe_name(BRIDGE) == "(64 characters, not a signal type name)"
    with pytest.raises(InvalidSignalError) as info:
        EntryValidator().validate(NewEntry(BRIDGE, BRIDGE))
    assert BRIDGE not in info.value.message
    assert "known: md5, pdq, sha256, vpdq" in info.value.message


def test_validator_canonicalises_and_keeps_other_fields() -> None:
    entry = NewEntry("pdq", BRIDGE.upper(), quality=90, source="s", note="n")
    assert EntryValidator().validate(entry) == NewEntry("pdq", BRIDGE, 90, None, "s", "n")


def test_thresholds_default_to_empty_and_over_long_source_is_refused() -> None:
    assert validate_thresholds(None) == {}
    assert validate_thresholds({"pdq": 0, "vpdq": 256}) == {"pdq": 0, "vpdq": 256}
    with pytest.raises(InvalidInputError, match="source is 201 characters"):
        EntryValidator().validate(NewEntry("md5", "0" * 32, source="s" * 201))
