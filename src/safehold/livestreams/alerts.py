"""What happens when a stream's decision fires: event, webhooks, alert row, stop callback.

1. :meth:`~safehold.actions.service.ActionService.record_matches` writes the match event
   (``origin = "stream"``, ``content_ref = "stream:<id>@<seconds>s"``) and one outbox row per
   enabled webhook action of the bank, in one transaction: the bank's webhooks are delivered
   by the service's existing deliverers, signed, at least once.
2. A ``stream_alerts`` row keeps the stream, bank entry, stream time, wall time and the k of
   n that fired, with the event id.
3. When the stream has a ``stop_url``, a JSON POST asks the platform to stop the stream:
   ``{"stream_id", "name", "bank", "entry_id", "category", "stream_seconds", "detected_at",
   "alert_id"}`` (no hash values, no distances). It goes through the same address policy as
   webhooks (:func:`safehold.fetching.transport.pinned_client`: public addresses unless
   ``fetch_allow_networks``, no redirects), in its own thread so decoding never waits on it;
   its outcome (``HTTP 200``, ``no answer within 10 s``, ...) is stored on the alert row.
   One attempt: a platform that must not miss it also subscribes a webhook, which retries.
"""

from __future__ import annotations

import json
import logging
import threading

import httpx

from safehold import __version__
from safehold.actions.service import ActionService
from safehold.errors import SafeholdError
from safehold.fetching.addresses import AddressPolicy
from safehold.fetching.transport import pinned_client
from safehold.livestreams.models import StreamAlert
from safehold.livestreams.store import StreamStore
from safehold.scanning.records import MatchInfo
from safehold.settings import Settings

log = logging.getLogger(__name__)


class AlertRecorder:
    """Records the alerts of streams in the database and calls stop URLs.

    Args:
        actions: match events and the outbox.
        store: the stream tables.
        settings: ``webhook_timeout_seconds`` (stop callback) and ``fetch_allow_networks``.
    """

    def __init__(self, actions: ActionService, store: StreamStore, settings: Settings) -> None:
        self.actions = actions
        self.store = store
        self.settings = settings
        self._policy = AddressPolicy.from_networks(settings.fetch_allow_networks)

    def record(
        self, stream_id: int, alert: StreamAlert, *, name: str = "", stop_url: str | None = None
    ) -> int:
        """Record ``alert`` of stream ``stream_id`` (steps 1-3 of the module docstring);
        return the alert id. The stop callback runs in the background.

        Raises:
            StorageError: the database fails.
        """
        match = MatchInfo(
            bank=alert.bank,
            entry_id=alert.entry_id,
            signal_type="pdq",
            distance=alert.distance,
            category=alert.category,
            source="",
        )
        event_ids = self.actions.record_matches(
            [match],
            content_ref=f"stream:{stream_id}@{alert.stream_seconds:.1f}s",
            origin="stream",
            api_key_id=None,
        )
        alert_id = self.store.add_alert(
            stream_id, alert, event_id=event_ids[0] if event_ids else None
        )
        log.warning(
            "stream %d alert: bank %s entry %d at %.1f s (%d of %d samples)",
            stream_id,
            alert.bank,
            alert.entry_id,
            alert.stream_seconds,
            alert.matched_frames,
            alert.window,
        )
        if stop_url:
            body = {
                "stream_id": stream_id,
                "name": name,
                "bank": alert.bank,
                "entry_id": alert.entry_id,
                "category": alert.category,
                "stream_seconds": alert.stream_seconds,
                "detected_at": alert.detected_at.isoformat(),
                "alert_id": alert_id,
            }
            threading.Thread(
                target=self._stop, args=(stop_url, body, alert_id), daemon=True
            ).start()
        return alert_id

    def _stop(self, url: str, body: dict[str, object], alert_id: int) -> None:
        timeout = self.settings.webhook_timeout_seconds
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"Safehold-Stream/{__version__}",
        }
        try:
            with pinned_client(self._policy, timeout) as client:
                answer = client.post(url, content=json.dumps(body).encode(), headers=headers)
            status = f"HTTP {answer.status_code}"
        except SafeholdError as exc:
            status = exc.message
        except httpx.TimeoutException:
            status = f"no answer within {timeout:g} s"
        except httpx.HTTPError as exc:
            status = f"request failed ({type(exc).__name__})"
        try:
            self.store.set_stop_status(alert_id, status)
        except SafeholdError as exc:
            log.warning("storing the stop callback's outcome failed: %s", exc.message)
