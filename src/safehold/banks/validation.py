"""Checks on what callers put into banks: names, thresholds and entries.

Kept apart from ``service`` so the bank-file readers (``formats``) and the service apply the very
same rules. Error messages name the field and the line's position, never a hash value (hash
lists are confidential).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from safehold.banks.models import MATCH_ACTIONS, Category, NewEntry
from safehold.errors import InvalidInputError, InvalidSignalError, NotFoundError
from safehold.signals.base import SIGNAL_TYPES, SignalType, get_signal_type
from safehold.storage.tables import CATEGORY_PART_LENGTH, NAME_LENGTH, SOURCE_LENGTH

BANK_NAME_PATTERN = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{NAME_LENGTH - 1}}}")
"""Bank names: 1-100 characters, ASCII letters, digits, ``.``, ``_`` and ``-``, not starting
with punctuation (names appear in file names, URLs and shell commands unquoted)."""

BANK_NAME_RULE = (
    f"1-{NAME_LENGTH} characters: ASCII letters A-Z and a-z, digits 0-9, '.', '_' or '-', "
    "starting with a letter or digit"
)
"""The bank name rule in words, for messages and help texts."""

#: Largest database id (ids are signed 64-bit integers on SQLite and PostgreSQL).
MAX_ID = 2**63 - 1

_NAME_CHARS = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_HEX_AND_PUNCTUATION = frozenset("0123456789abcdefABCDEF_.-")


def validate_bank_name(name: str) -> str:
    """Return ``name`` if it is a valid bank name (:data:`BANK_NAME_RULE`).

    Raises:
        InvalidInputError: empty, longer than 100 characters, non-ASCII letters or other
            characters than letters, digits, ``.``, ``_`` and ``-`` (or starting with
            punctuation).
    """
    if not BANK_NAME_PATTERN.fullmatch(name):
        raise InvalidInputError(f"bank name {quote_name(name)} is not valid: use {BANK_NAME_RULE}")
    return name


def quote_name(name: str) -> str:
    """Quote a bank name (valid or not) for a message: ``repr``, cut to 100 characters."""
    if len(name) > NAME_LENGTH:
        return f"{name[:NAME_LENGTH]!r}... ({len(name)} characters)"
    return repr(name)


def validate_entry_id(entry_id: int) -> int:
    """Return ``entry_id`` if it can be a database id (1 to 2**63-1).

    Raises:
        NotFoundError: out of range (no entry can have that id), so callers report
            "no bank entry with id N" on every database instead of a driver overflow.
        InvalidInputError: not an integer.
    """
    if isinstance(entry_id, bool) or not isinstance(entry_id, int):
        raise InvalidInputError("an entry id must be an integer")
    if not 1 <= entry_id <= MAX_ID:
        raise NotFoundError(f"no bank entry with id {entry_id}")
    return entry_id


def describe_name(name: str) -> str:
    """Quote a would-be signal type name given as an option, unless it could be a hash.

    A mis-typed option or mis-ordered input can put (part of) a hash where a signal type
    belongs: only up to 32 identifier characters including at least one that is not a hex
    digit (``nosuch``, ``tmk``) are echoed; anything else is described by its length.
    Values read from bank-file rows are never echoed (see ``formats``).
    """
    if _NAME_CHARS.fullmatch(name) and not _HEX_AND_PUNCTUATION.issuperset(name):
        return repr(name)
    return f"({len(name)} characters, not a signal type name)"


def known_signal_types() -> str:
    """``"md5, pdq, sha256, vpdq"``: the registered signal type names, for messages."""
    return ", ".join(SIGNAL_TYPES.names())


def signal_type_class(name: str) -> type[SignalType]:
    """Return the registered signal type ``name``.

    Raises:
        InvalidInputError: no signal type of that name is registered (lists the known ones).
    """
    try:
        return get_signal_type(name)
    except NotFoundError:
        raise InvalidInputError(
            f"unknown signal type {describe_name(name)} (known: {known_signal_types()})"
        ) from None


def validate_thresholds(thresholds: Mapping[str, int] | None) -> dict[str, int]:
    """Return a checked copy of ``{signal_type: threshold}``.

    Each key must be a registered signal type and each value an ``int`` in
    ``0..signal_type.max_distance`` (exact types such as md5 only allow 0).

    Raises:
        InvalidInputError: unknown signal type, non-integer or out-of-range threshold.
    """
    checked: dict[str, int] = {}
    for name, value in (thresholds or {}).items():
        cls = signal_type_class(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInputError(f"threshold for {name} must be an integer")
        if not 0 <= value <= cls.max_distance:
            got = f", got {value}" if abs(value) < 10**12 else ""
            raise InvalidInputError(
                f"threshold for {name} must be between 0 and {cls.max_distance}{got}"
            )
        checked[name] = value
    return checked


def validate_text(field: str, value: str, limit: int) -> str:
    """Return ``value`` if it has at most ``limit`` characters and no NUL character.

    Raises:
        InvalidInputError: too long (the message gives the length, not the text), or a NUL
            character (PostgreSQL cannot store one in text; refused on every backend alike).
    """
    if "\x00" in value:
        raise InvalidInputError(f"{field} contains a NUL character")
    if len(value) > limit:
        raise InvalidInputError(f"{field} is {len(value)} characters long; the limit is {limit}")
    return value


def validate_category(category: Category | None) -> Category | None:
    """Return ``category`` if its scheme and code fit the columns (64 characters each).

    Raises:
        InvalidInputError: an empty or over-long scheme or code.
    """
    if category is None:
        return None
    for part, text in (("scheme", category.scheme), ("code", category.code)):
        if not text:
            raise InvalidInputError(f"category {part} is empty")
        validate_text(f"category {part}", text, CATEGORY_PART_LENGTH)
    return category


def validate_match_action(action: str) -> str:
    """Return ``action`` if it is one of :data:`~safehold.banks.models.MATCH_ACTIONS`.

    Raises:
        InvalidInputError: anything else (the message lists the allowed actions and never
            echoes the value).
    """
    if action not in MATCH_ACTIONS:
        raise InvalidInputError(f"match action must be {' or '.join(MATCH_ACTIONS)}")
    return action


def validate_quality(quality: int | None) -> int | None:
    """Return ``quality`` if it is None or an integer 0-100 (PDQ's quality scale).

    Raises:
        InvalidInputError: out of range or not an integer.
    """
    if quality is None:
        return None
    if isinstance(quality, bool) or not isinstance(quality, int) or not 0 <= quality <= 100:
        raise InvalidInputError("quality must be an integer from 0 to 100")
    return quality


class EntryValidator:
    """Validates :class:`NewEntry` objects, caching signal type look-ups.

    Raises (from :meth:`validate`):
        InvalidSignalError: unknown signal type, or a value that does not parse.
        InvalidInputError: bad quality, category, source or note.
    """

    def __init__(self) -> None:
        self._types: dict[str, type[SignalType]] = {}

    def signal_type(self, name: str) -> type[SignalType]:
        """Return the signal type class for ``name`` (cached).

        Raises:
            InvalidSignalError: no such signal type.
        """
        cls = self._types.get(name)
        if cls is None:
            try:
                cls = get_signal_type(name)
            except NotFoundError:
                raise InvalidSignalError(
                    f"unknown signal type {describe_name(name)} (known: {known_signal_types()})"
                ) from None
            self._types[name] = cls
        return cls

    def validate(self, entry: NewEntry) -> NewEntry:
        """Return ``entry`` with its value in canonical form, or raise."""
        canonical = self.signal_type(entry.signal_type).validate_signal(entry.value)
        validate_quality(entry.quality)
        validate_category(entry.category)
        validate_text("source", entry.source, SOURCE_LENGTH)
        validate_text("note", entry.note, len(entry.note))
        if canonical == entry.value:
            return entry
        return NewEntry(
            signal_type=entry.signal_type,
            value=canonical,
            quality=entry.quality,
            category=entry.category,
            source=entry.source,
            note=entry.note,
        )
