"""Row fields to a validated bank-entry row: the per-row hot path shared by every reader.

A :data:`Row` is a plain tuple in :class:`~safehold.banks.models.NewEntry` field order,
``(signal_type, value, quality, category, source, note)``: building a tuple costs a tenth of
building a frozen dataclass, which matters at millions of rows. Readers yield a ``Row`` or a
:class:`~safehold.errors.FormatError` per row; the public readers wrap rows into ``NewEntry``.

Hex-valued signal types (md5, sha1, sha256, pdq) are validated with ``bytes.fromhex`` (C speed);
anything else, and every value the fast check refuses, goes through the signal type's own
``validate_signal``, so messages and canonical forms are exactly the signal type's. Messages
never contain hash values (hash lists are confidential).
"""

from __future__ import annotations

from dataclasses import dataclass

from safehold.banks.models import Category, NewEntry
from safehold.banks.validation import EntryValidator, known_signal_types, validate_category
from safehold.errors import FormatError, InvalidInputError, SafeholdError
from safehold.signals.base import SignalType
from safehold.storage.tables import SOURCE_LENGTH

#: ``(signal_type, value, quality, category, source, note)``, the fields of ``NewEntry``.
Row = tuple[str, str, int | None, Category | None, str, str]
ReadItem = NewEntry | FormatError
RowItem = Row | FormatError

SIGNAL_TYPE_ALIASES = {"video_md5": "md5", "video_sha256": "sha256", "sha-1": "sha1",
                       "sha-256": "sha256"}  # fmt: skip
TE_OPINIONS_WITHOUT_CATEGORY = frozenset({"POSITIVE_CLASS", "INVESTIGATION_SEED"})
TE_NEGATIVE_OPINION = "NEGATIVE_CLASS"
_ASCII_DIGITS = frozenset("0123456789")
_CATEGORY_CACHE_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class OptionNames:
    """How messages name the importer's options: the CLI's flags or the API's parameters."""

    signal_type: str = "--signal-type"
    csv_format: str = "--format csv"


#: Option names of ``safehold bank import``.
CLI_OPTIONS = OptionNames()
#: Option names of ``POST /v1/banks/{bank_name}/import`` (query parameters).
API_OPTIONS = OptionNames(
    signal_type="the signal_type query parameter", csv_format="the query parameter format=csv"
)


def canonical_signal_type(name: str) -> str:
    """Map a signal type name from a file to Safehold's (``video_md5`` -> ``md5``)."""
    name = name.strip().lower()
    return SIGNAL_TYPE_ALIASES.get(name, name)


def parse_quality(text: str) -> int | None:
    """``""`` -> None, else an integer 0-100 in ASCII digits.

    Raises:
        InvalidInputError: anything else (a sign, an exponent, non-ASCII digits, over 100).
    """
    text = text.strip()
    if not text:
        return None
    if len(text) > 3 or not _ASCII_DIGITS.issuperset(text) or int(text) > 100:
        raise InvalidInputError("quality must be an integer from 0 to 100")
    return int(text)


def parse_category(text: str) -> Category | None:
    """A ``scheme:code`` cell, or a python-threatexchange opinion, as a category.

    ``POSITIVE_CLASS`` / ``INVESTIGATION_SEED`` and an empty cell give None.

    Raises:
        InvalidInputError: ``NEGATIVE_CLASS`` (a known false positive or test signal), or a
            cell that is not ``scheme:code`` or whose parts do not fit (64 characters each).
    """
    text = text.strip()
    if not text or text.upper() in TE_OPINIONS_WITHOUT_CATEGORY:
        return None
    if text.upper() == TE_NEGATIVE_OPINION:
        raise InvalidInputError(
            "the row is marked NEGATIVE_CLASS (a known false positive or test signal); not imported"
        )
    try:
        return validate_category(Category.parse(text))
    except InvalidInputError as exc:
        if "long" in exc.message:
            raise
        raise InvalidInputError(
            "category must be written scheme:code (e.g. ncmec-industry:A1) or be a "
            "python-threatexchange opinion such as POSITIVE_CLASS"
        ) from None


def join_note(note: str, tags: str) -> str:
    """The note, or ``tags: ...`` (space-separated tags) when there is no note."""
    note, tags = note.strip(), " ".join(tags.split())
    return note or (f"tags: {tags}" if tags else "")


