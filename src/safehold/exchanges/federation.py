"""The subscriber side of federation: another Safehold's feed as an exchange source (``safehold``).

Settings: ``url`` (the publisher's base URL, e.g. ``https://safehold.example.org``),
``public_key`` (the publisher's Ed25519 public key, base64, as ``safehold exchange
federation-keygen`` printed it), ``publisher`` (the publisher id its pages must name; default
``safehold``) and ``page_size`` (1-5000, default 1000). Credential: ``api_key``, a ``peer`` key
of the publisher (stored encrypted like every exchange credential).

Each fetch asks ``GET {url}/v1/federation/feed?after=<checkpoint>&limit=<page_size>`` page after
page. Every page's signature is verified over its exact bytes, and the page is checked to name
the expected publisher and the ``after`` that was asked for, with a checkpoint that does not go
back (:mod:`safehold.exchanges.federation_protocol`), *before* anything of it is applied; a page
that fails is a :class:`~safehold.errors.FetchError` and the bank keeps its last good data.
The checkpoint is ``{"after": "<seq>.<entry id>"}``; records are the publisher's entries
(source id: the publisher's entry id), each carrying one signal and its category with scheme,
or deleted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from safehold.banks.models import Category
from safehold.errors import InvalidInputError
from safehold.exchanges.base import (
    SOURCE_KINDS,
    Checkpoint,
    ExchangeSource,
    FetchBatch,
    RecordUpdate,
    SignalValue,
    require_text,
)
from safehold.exchanges.federation_feed import DEFAULT_PAGE, MAX_PAGE
from safehold.exchanges.federation_protocol import (
    FeedPosition,
    check_page,
    open_envelope,
    parse_public_key,
)

FEED_PATH = "/v1/federation/feed"
DEFAULT_PUBLISHER = "safehold"


def parse_change(change: Any) -> RecordUpdate | None:
    """One feed change -> a record update (None: malformed, counted as skipped).

    A change is ``{"id", "deleted": true}`` or ``{"id", "signal_type", "value", "quality",
    "category", "deleted": false}`` (``category``: ``scheme:code`` or null).
    """
    if not isinstance(change, dict):
        return None
    source_id = change.get("id")
    if not isinstance(source_id, str) or not (source_id.isascii() and source_id.isdigit()):
        return None
    if change.get("deleted") is True:
        return RecordUpdate(source_id, deleted=True)
    signal_type, value, quality = (
        change.get("signal_type"),
        change.get("value"),
        change.get("quality"),
    )
    if not isinstance(signal_type, str) or not isinstance(value, str):
        return None
    if quality is not None and (not isinstance(quality, int) or isinstance(quality, bool)):
        return None
    category_text = change.get("category")
    try:
        category = Category.parse(category_text) if isinstance(category_text, str) else None
    except InvalidInputError:
        return None
    return RecordUpdate(source_id, (SignalValue(signal_type, value, quality),), category)


@SOURCE_KINDS.register("safehold")
class SafeholdFeedSource(ExchangeSource):
    """Another Safehold's federation feed (see the module docstring for its settings)."""

    kind: ClassVar[str] = "safehold"
    setting_names = ("url", "public_key", "publisher", "page_size")
    credential_names = ("api_key",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        url = self.url_setting("url") or require_text(None, "the setting url")
        self.url = url.rstrip("/") + FEED_PATH
        self.public_key = parse_public_key(require_text(self.setting("public_key"), "public_key"))
        self.publisher = require_text(self.setting("publisher", DEFAULT_PUBLISHER), "publisher")
        self.page_size = self.int_setting("page_size", DEFAULT_PAGE, 1, MAX_PAGE)

    def fetch(self, checkpoint: Checkpoint | None) -> Iterator[FetchBatch]:
        """Yield one verified batch per page after the checkpoint's position.

        Raises:
            FetchError: the publisher failed or a page failed verification (nothing of it
                is applied; earlier pages stay committed).
            InvalidInputError: a checkpoint this source did not make.
        """
        after = FeedPosition.parse(str((checkpoint or {}).get("after") or ""))
        what = f"the Safehold feed of {self.publisher!r}"
        headers = {"Authorization": f"Bearer {self.credentials['api_key']}"}
        while True:
            params: dict[str, str | int] = {"after": str(after), "limit": self.page_size}
            body = self.http.get(self.url, params=params, headers=headers)
            page = open_envelope(body, self.public_key, what)
            position = check_page(page, publisher=self.publisher, after=after, what=what)
            updates: list[RecordUpdate] = []
            skipped = 0
            for change in page["changes"]:
                update = parse_change(change)
                if update is None:
                    skipped += 1
                else:
                    updates.append(update)
            more = bool(page["more"])
            yield FetchBatch(updates, {"after": str(position)}, skipped, caught_up=not more)
            if not more:
                return
            after = position
