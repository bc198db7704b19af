"""StreamService: register, list, inspect and stop monitored streams (API and CLI share it).

Registration vets everything before a row is written: the stream URL
(:func:`~safehold.livestreams.policy.check_stream_url`: scheme allow-list, host and resolved
addresses), the optional stop-stream callback (the webhook URL rules), the options
(:meth:`~safehold.livestreams.models.StreamConfig.from_dict`) and that every bank named
exists. Monitors pick the stream up from the database (:mod:`safehold.livestreams.pool`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine

from safehold.banks.service import BankService
from safehold.fetching.urls import check_webhook_url
from safehold.livestreams.alert_rows import StoredAlert
from safehold.livestreams.models import StreamConfig
from safehold.livestreams.policy import check_stream_url, parse_stream_url
from safehold.livestreams.store import StreamRecord, StreamStore
from safehold.settings import Settings


class StreamService:
    """Monitored streams in one database.

    Args:
        engine: a migrated database.
        settings: defaults of new streams, ``fetch_allow_networks``.
    """

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.store = StreamStore(engine)
        self.banks = BankService(engine)
        self.settings = settings

    def register(
        self,
        url: str,
        *,
        name: str = "",
        stop_url: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> StreamRecord:
        """Vet and store a stream to monitor (module docstring).

        Raises:
            UnsafeUrlError: a refused stream or stop URL (422).
            FetchError: the stream host does not resolve (502).
            InvalidInputError: bad options or name (422).
            NotFoundError: a bank named in the options does not exist (404).
        """
        checked = check_stream_url(url, self.settings)
        if stop_url:
            check_webhook_url(stop_url, self.settings)
        config = StreamConfig.from_dict(options or {}, self.settings)
        for bank in {*config.banks, *config.bank_decisions}:
            self.banks.get_bank(bank)
        return self.store.register(checked.url, config, name=name, stop_url=stop_url or None)

    def get(self, stream_id: int) -> StreamRecord:
        """One stream. Raises: NotFoundError."""
        return self.store.get(stream_id)

    def list_streams(
        self, *, status: str | None = None, after_id: int = 0, limit: int = 100
    ) -> list[StreamRecord]:
        """A page of streams (see :meth:`StreamStore.list_streams`)."""
        return self.store.list_streams(status=status, after_id=after_id, limit=limit)

    def stop(self, stream_id: int) -> StreamRecord:
        """Ask for a stream to be stopped. Raises: NotFoundError."""
        return self.store.request_stop(stream_id)

    def alerts(self, stream_id: int, *, after_id: int = 0, limit: int = 100) -> list[StoredAlert]:
        """A stream's alerts with ``id > after_id``. Raises: NotFoundError, InvalidInputError."""
        return self.store.list_alerts(stream_id, after_id=after_id, limit=limit)


def display_url(url: str) -> str:
    """``scheme://host:port`` of a stored stream URL (paths and queries may hold stream
    keys: never shown)."""
    try:
        return parse_stream_url(url).display
    except Exception:
        return "(unparsable)"
