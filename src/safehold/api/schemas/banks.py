"""Shapes of the bank and bank-entry routes (``routes/banks.py``, ``routes/entries.py``).

Only ``admin`` and ``curator`` keys reach these routes: bank contents are confidential, and
entries carry their hash values here because curators curate hashes. Checks that need the
signal type registry or the database (thresholds, hash values, names taken) are the bank
service's; here only shapes and bounds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from safehold.banks.entry_reads import MAX_PAGE
from safehold.banks.importing import ImportReport
from safehold.banks.models import Bank, BankEntry, BankSummary
from safehold.banks.validation import MAX_ID
from safehold.storage.tables import CATEGORY_PART_LENGTH, NAME_LENGTH, SOURCE_LENGTH

MatchAction = Literal["review", "block"]
#: Longest description or note accepted through the API (characters).
TEXT_LENGTH = 10_000
#: Longest hash value accepted in one entry (a vPDQ of a 4-hour video is about 1.2 MB).
VALUE_LENGTH = 16 * 1024 * 1024
#: Most ids in one bulk delete.
MAX_DELETE_IDS = 10_000

_CATEGORY = Field(
    default=None,
    max_length=2 * CATEGORY_PART_LENGTH + 1,
    description="scheme:code, e.g. ncmec-industry:A1",
    examples=["ncmec-industry:A1"],
)


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BankCreate(_Input):
    """A new bank."""

    name: str = Field(min_length=1, max_length=NAME_LENGTH, examples=["ncmec"])
    description: str = Field(default="", max_length=TEXT_LENGTH)
    source: str = Field(default="", max_length=SOURCE_LENGTH)
    thresholds: dict[str, int] = Field(
        default_factory=dict, description="distance threshold per signal type, e.g. {pdq: 24}"
    )
    category: str | None = _CATEGORY
    match_action: MatchAction = Field(
        default="review", description="what an untrusted caller is told to do on a match"
    )
    enabled: bool = True


class BankUpdate(_Input):
    """Fields to change; absent fields stay. ``thresholds`` replaces the whole mapping;
    ``category: null`` removes the bank's category (entries keep theirs)."""

    description: str | None = Field(default=None, max_length=TEXT_LENGTH)
    source: str | None = Field(default=None, max_length=SOURCE_LENGTH)
    thresholds: dict[str, int] | None = None
    category: str | None = _CATEGORY
    match_action: MatchAction | None = None
    enabled: bool | None = None
    shared: bool | None = Field(
        default=None,
        description="publish the bank to peer Safehold servers in the federation feed "
        "(docs/exchanges.md); changing it needs the admin scope",
    )


class BankPublic(BaseModel):
    """A bank as curators see it."""

    id: int
    name: str
    description: str
    source: str
    enabled: bool
    thresholds: dict[str, int]
    category: str | None
    match_action: str
    entry_count: int
    shared: bool
    created_at: datetime
    updated_at: datetime | None

    @classmethod
    def of(cls, bank: Bank) -> BankPublic:
        """From the domain record."""
        return cls(
            id=bank.id,
            name=bank.name,
            description=bank.description,
            source=bank.source,
            enabled=bank.enabled,
            thresholds=bank.thresholds,
            category=str(bank.category) if bank.category else None,
            match_action=bank.match_action,
            entry_count=bank.entry_count,
            shared=bank.shared,
            created_at=bank.created_at,
            updated_at=bank.updated_at,
        )


class SignalTypeCount(BaseModel):
    """Entries of one signal type (and category, in ``by_category``)."""

    signal_type: str
    category: str | None = None
    enabled: int
    disabled: int


