"""Domain types for banks and their entries, independent of the storage layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from safehold.errors import InvalidInputError

#: What a match in a bank tells an untrusted (``client`` scope) caller to do, mildest first.
MATCH_ACTIONS = ("review", "block")


@dataclass(frozen=True, slots=True, order=True)
class Category:
    """A category always stored with its scheme, e.g. ``ncmec-industry:A1`` or ``vics:1``.

    Schemes in use: ``ncmec-industry`` (NCMEC industry hash-sharing categories A1/A2/B1/B2),
    ``vics`` (Project VIC VICS categories 0-4), ``uk-caid`` (UK CAID A/B/C), ``local``.
    """

    scheme: str
    code: str

    @classmethod
    def parse(cls, text: str) -> Category:
        """Parse ``"scheme:code"``.

        Raises:
            InvalidInputError: no colon, an empty scheme or code, or a NUL character.
        """
        if "\x00" in text:
            raise InvalidInputError("the category contains a NUL character")
        scheme, sep, code = text.strip().partition(":")
        if not sep or not scheme.strip() or not code.strip():
            raise InvalidInputError(
                f"category {text!r} must be written scheme:code, e.g. ncmec-industry:A1"
            )
        return cls(scheme.strip().lower(), code.strip())

    @classmethod
    def parse_optional(cls, text: str | None) -> Category | None:
        """:meth:`parse` ``text``, or None when it is None or empty."""
        return cls.parse(text) if text else None

    def __str__(self) -> str:
        return f"{self.scheme}:{self.code}"


@dataclass(frozen=True, slots=True)
class Bank:
    """A named hash list.

    Attributes:
        thresholds: per signal type distance thresholds overriding the defaults
            (e.g. ``{"pdq": 24}``); absent types use the signal type's default.
        category: given to entries added without a category of their own (None: none).
        match_action: what an untrusted caller is told to do on a match in this bank:
            ``"review"`` or ``"block"`` (:data:`MATCH_ACTIONS`).
        shared: published to peer Safehold instances in the federation feed.
    """

    id: int
    name: str
    description: str
    source: str
    enabled: bool
    created_at: datetime
    thresholds: dict[str, int] = field(default_factory=dict)
    entry_count: int = 0
    updated_at: datetime | None = None
    category: Category | None = None
    match_action: str = "review"
    shared: bool = False


@dataclass(frozen=True, slots=True)
class NewEntry:
    """An entry to add to a bank; ``value`` must already be in canonical form."""

    signal_type: str
    value: str
    quality: int | None = None
    category: Category | None = None
    source: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class BankEntry:
    """A stored bank entry (a signal in a bank)."""

    id: int
    bank_id: int
    bank_name: str
    signal_type: str
    value: str
    quality: int | None
    category: Category | None
    source: str
    note: str
    added_at: datetime
    enabled: bool


@dataclass(frozen=True, slots=True)
class EntryCount:
    """How many entries of one signal type and category a bank holds (for ``bank show``)."""

    signal_type: str
    category: Category | None
    enabled: int
    disabled: int


@dataclass(frozen=True, slots=True)
class BankSummary:
    """A bank with its entry counts per signal type and category, never any hash values."""

    bank: Bank
    counts: list[EntryCount] = field(default_factory=list)

    def total(self, *, enabled_only: bool = False) -> int:
        """Number of entries (only enabled ones when ``enabled_only``)."""
        return sum(c.enabled + (0 if enabled_only else c.disabled) for c in self.counts)
