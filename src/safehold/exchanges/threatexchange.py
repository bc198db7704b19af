"""Meta ThreatExchange (Graph API ``threat_updates``) as an exchange source.

Protocol (Meta, "ThreatExchange API reference: threat_updates",
https://developers.facebook.com/docs/threat-exchange/reference/apis/threat-updates/, as used by
python-threatexchange ``exchanges/clients/fb_threatexchange/api.py`` ``get_threat_updates``):
``GET {base}/{privacy_group}/threat_updates/?access_token=<app|secret>&start_time=&stop_time=
&limit=&fields=...`` answers ``{"data": [...], "paging": {"cursors": {"after": ...},
"next": ...}}``; each item (``id``, ``indicator``, ``type``, ``last_updated``,
``should_delete``, ``status``, ``tags``) is the current state of one indicator. ``should_delete``
is a tombstone; ``status: NON_MALICIOUS`` (the indicator was judged benign) is treated as one too,
so a disputed hash never stays in a bank.

The checkpoint keeps ``start``, ``stop`` and the ``after`` cursor while paging, never the
``next`` URL (it carries the access token), and becomes ``{"start": stop}`` after the last page.

Why not python-threatexchange's ``ThreatExchangeAPI``: its GET sends through ``requests.get``
without the session's timeout (a hung server hangs the fetch forever; the source marks it
"Typo?"), prints URLs with the token in them in its verbose paths, and bypasses the
address-pinned, size-bounded client. Types: ``HASH_PDQ`` -> ``pdq``, ``HASH_MD5`` and
``HASH_VIDEO_MD5`` -> ``md5``, ``HASH_SHA1`` -> ``sha1``, ``HASH_SHA256`` -> ``sha256``,
``URI`` -> ``url``; others are skipped.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, ClassVar

from safehold.errors import InvalidInputError
from safehold.exchanges.base import (
    SOURCE_KINDS,
    Checkpoint,
    ExchangeSource,
    FetchBatch,
    RecordUpdate,
    SignalValue,
    checkpoint_int,
    require_text,
)
from safehold.exchanges.stopncii import parse_json_page

BASE_URL = "https://graph.facebook.com/v26.0"
TYPES = {
    "HASH_PDQ": "pdq",
    "HASH_MD5": "md5",
    "HASH_VIDEO_MD5": "md5",
    "HASH_SHA1": "sha1",
    "HASH_SHA256": "sha256",
    "URI": "url",
}
FIELDS = "id,indicator,type,last_updated,should_delete,status,tags"
PAGE_SIZE = 1000
#: Largest ``page_size`` setting accepted.
MAX_PAGE_SIZE = 10_000


def parse_updates(data: Any) -> tuple[list[RecordUpdate], int]:
    """``data`` of a ``threat_updates`` page -> ``(updates, skipped)``."""
    updates: list[RecordUpdate] = []
    skipped = 0
    for item in data if isinstance(data, list) else ():
        if not isinstance(item, dict) or not str(item.get("id") or "").strip():
            skipped += 1
            continue
        source_id = str(item["id"]).strip()[:200]
        if item.get("should_delete") or item.get("status") == "NON_MALICIOUS":
            updates.append(RecordUpdate(source_id, deleted=True))
            continue
        signal_type = TYPES.get(str(item.get("type")))
        indicator = item.get("indicator")
        if signal_type is None or not isinstance(indicator, str) or not indicator:
            skipped += 1
            continue
        updates.append(RecordUpdate(source_id, (SignalValue(signal_type, indicator),)))
    return updates, skipped


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@SOURCE_KINDS.register("threatexchange")
class ThreatExchangeSource(ExchangeSource):
    """Meta ThreatExchange: setting ``privacy_group`` (required), ``base_url``; credential
    ``access_token`` (``<app id>|<app secret>``)."""

    kind: ClassVar[str] = "threatexchange"
    setting_names = ("privacy_group", "base_url", "page_size")
    credential_names = ("access_token",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group = require_text(str(self.setting("privacy_group", "")), "privacy_group")
        if not self.group.isascii() or not self.group.isdigit():
            raise InvalidInputError("privacy_group must be the group's numeric id")
        self.base_url = self.url_setting("base_url", BASE_URL) or BASE_URL
        self.page_size = self.int_setting("page_size", PAGE_SIZE, 1, MAX_PAGE_SIZE)

    def fetch(self, checkpoint: Checkpoint | None) -> Iterator[FetchBatch]:
        """Yield one batch per page of updates from the checkpoint's ``start`` to now."""
        url = f"{self.base_url.rstrip('/')}/{self.group}/threat_updates/"
        start = checkpoint_int(checkpoint, "start", self.kind) or 0
        stop = checkpoint_int(checkpoint, "stop", self.kind) or int(time.time())
        after = str((checkpoint or {}).get("after") or "")
        while True:
            params: dict[str, str | int] = {
                "access_token": self.credentials["access_token"],
                "start_time": start,
                "stop_time": stop,
                "limit": self.page_size,
                "fields": FIELDS,
            }
            if after:
                params["after"] = after
            page = parse_json_page(self.http.get(url, params=params), "ThreatExchange")
            updates, skipped = parse_updates(page.get("data"))
            paging = _object(page.get("paging"))
            cursors = _object(paging.get("cursors"))
            after = str(cursors.get("after") or "")
            if paging.get("next") and after:
                yield FetchBatch(updates, {"start": start, "stop": stop, "after": after}, skipped)
                continue
            yield FetchBatch(updates, {"start": stop}, skipped, caught_up=True, as_of=float(stop))
            return
