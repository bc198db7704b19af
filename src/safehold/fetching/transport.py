"""An httpx transport that resolves each host once, checks every address, and connects to
the checked address itself (no second DNS lookup, so DNS rebinding cannot swap in a private
address between check and connect).

The request keeps its original ``Host`` header; for https the original name goes in the TLS
SNI and is what the certificate is verified against (httpcore's ``sni_hostname`` request
extension, https://www.encode.io/httpcore/extensions/#request-extensions). Connections are
pooled per (scheme, host, address, port), so a TLS connection made for one name is never
reused for another name on the same address (the 32 most recently used pools are kept).
Environment proxies are ignored (a proxy would do its own resolution).
"""

from __future__ import annotations

import ssl
import threading
from collections import OrderedDict

import httpx

from safehold.fetching.addresses import AddressPolicy, IPAddress, resolve
from safehold.fetching.urls import parse_url

MAX_POOLS = 32  # distinct (scheme, host, address, port) connection pools kept open


class PinnedTransport(httpx.BaseTransport):
    """Transport enforcing :class:`AddressPolicy` on every request it sends.

    Args:
        policy: which addresses may be reached.
        verify: TLS verification: ``True`` (system CAs) or an ``ssl.SSLContext``.

    ``handle_request`` raises :class:`~safehold.errors.UnsafeUrlError` (refused URL or any
    refused address) or :class:`~safehold.errors.FetchError` (name does not resolve) before
    connecting; connection failures are httpx's own exceptions. Addresses are tried in the
    resolver's order until one connects.
    """

    def __init__(self, policy: AddressPolicy, *, verify: bool | ssl.SSLContext = True) -> None:
        self.policy = policy
        self.verify = verify
        self._pools: OrderedDict[tuple[str, str, str, int], httpx.HTTPTransport] = OrderedDict()
        self._lock = threading.Lock()

    def _pool(self, key: tuple[str, str, str, int]) -> httpx.HTTPTransport:
        with self._lock:
            pool = self._pools.pop(key, None)
            if pool is None:
                pool = httpx.HTTPTransport(verify=self.verify, trust_env=False, retries=0)
            self._pools[key] = pool
            # Evicted pools are dropped, not closed: another thread may still be reading a
            # response through one; their sockets close when the last reference goes.
            while len(self._pools) > MAX_POOLS:
                self._pools.popitem(last=False)
        return pool

    def addresses(self, url: httpx.URL) -> tuple[str, str, list[IPAddress]]:
        """Vet ``url`` and resolve it: return ``(display, host, addresses)``, all checked.

        Raises:
            UnsafeUrlError: refused URL, or one of its addresses is refused.
            FetchError: the name does not resolve.
        """
        safe = parse_url(str(url))
        found = [safe.ip] if safe.ip is not None else resolve(safe.host, safe.port, safe.display)
        for ip in found:
            self.policy.check(ip, safe.display)
        return safe.display, safe.host, found

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` to a checked address of its host (see the class docstring)."""
        original = request.url
        _display, host, found = self.addresses(original)
        scheme = original.scheme
        port = original.port or (443 if scheme == "https" else 80)
        if scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": host}
        last: httpx.ConnectError | None = None
        try:
            for ip in found:
                request.url = original.copy_with(host=str(ip))
                try:
                    return self._pool((scheme, host, str(ip), port)).handle_request(request)
                except httpx.ConnectError as exc:
                    last = exc
        finally:
            request.url = original
        assert last is not None  # found is never empty
        raise last

    def close(self) -> None:
        """Close every pooled connection."""
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            pool.close()


def pinned_client(
    policy: AddressPolicy, timeout: float, *, verify: bool | ssl.SSLContext = True
) -> httpx.Client:
    """Return an httpx client sending through :class:`PinnedTransport`.

    Redirects are not followed (callers follow them by hand, so each hop is vetted and
    counted); environment proxies and ``.netrc`` are ignored (``trust_env=False``).

    Args:
        timeout: seconds for each of connect, read, write and pool waits.
    """
    return httpx.Client(
        transport=PinnedTransport(policy, verify=verify),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
    )
