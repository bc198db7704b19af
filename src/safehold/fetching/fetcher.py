"""Fetch content a caller names by URL (``POST /v1/match`` with a URL), within hard limits.

Each hop is vetted by :mod:`safehold.fetching.urls` and connected through
:class:`~safehold.fetching.transport.PinnedTransport` (every resolved address public, or in
``fetch_allow_networks``). Redirects are followed by hand, at most ``fetch_max_redirects``,
each hop checked the same way. The body is streamed and cut at ``fetch_max_bytes``; the whole
fetch (all hops) is bounded by ``fetch_timeout_seconds``: the deadline is checked after every
network read, and one read may wait at most a quarter of the timeout (at least 1 s), so a
server trickling bytes is cut off within 1.25 x the timeout. Rules: ``docs/service.md``.
"""

from __future__ import annotations

import ssl
import time
from types import TracebackType

import httpx

from safehold.errors import ContentTooLargeError, FetchError, UnsafeUrlError
from safehold.fetching.addresses import AddressPolicy
from safehold.fetching.transport import pinned_client
from safehold.fetching.urls import parse_url
from safehold.settings import Settings


def _describe(exc: httpx.HTTPError) -> str:
    """A short reason for an httpx failure that never quotes the URL."""
    if isinstance(exc, httpx.ConnectError):
        return "the connection failed"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server broke the HTTP protocol"
    return type(exc).__name__


class UrlFetcher:
    """Fetches http(s) URLs safely; thread-safe (the API calls it from a threadpool).

    Args:
        settings: ``fetch_max_bytes``, ``fetch_timeout_seconds``, ``fetch_max_redirects``,
            ``fetch_allow_networks``.
        verify: TLS verification: ``True`` (system CAs) or an ``ssl.SSLContext``.

    Raises (constructor):
        ConfigurationError: ``fetch_allow_networks`` holds something that is not a CIDR.
    """

    def __init__(self, settings: Settings, *, verify: bool | ssl.SSLContext = True) -> None:
        self.policy = AddressPolicy.from_networks(settings.fetch_allow_networks)
        self.max_bytes = settings.fetch_max_bytes
        self.timeout = settings.fetch_timeout_seconds
        self.max_redirects = settings.fetch_max_redirects
        self._client = pinned_client(self.policy, self.timeout, verify=verify)

    def fetch(self, url: str, *, max_bytes: int | None = None) -> bytes:
        """Return the body of ``url`` after following redirects.

        Args:
            max_bytes: a tighter bound than ``fetch_max_bytes`` for this call (the smaller
                one applies).

        Raises:
            UnsafeUrlError: the URL or a redirect is refused (scheme, credentials, host form,
                a non-public address); 422.
            FetchError: the name does not resolve, the connection fails, the server answers
                other than 2xx, too many redirects, or the time bound runs out; 502.
            ContentTooLargeError: the body is larger than the byte bound; 413.
        """
        limit = self.max_bytes if max_bytes is None else min(max_bytes, self.max_bytes)
        deadline = time.monotonic() + self.timeout
        current = parse_url(url)
        for hop in range(self.max_redirects + 1):
            try:
                return self._get(current.url, current.display, limit, deadline)
            except _Redirect as redirect:
                try:
                    current = parse_url(str(current.url.join(redirect.location)))
                except UnsafeUrlError as exc:
                    raise UnsafeUrlError(f"redirect {hop + 1}: {exc.message}") from None
                except Exception:
                    raise FetchError(f"{current.display} sent a malformed redirect") from None
            except UnsafeUrlError as exc:
                if hop == 0:
                    raise
                raise UnsafeUrlError(f"redirect {hop}: {exc.message}") from None
        raise FetchError(
            f"more than {self.max_redirects} redirects, starting at {url_display(url)}"
        )

    def _get(self, url: httpx.URL, display: str, limit: int, deadline: float) -> bytes:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(f"fetching took longer than {self.timeout:g} s")
        # Each read waits at most a quarter of the budget, so a trickling server is caught
        # by the deadline check in _read soon after the budget is spent.
        read = min(remaining, max(1.0, self.timeout / 4))
        request = self._client.build_request(
            "GET",
            url,
            headers={"Accept-Encoding": "identity"},
            timeout=httpx.Timeout(remaining, read=read),
        )
        try:
            response = self._client.send(request, stream=True)
        except httpx.TimeoutException:
            raise FetchError(f"{display} did not answer within {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise FetchError(f"cannot fetch {display}: {_describe(exc)}") from None
        try:
            if response.is_redirect:
                raise _Redirect(response.headers["location"])
            if not response.is_success:
                raise FetchError(f"{display} answered HTTP {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise ContentTooLargeError(f"{display} sends more than {limit} bytes")
            return self._read(response, display, limit, deadline)
        finally:
            response.close()

    def _read(self, response: httpx.Response, display: str, limit: int, deadline: float) -> bytes:
        parts: list[bytes] = []
        total = 0
        try:
            for chunk in response.iter_raw():  # every network read: the deadline is checked often
                total += len(chunk)
                if total > limit:
                    raise ContentTooLargeError(f"{display} sends more than {limit} bytes")
                if time.monotonic() > deadline:
                    raise FetchError(f"fetching took longer than {self.timeout:g} s")
                parts.append(chunk)
        except httpx.TimeoutException:
            raise FetchError(f"{display} did not answer within {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise FetchError(f"reading {display} failed: {_describe(exc)}") from None
        return b"".join(parts)

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()

    def __enter__(self) -> UrlFetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _Redirect(Exception):  # noqa: N818 (control flow, never escapes UrlFetcher.fetch)
    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def url_display(text: str) -> str:
    """Return ``scheme://host:port`` of a URL for messages, or ``"the URL"`` when it does not
    parse (never the credentials, path or query)."""
    try:
        return parse_url(text).display
    except UnsafeUrlError:
        return "the URL"
