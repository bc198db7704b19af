"""Shapes of the exchange routes: an exchange with its fetch status, never its credentials."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from safehold.exchanges.models import ExchangeStatus


class ExchangePublic(BaseModel):
    """An exchange and its status (``lag_seconds``: now minus the source time up to which the
    bank is complete; null before the first complete fetch)."""

    name: str
    kind: str
    bank: str
    enabled: bool
    interval_seconds: int
    has_credentials: bool
    settings: dict[str, Any]
    fetching: bool
    runs: int
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    failures: int
    as_of: datetime | None
    lag_seconds: float | None
    records: int
    records_total: int
    added_total: int
    removed_total: int
    skipped_total: int

    @classmethod
    def of(cls, status: ExchangeStatus, now: datetime) -> ExchangePublic:
        """Build from a status (``now`` for the lag)."""
        e = status.exchange
        return cls(
            name=e.name,
            kind=e.kind,
            bank=e.bank_name,
            enabled=e.enabled,
            interval_seconds=e.interval_seconds,
            has_credentials=e.has_credentials,
            settings=e.settings,
            fetching=status.fetching,
            runs=status.runs,
            last_attempt_at=status.last_attempt_at,
            last_success_at=status.last_success_at,
            last_error=status.last_error,
            last_error_at=status.last_error_at,
            failures=status.failures,
            as_of=status.as_of,
            lag_seconds=status.lag_seconds(now),
            records=status.records,
            records_total=status.records_total,
            added_total=status.added_total,
            removed_total=status.removed_total,
            skipped_total=status.skipped_total,
        )
