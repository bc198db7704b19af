"""StopNCII.org hash exchange (JSON REST API) as an exchange source.

Protocol (as implemented by python-threatexchange ``exchanges/clients/stopncii/api.py``):
``GET {base}/FetchHashes?startTimestamp=<epoch s>&pageSize=<n>[&nextPageToken=<t>]`` with the
headers ``Ocp-Apim-Subscription-Key`` and ``x-functions-key`` answers
``{"count", "nextPageToken", "nextSetTimestamp", "hasMoreRecords", "hashRecords": [...]}``;
each record (``signalType``, ``hashValue``, ``hashStatus``, ``lastModtimestamp``, ...) is the
whole current state of one hash and replaces what an earlier page said. ``hashStatus``
``Withdrawn`` or ``Deleted`` means the person withdrew it: the hash leaves the bank.

The checkpoint keeps ``start`` and the page token while paging and becomes
``{"start": nextSetTimestamp}`` after the last page. Page tokens are not valid for long
(python-threatexchange's note on ``nextPageToken``): a resume whose token is refused starts the
same window again from ``start``, which only repeats updates (applying them is idempotent).

Why not python-threatexchange's ``StopNCIIAPI``: it logs every malformed record, hash value
included, at ERROR level and whole pages at DEBUG (hash lists are confidential), and sends through
``requests`` rather than the address-pinned, size-bounded client. Signal types: ``ImagePDQ`` ->
``pdq``, ``VideoMD5`` -> ``md5``, ``URL`` -> ``url``; the rest are skipped. The source id of a
record is ``<signalType>:`` plus the first 32 hex digits of the SHA-256 of its hash value, so
provenance listings never show a hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any, ClassVar

from safehold.errors import FetchError
from safehold.exchanges.base import (
    SOURCE_KINDS,
    Checkpoint,
    ExchangeSource,
    FetchBatch,
    RecordUpdate,
    SignalValue,
    checkpoint_int,
    source_time,
)

BASE_URL = "https://api.stopncii.org/v1"
#: python-threatexchange ``StopNCIIAPI.DEFAULT_START_TIME`` and ``fetch_hashes`` page size.
DEFAULT_START = 10
PAGE_SIZE = 800
#: Largest ``page_size`` setting accepted (pages are bounded by the response size anyway).
MAX_PAGE_SIZE = 10_000
SIGNAL_TYPES = {"ImagePDQ": "pdq", "VideoMD5": "md5", "URL": "url"}
DELETED_STATUSES = frozenset({"Withdrawn", "Deleted"})


def hash_source_id(prefix: str, value: str) -> str:
    """``<prefix>:<32 hex digits of SHA-256(value)>``: a stable id that does not show the hash."""
    return f"{prefix}:{hashlib.sha256(value.encode('utf-8')).hexdigest()[:32]}"


def parse_json_page(body: bytes, what: str) -> dict[str, Any]:
    """Decode a JSON object answer.

    Raises:
        FetchError: not JSON, or not an object (the message never quotes the body).
    """
    try:
        page = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise FetchError(f"{what} answered something that is not JSON") from None
    if not isinstance(page, dict):
        raise FetchError(f"{what} answered JSON that is not an object")
    return page


def parse_records(records: Any) -> tuple[list[RecordUpdate], int]:
    """``hashRecords`` -> ``(updates, skipped)``; malformed records and unsupported signal
    types are counted in ``skipped``."""
    updates: list[RecordUpdate] = []
    skipped = 0
    for record in records if isinstance(records, list) else ():
        kind = record.get("signalType") if isinstance(record, dict) else None
        value = record.get("hashValue") if isinstance(record, dict) else None
        if kind not in SIGNAL_TYPES or not isinstance(value, str) or not value:
            skipped += 1
            continue
        source_id = hash_source_id(str(kind), value)
        if record.get("hashStatus") in DELETED_STATUSES:
            updates.append(RecordUpdate(source_id, deleted=True))
        else:
            updates.append(RecordUpdate(source_id, (SignalValue(SIGNAL_TYPES[kind], value),)))
    return updates, skipped


@SOURCE_KINDS.register("stopncii")
class StopnciiSource(ExchangeSource):
    """StopNCII.org: setting ``base_url`` (default the production API); credentials
    ``subscription_key`` and ``fetch_function_key``."""

    kind: ClassVar[str] = "stopncii"
    setting_names = ("base_url", "page_size")
    credential_names = ("subscription_key", "fetch_function_key")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.base_url = self.url_setting("base_url", BASE_URL) or BASE_URL
        self.page_size = self.int_setting("page_size", PAGE_SIZE, 1, MAX_PAGE_SIZE)

    def fetch(self, checkpoint: Checkpoint | None) -> Iterator[FetchBatch]:
        """Yield one batch per page since the checkpoint's ``start``."""
        url = f"{self.base_url.rstrip('/')}/FetchHashes"
        headers = {
            "Ocp-Apim-Subscription-Key": self.credentials["subscription_key"],
            "x-functions-key": self.credentials["fetch_function_key"],
        }
        start = checkpoint_int(checkpoint, "start", self.kind) or DEFAULT_START
        token = str((checkpoint or {}).get("page") or "")
        size = self.page_size
        while True:
            params: dict[str, str | int] = {"startTimestamp": start, "pageSize": size}
            if token:
                params["nextPageToken"] = token
            try:
                body = self.http.get(url, params=params, headers=headers)
            except FetchError:
                if not token or checkpoint is None or token != checkpoint.get("page"):
                    raise
                token = ""  # an expired token from the checkpoint: start the window again
                checkpoint = None
                continue
            checkpoint = None
            page = parse_json_page(body, "StopNCII")
            updates, skipped = parse_records(page.get("hashRecords"))
            token = str(page.get("nextPageToken") or "")
            if page.get("hasMoreRecords") and token:
                yield FetchBatch(updates, {"start": start, "page": token}, skipped)
                continue
            if page.get("nextSetTimestamp") is None:
                raise FetchError("StopNCII answered a last page without nextSetTimestamp")
            after = source_time(page["nextSetTimestamp"], "StopNCII's nextSetTimestamp")
            yield FetchBatch(updates, {"start": after}, skipped, caught_up=True, as_of=float(after))
            return