class RowBuilder:
    """Turns the cells of one row into a validated :data:`Row` or a :class:`FormatError`.

    Args:
        signal_type: for rows without one (checked now: an unknown one raises before any row).
        category: for rows without a category of their own.
        source: for rows without a source of their own.
        options: how messages name the caller's options.

    Raises:
        InvalidSignalError: ``signal_type`` is not a registered signal type.
    """

    def __init__(
        self,
        signal_type: str | None,
        category: Category | None,
        source: str,
        options: OptionNames = CLI_OPTIONS,
    ) -> None:
        self.options = options
        self.signal_type = canonical_signal_type(signal_type) if signal_type else None
        self.category = category
        self.source = source
        self.validator = EntryValidator()
        self._hex_ok: dict[tuple[str, int], bool] = {}
        self._categories: dict[str, Category | InvalidInputError | None] = {}
        self._resolved: dict[str, tuple[str, type[SignalType] | None]] = {}
        self._qualities: dict[str, int | None] = {}  # good quality cells only (memoised)
        if self.signal_type is not None:
            self.validator.signal_type(self.signal_type)  # unknown type: fail before any row

    def _resolve(self, type_cell: str) -> tuple[str, type[SignalType] | None]:
        """``(signal type name, class)`` for a row's signal type cell (empty: the default);
        the class is None when there is no type or it is unknown. Memoised per cell text."""
        name = (canonical_signal_type(type_cell) if type_cell else "") or self.signal_type or ""
        cls = None
        if name:
            try:
                cls = self.validator.signal_type(name)
            except SafeholdError:
                cls = None
        if len(self._resolved) < _CATEGORY_CACHE_LIMIT:
            self._resolved[type_cell] = (name, cls)
        return name, cls

    def _fast_hex(self, cls: type[SignalType], value: str) -> str | None:
        """The canonical value when ``value`` is plain hex the signal type takes as such.

        Whether a type takes ``n`` hex digits as lower-cased hex is learnt once per
        (type, n) from the type's own ``validate_signal`` on all-zero and all-``A`` probes, so
        only types whose canonical form of hex is lower-case hex use this path.
        """
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            return None
        if len(raw) * 2 != len(value):  # fromhex skips spaces between digit pairs
            return None
        key = (cls.name, len(value))
        ok = self._hex_ok.get(key)
        if ok is None:
            ok = _takes_hex(cls, len(value))
            self._hex_ok[key] = ok
        return raw.hex() if ok else None

    def category_of(self, text: str) -> Category | None:
        """:func:`parse_category`, memoised (a file repeats a handful of categories).

        Raises:
            InvalidInputError: as :func:`parse_category`.
        """
        found = self._categories.get(text)
        if found is None and text not in self._categories:
            try:
                found = parse_category(text)
            except InvalidInputError as exc:
                found = exc
            if len(self._categories) < _CATEGORY_CACHE_LIMIT:
                self._categories[text] = found
        if isinstance(found, InvalidInputError):
            raise found
        return found

    def build(
        self,
        line: int | None,
        type_cell: str,
        value: str,
        type_where: str,
        quality: str = "",
        category: str = "",
        source: str = "",
        note: str = "",
    ) -> RowItem:
        """Validate one row's cells; ``type_where`` says where its signal type sits
        (``"in column 1"``), for the message about an unknown one (never echoed)."""
        value = value.strip()
        if not value:
            return FormatError("no signal value", line)
        resolved = self._resolved.get(type_cell)
        if resolved is None:
            resolved = self._resolve(type_cell)
        name, cls = resolved
        if cls is None:
            if not name:
                return FormatError(
                    f"no signal type (give one with {self.options.signal_type})", line
                )
            # Never echo it: a truncated or shifted row can put part of a hash here.
            return FormatError(
                f"unknown signal type {type_where} (known: {known_signal_types()})", line
            )
        try:
            canonical = self._fast_hex(cls, value)
            if canonical is None:
                canonical = cls.validate_signal(value)
            source = source.strip() or self.source
            if len(source) > SOURCE_LENGTH:
                raise InvalidInputError(
                    f"source is {len(source)} characters long; the limit is {SOURCE_LENGTH}"
                )
            if quality:
                known = self._qualities.get(quality)
                score = parse_quality(quality) if known is None else known
                if known is None and len(self._qualities) < _CATEGORY_CACHE_LIMIT:
                    self._qualities[quality] = score
            else:
                score = None
            return (
                name,
                canonical,
                score,
                (self.category_of(category) if category else None) or self.category,
                source,
                note,
            )
        except SafeholdError as exc:
            return FormatError(exc.message, line)


def _takes_hex(cls: type[SignalType], digits: int) -> bool:
    try:
        return (
            cls.validate_signal("0" * digits) == "0" * digits
            and cls.validate_signal("A" * digits) == "a" * digits
        )
    except SafeholdError:
        return False
