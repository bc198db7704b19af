"""Safe outbound HTTP: fetch content by URL and reach webhook receivers without SSRF.

``UrlFetcher`` fetches a caller's URL; ``pinned_client`` is the httpx client both it and the
webhook deliverer use. Rules and their sources: ``docs/service.md`` ("URL fetching").
"""

from __future__ import annotations

from safehold.fetching.addresses import AddressPolicy, refusal_reason
from safehold.fetching.fetcher import UrlFetcher
from safehold.fetching.transport import PinnedTransport, pinned_client
from safehold.fetching.urls import SafeUrl, check_webhook_url, parse_url

__all__ = [
    "AddressPolicy",
    "PinnedTransport",
    "SafeUrl",
    "UrlFetcher",
    "check_webhook_url",
    "parse_url",
    "pinned_client",
    "refusal_reason",
]
