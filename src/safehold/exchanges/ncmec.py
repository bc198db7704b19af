"""NCMEC hash sharing (XML API v2) as an exchange source.

Protocol (NCMEC, "Hash Sharing API v2",
https://report.cybertip.org/hashsharing/v2/documentation.pdf, as implemented by
python-threatexchange ``exchanges/clients/ncmec/hash_api.py``): HTTP Basic authentication; ``GET
{base}/v2/entries?from=<UTC time>&to=<UTC time>`` answers a ``<queryResult>`` whose ``<images>``
and ``<videos>`` hold ``<image>``/``<video>`` entries (``<id>``, ``<classification>``,
``<fingerprints>`` with ``<md5>``, ``<sha1>``, ``<pdna>``, ``<pdq>``, ...) and
``<deletedImage>``/``<deletedVideo>`` tombstones, and ``<paging><next>`` the path of the next page
of the same time window. Entries are not in time order, so a window counts only when every page is
read: the checkpoint keeps ``from``, ``to`` and ``next`` while paging (a resume continues the same
window, as python-threatexchange's ``resume_paging_url`` warns) and becomes ``{"from": to}`` once
the last page is applied.

Why not python-threatexchange's ``NCMECHashAPI`` itself: it formats the window in local time
with a ``Z`` suffix (a wrong window wherever the clock's zone is not UTC), raises parse errors
with the whole response (hash values) in the message and logs bodies at DEBUG, has no base-URL
override (tests, proxies), and sends through ``requests`` instead of the address-pinned,
size-bounded client every Safehold fetch uses. Its parser is the reference the tests hold this
one to (``tests/exchanges/test_ncmec.py``).

Fingerprints Safehold can match are kept: ``md5``, ``sha1`` and ``pdq``; the others (PhotoDNA,
NetClean, video fingerprints) are not signal types here and are left out. ``classification`` (A1,
A2, B1, B2 in the industry environment) becomes the category ``ncmec-industry:<code>`` (the scheme
is the ``category_scheme`` setting).
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

from safehold.banks.models import Category
from safehold.errors import FetchError, InvalidInputError
from safehold.exchanges.base import (
    SOURCE_KINDS,
    Checkpoint,
    ExchangeSource,
    FetchBatch,
    RecordUpdate,
    SignalValue,
    checkpoint_int,
)

#: NCMEC environments (python-threatexchange ``NCMECEnvironment``): name -> base URL.
ENVIRONMENTS = {
    "industry": "https://report.cybertip.org/hashsharing",
    "industry-exploitative": "https://report.cybertip.org/exploitative-hashsharing",
    "ngo": "https://hashsharing.ncmec.org/npo",
    "test-industry": "https://exttest.cybertip.org/hashsharing",
}
#: NCMEC fingerprint element -> Safehold signal type.
FINGERPRINT_TYPES = {"md5": "md5", "sha1": "sha1", "pdq": "pdq"}
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_ENTRY_TAGS = frozenset({"image", "video", "deletedImage", "deletedVideo"})


def ncmec_time(epoch: int) -> str:
    """``epoch`` seconds as NCMEC's UTC time, e.g. ``2017-10-24T15:00:00Z``."""
    return datetime.fromtimestamp(epoch, UTC).strftime(_TIME_FORMAT)


def _strip_namespaces(root: ET.Element) -> ET.Element:
    for element in root.iter():
        element.tag = element.tag.rpartition("}")[2]
    return root


def parse_entries(body: bytes, scheme: str) -> tuple[list[RecordUpdate], int, str]:
    """Parse one ``/v2/entries`` page.

    Returns:
        ``(updates, skipped, next)``: updates in document order, the number of entries
        without an id or without a usable fingerprint, and the next page's path ("" on the
        last page).

    Raises:
        FetchError: the body is not XML (the message names the line, never the content).
    """
    try:
        root = _strip_namespaces(ET.fromstring(body))
    except ET.ParseError as exc:
        raise FetchError(
            f"NCMEC answered XML that does not parse (line {exc.position[0]})"
        ) from None
    updates: list[RecordUpdate] = []
    skipped = 0
    for group in (root.find("images"), root.find("videos")):
        for element in group if group is not None else ():
            if element.tag not in _ENTRY_TAGS:
                continue
            update = _entry(element, scheme)
            if update is None:
                skipped += 1
            else:
                updates.append(update)
    next_path = (root.findtext("paging/next") or "").strip()
    return updates, skipped, next_path


def _entry(element: ET.Element, scheme: str) -> RecordUpdate | None:
    entry_id = (element.findtext("id") or "").strip()
    if not entry_id or len(entry_id) > 200:
        return None
    if element.tag.startswith("deleted"):
        return RecordUpdate(entry_id, deleted=True)
    signals = tuple(
        SignalValue(FINGERPRINT_TYPES[f.tag], f.text.strip())
        for f in element.findall("fingerprints/*")
        if f.tag in FINGERPRINT_TYPES and f.text and f.text.strip()
    )
    if not signals:
        return None
    code = (element.findtext("classification") or "").strip()
    category = Category(scheme, code) if code else None
    return RecordUpdate(entry_id, signals, category)


@SOURCE_KINDS.register("ncmec")
class NcmecSource(ExchangeSource):
    """NCMEC hash sharing: settings ``environment`` (see :data:`ENVIRONMENTS`, default
    ``industry``) or ``base_url``, ``category_scheme`` (default ``ncmec-industry``);
    credentials ``username`` and ``password``."""

    kind: ClassVar[str] = "ncmec"
    setting_names = ("environment", "base_url", "category_scheme")
    credential_names = ("username", "password")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.base_url()  # refuses a bad base_url or environment now, not at the first fetch

    def base_url(self) -> str:
        """The API base URL (``base_url`` or the environment's).

        Raises:
            InvalidInputError: an unknown environment.
        """
        base = self.url_setting("base_url")
        if base:
            return base.rstrip("/")
        environment = self.setting("environment", "industry")
        if environment not in ENVIRONMENTS:
            known = ", ".join(ENVIRONMENTS)
            raise InvalidInputError(f"unknown NCMEC environment {environment!r} (known: {known})")
        return ENVIRONMENTS[environment]

    def fetch(self, checkpoint: Checkpoint | None) -> Iterator[FetchBatch]:
        """Yield one batch per page of the window from the checkpoint's ``from`` to now."""
        base = self.base_url()
        scheme = str(self.setting("category_scheme", "ncmec-industry"))
        start = checkpoint_int(checkpoint, "from", self.kind) or 0
        end = checkpoint_int(checkpoint, "to", self.kind) or int(time.time())
        next_path = str((checkpoint or {}).get("next") or "")
        auth = (self.credentials["username"], self.credentials["password"])
        while True:
            if next_path:
                if not next_path.startswith("/v2/entries?"):
                    raise InvalidInputError("the ncmec checkpoint is not one this source made")
                body = self.http.get(base + next_path, auth=auth)
            else:
                params = {"from": ncmec_time(start), "to": ncmec_time(end)}
                body = self.http.get(f"{base}/v2/entries", params=params, auth=auth)
            updates, skipped, next_path = parse_entries(body, scheme)
            if next_path:
                yield FetchBatch(
                    updates, {"from": start, "to": end, "next": next_path}, skipped=skipped
                )
                continue
            yield FetchBatch(updates, {"from": end}, skipped, caught_up=True, as_of=float(end))
            return
