"""Exchanges: hash-list sources fetched on a schedule with checkpoints (docs/exchanges.md).

Importing this package registers the built-in sources: ``ncmec``, ``stopncii``,
``threatexchange``, ``list`` and ``safehold`` (federation with another Safehold).
"""

from safehold.exchanges import federation, filelist, ncmec, stopncii, threatexchange  # noqa: F401
from safehold.exchanges.base import (
    SOURCE_KINDS,
    Checkpoint,
    ExchangeSource,
    FetchBatch,
    RecordUpdate,
    SignalValue,
)
from safehold.exchanges.models import Exchange, ExchangeStatus, FetchReport
from safehold.exchanges.runner import ExchangeFetcher, start_exchange_fetcher
from safehold.exchanges.store import ExchangeService

__all__ = [
    "SOURCE_KINDS",
    "Checkpoint",
    "Exchange",
    "ExchangeFetcher",
    "ExchangeService",
    "ExchangeSource",
    "ExchangeStatus",
    "FetchBatch",
    "FetchReport",
    "RecordUpdate",
    "SignalValue",
    "start_exchange_fetcher",
]
