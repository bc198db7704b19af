"""HTTP for exchange sources: one bounded GET with credentials that never reach a message.

Sources talk to NCMEC, StopNCII, ThreatExchange and list URLs through :class:`ExchangeHttp`,
which sends through the same address-pinned transport as every other outbound request
(:mod:`safehold.fetching`: every resolved address public, or in ``fetch_allow_networks``), bounds
each response to ``exchange_max_response_bytes`` and each request to
``exchange_timeout_seconds``, and raises :class:`~safehold.errors.FetchError` with the exchange's
name and the HTTP status only: never the URL (ThreatExchange puts its token in the query
string) nor the body (it may hold hash values). Redirects are not followed (the services
documented here do not redirect; a redirect is reported as an error).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping

import httpx

from safehold.errors import ContentTooLargeError, FetchError
from safehold.fetching.addresses import AddressPolicy
from safehold.fetching.transport import pinned_client
from safehold.settings import Settings


class ExchangeHttp:
    """A small HTTP client for exchange sources; thread-safe.

    Args:
        settings: ``exchange_timeout_seconds``, ``exchange_max_response_bytes``,
            ``fetch_allow_networks``.
        name: the exchange's name, used in messages.
        verify: TLS verification: ``True`` (system CAs) or an ``ssl.SSLContext``.
    """

    def __init__(
        self, settings: Settings, name: str, *, verify: bool | ssl.SSLContext = True
    ) -> None:
        policy = AddressPolicy.from_networks(settings.fetch_allow_networks)
        self.name = name
        self.max_bytes = settings.exchange_max_response_bytes
        self.timeout = settings.exchange_timeout_seconds
        self._client = pinned_client(policy, self.timeout, verify=verify)

    def get(
        self,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> bytes:
        """GET ``url`` and return the body of a 2xx answer.

        Raises:
            FetchError: no answer, a non-2xx status (named in the message), a redirect.
            UnsafeUrlError: the URL names a refused scheme or address.
            ContentTooLargeError: the body is over ``exchange_max_response_bytes``.
        """
        try:
            with self._client.stream(
                "GET", url, params=params, headers=headers, auth=auth
            ) as response:
                if not response.is_success:
                    raise FetchError(f"exchange {self.name!r}: HTTP {response.status_code}")
                return self._read(response)
        except httpx.TimeoutException:
            raise FetchError(
                f"exchange {self.name!r}: no answer within {self.timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise FetchError(
                f"exchange {self.name!r}: request failed ({type(exc).__name__})"
            ) from None

    def _read(self, response: httpx.Response) -> bytes:
        parts: list[bytes] = []
        total = 0
        for chunk in response.iter_bytes():
            total += len(chunk)
            if total > self.max_bytes:
                raise ContentTooLargeError(
                    f"exchange {self.name!r}: answer larger than {self.max_bytes} bytes"
                )
            parts.append(chunk)
        return b"".join(parts)

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()
