"""Domain types of exchanges: the configured exchange, its status and a fetch's report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Exchange:
    """A configured exchange (never its credentials: only whether it has any).

    Attributes:
        kind: the source plug-in (``ncmec``, ``stopncii``, ``threatexchange``, ``list``).
        bank_name: the bank its signals are stored in.
        settings: the source's non-secret settings.
        interval_seconds: how often the service fetches it.
    """

    id: int
    name: str
    kind: str
    bank_id: int
    bank_name: str
    settings: dict[str, Any]
    has_credentials: bool
    enabled: bool
    interval_seconds: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ExchangeStatus:
    """An exchange's fetch status.

    Attributes:
        runs: fetches started so far.
        fetching: a fetcher holds the exchange's lease now.
        as_of: the source time up to which the bank is complete (None before the first full
            fetch); :meth:`lag_seconds` is measured from it.
        failures: consecutive failed fetches (0 after a success).
        records: source-record signals the exchange holds now (provenance rows).
        records_total, added_total, removed_total, skipped_total: running totals of record
            updates applied, bank entries added and removed, and records or signals skipped.
    """

    exchange: Exchange
    runs: int = 0
    fetching: bool = False
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    failures: int = 0
    as_of: datetime | None = None
    records: int = 0
    records_total: int = 0
    added_total: int = 0
    removed_total: int = 0
    skipped_total: int = 0

    def lag_seconds(self, now: datetime) -> float | None:
        """Seconds from :attr:`as_of` to ``now`` (None before the first complete fetch)."""
        return None if self.as_of is None else max(0.0, (now - self.as_of).total_seconds())


@dataclass(slots=True)
class FetchReport:
    """What one fetch did.

    Attributes:
        batches: batches applied and committed.
        records: record updates applied.
        added, removed: bank entries added and removed.
        skipped: records or signals the source or the validator could not use.
        caught_up: the fetch reached the end of what the source holds.
        swept: records deleted because a complete snapshot no longer listed them.
    """

    exchange: str
    batches: int = 0
    records: int = 0
    added: int = 0
    removed: int = 0
    skipped: int = 0
    caught_up: bool = False
    swept: int = 0
    notes: list[str] = field(default_factory=list)