class BankSummaryPublic(BaseModel):
    """A bank with its entry counts, never any hash value."""

    bank: BankPublic
    total: int
    enabled: int
    by_signal_type: list[SignalTypeCount]
    by_category: list[SignalTypeCount]

    @classmethod
    def of(cls, summary: BankSummary) -> BankSummaryPublic:
        """From the domain summary."""
        per_type: dict[str, list[int]] = {}
        for c in summary.counts:
            pair = per_type.setdefault(c.signal_type, [0, 0])
            pair[0] += c.enabled
            pair[1] += c.disabled
        return cls(
            bank=BankPublic.of(summary.bank),
            total=summary.total(),
            enabled=summary.total(enabled_only=True),
            by_signal_type=[
                SignalTypeCount(signal_type=t, enabled=e, disabled=d)
                for t, (e, d) in sorted(per_type.items())
            ],
            by_category=[
                SignalTypeCount(
                    signal_type=c.signal_type,
                    category=str(c.category) if c.category else None,
                    enabled=c.enabled,
                    disabled=c.disabled,
                )
                for c in summary.counts
            ],
        )


class EntryCreate(_Input):
    """One entry to add (``value`` in any case; stored canonical)."""

    signal_type: str = Field(min_length=1, max_length=32, examples=["pdq"])
    value: str = Field(min_length=1, max_length=VALUE_LENGTH)
    category: str | None = _CATEGORY
    source: str = Field(default="", max_length=SOURCE_LENGTH)
    note: str = Field(default="", max_length=TEXT_LENGTH)
    quality: int | None = Field(default=None, ge=0, le=100)


class EntryUpdate(_Input):
    """Fields to change; absent fields stay; ``category: null`` removes the category."""

    category: str | None = _CATEGORY
    note: str | None = Field(default=None, max_length=TEXT_LENGTH)
    enabled: bool | None = None


class EntryPublic(BaseModel):
    """A bank entry with its hash value (curators only)."""

    id: int
    bank: str
    signal_type: str
    value: str
    quality: int | None
    category: str | None
    source: str
    note: str
    enabled: bool
    added_at: datetime

    @classmethod
    def of(cls, entry: BankEntry) -> EntryPublic:
        """From the domain record."""
        return cls(
            id=entry.id,
            bank=entry.bank_name,
            signal_type=entry.signal_type,
            value=entry.value,
            quality=entry.quality,
            category=str(entry.category) if entry.category else None,
            source=entry.source,
            note=entry.note,
            enabled=entry.enabled,
            added_at=entry.added_at,
        )


class EntryPage(BaseModel):
    """One page of entries in id order; pass ``next_after_id`` as ``after_id`` for the next
    (null: this was the last page)."""

    entries: list[EntryPublic]
    next_after_id: int | None


class EntryIds(_Input):
    """Entries to delete (ids of other banks and unknown ids are skipped)."""

    ids: list[int] = Field(max_length=MAX_DELETE_IDS)


class EntriesDeleted(BaseModel):
    """How many entries a bulk delete removed."""

    deleted: int


class RowErrorPublic(BaseModel):
    """A bad row of an import: its 1-based line and why (never its values)."""

    line: int | None
    message: str


class ImportResult(BaseModel):
    """What a bulk import did: ``errors`` lists the first 100 bad rows, ``error_count`` all."""

    added: int
    duplicates: int
    errors: list[RowErrorPublic]
    error_count: int
    bytes_read: int = Field(description="size of the request body")
    resampled: str | None = Field(
        default=None, description="how vPDQ entries were thinned to the scanner's sampling"
    )

    @classmethod
    def of(cls, report: ImportReport, size: int) -> ImportResult:
        """From the domain report and the body size."""
        return cls(
            added=report.added,
            duplicates=report.duplicates,
            errors=[RowErrorPublic(line=e.line, message=e.message) for e in report.errors],
            error_count=report.error_count,
            bytes_read=size,
            resampled=report.resampled,
        )


__all__ = [
    "MAX_DELETE_IDS",
    "MAX_ID",
    "MAX_PAGE",
    "BankCreate",
    "BankPublic",
    "BankSummaryPublic",
    "BankUpdate",
    "EntriesDeleted",
    "EntryCreate",
    "EntryIds",
    "EntryPage",
    "EntryPublic",
    "EntryUpdate",
    "ImportResult",
]
