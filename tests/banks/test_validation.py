"""Input rules shared by the service and the bank-file readers."""

from __future__ import annotations

import pytest

from safehold.banks.models import NewEntry
from safehold.banks.validation import (
    EntryValidator,
    describe_name,
    validate_bank_name,
    validate_entry_id,
    validate_thresholds,
)
from safehold.errors import InvalidInputError, InvalidSignalError, NotFoundError

BRIDGE = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def test_a_hash_in_the_signal_type_field_is_not_echoed() -> None:
    assert describe_name("tmk") == "'tmk'"
    assert describe_name(BRIDGE) == "(64 characters, not a signal type name)"
    with pytest.raises(InvalidSignalError) as info:
        EntryValidator().validate(NewEntry(BRIDGE, BRIDGE))
    assert BRIDGE not in info.value.message
    assert "known: md5, pdq, sha1, sha256" in info.value.message


def test_validator_canonicalises_and_keeps_other_fields() -> None:
    entry = NewEntry("pdq", BRIDGE.upper(), quality=90, source="s", note="n")
    assert EntryValidator().validate(entry) == NewEntry("pdq", BRIDGE, 90, None, "s", "n")


def test_thresholds_default_to_empty_and_over_long_source_is_refused() -> None:
    assert validate_thresholds(None) == {}
    assert validate_thresholds({"pdq": 0, "vpdq": 256}) == {"pdq": 0, "vpdq": 256}
    with pytest.raises(InvalidInputError, match="source is 201 characters"):
        EntryValidator().validate(NewEntry("md5", "0" * 32, source="s" * 201))


@pytest.mark.parametrize("name", ["01234567", "dead-beef", "ABCDEF", BRIDGE[:20], "x" * 33, ""])
def test_names_that_could_be_hash_fragments_are_not_echoed(name: str) -> None:
    assert describe_name(name) == f"({len(name)} characters, not a signal type name)"


@pytest.mark.parametrize("name", ["nosuch", "tmk", "video_md5", "pdq2"])
def test_names_with_a_non_hex_letter_are_echoed(name: str) -> None:
    assert describe_name(name) == repr(name)


def test_the_bank_name_message_says_ascii() -> None:
    with pytest.raises(InvalidInputError) as info:
        validate_bank_name("kné")
    assert info.value.message == (
        "bank name 'kné' is not valid: use 1-100 characters: ASCII letters A-Z and a-z, "
        "digits 0-9, '.', '_' or '-', starting with a letter or digit"
    )


def test_entry_ids_must_fit_a_64_bit_column() -> None:
    assert validate_entry_id(1) == 1
    assert validate_entry_id(2**63 - 1) == 2**63 - 1
    for bad in (0, -5, 2**63):
        with pytest.raises(NotFoundError, match=f"no bank entry with id {bad}"):
            validate_entry_id(bad)
    with pytest.raises(InvalidInputError):
        validate_entry_id("7")  # type: ignore[arg-type]


def test_a_huge_threshold_is_not_echoed() -> None:
    with pytest.raises(InvalidInputError) as info:
        validate_thresholds({"pdq": 10**30})
    assert info.value.message == "threshold for pdq must be between 0 and 256"
    with pytest.raises(InvalidInputError, match=r"between 0 and 256, got -1$"):
        validate_thresholds({"pdq": -1})
