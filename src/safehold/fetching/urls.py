"""Parse and vet a URL before Safehold connects anywhere: scheme, credentials, host form.

Only ``http`` and ``https`` are fetched (no ``file:``, ``ftp:``, ``gopher:``, ...). URLs with
credentials (``user:password@host``) are refused outright: they are a classic trick
(``http://example.com@127.0.0.1/`` goes to 127.0.0.1) and credentials must not be stored or
echoed. Host names must be plain DNS names or IP literals; ambiguous numeric forms that the C
resolver reads as IPv4 (``2130706433``, ``0x7f.1``, ``127.1``) and percent-encoded or zoned
hosts are refused. Messages show only ``scheme://host:port``, never the path or query (they
may carry tokens).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import httpx

from safehold.errors import UnsafeUrlError
from safehold.fetching.addresses import AddressPolicy, IPAddress
from safehold.settings import Settings

MAX_URL_LENGTH = 2048
ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True, slots=True)
class SafeUrl:
    """A URL that passed the syntax checks (addresses are checked when connecting).

    Attributes:
        url: the parsed URL (credentials-free).
        host: ASCII host (IDNA-encoded name, or IP literal without brackets).
        port: explicit or the scheme's default.
        ip: the host as an address when it is an IP literal, else None.
        display: ``scheme://host:port`` for messages.
    """

    url: httpx.URL
    host: str
    port: int
    ip: IPAddress | None
    display: str


def _scheme_of(text: str) -> str:
    scheme, sep, _ = text.partition(":")
    return scheme.lower() if sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme) else ""


def _check_host(host: str, display: str) -> IPAddress | None:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
            raise UnsafeUrlError(f"refused {display}: IPv6 zone ids are not allowed")
        return ip
    labels = host.rstrip(".").split(".")
    if not host or not all(_LABEL.match(label) for label in labels):
        raise UnsafeUrlError(f"refused {display}: the host is not a valid DNS name")
    last = labels[-1]
    if last.isdigit() or last.startswith("0x"):
        raise UnsafeUrlError(f"refused {display}: numeric host names must be dotted IPv4")
    return None


def parse_url(text: str) -> SafeUrl:
    """Parse ``text`` and apply the syntax rules in the module docstring.

    Raises:
        UnsafeUrlError: not http(s), credentials present, no host, a refused host form,
            or longer than 2048 characters.
    """
    if not isinstance(text, str) or not text.strip():
        raise UnsafeUrlError("the URL is empty")
    text = text.strip()
    if len(text) > MAX_URL_LENGTH:
        raise UnsafeUrlError(f"the URL is longer than {MAX_URL_LENGTH} characters")
    scheme = _scheme_of(text)
    if scheme not in ALLOWED_SCHEMES:
        shown = f"{scheme!r} URLs" if scheme and len(scheme) <= 20 else "URLs of this scheme"
        raise UnsafeUrlError(f"{shown} are refused: only http and https are fetched")
    try:
        url = httpx.URL(text)
    except (httpx.InvalidURL, ValueError):
        raise UnsafeUrlError(f"the {scheme} URL does not parse") from None
    if url.userinfo:
        raise UnsafeUrlError("URLs with credentials (user@host) are refused")
    try:
        httpx.Request("GET", url)  # encodes the host: a malformed IDNA label fails here
    except (UnicodeError, httpx.InvalidURL, ValueError):
        raise UnsafeUrlError(
            f"the {scheme} URL's host is not a valid (internationalised) domain name"
        ) from None
    host = url.raw_host.decode("ascii", "replace").lower()
    port = url.port if url.port is not None else DEFAULT_PORTS[scheme]
    if not 1 <= port <= 65535:
        raise UnsafeUrlError(f"the {scheme} URL's port {port} is not a valid TCP port (1-65535)")
    shown_host = f"[{host}]" if ":" in host else host
    display = f"{scheme}://{shown_host}:{port}"
    if not host:
        raise UnsafeUrlError(f"the {scheme} URL has no host")
    ip = _check_host(host, display)
    return SafeUrl(url=url, host=host, port=port, ip=ip, display=display)


def check_webhook_url(text: str, settings: Settings) -> SafeUrl:
    """Vet a webhook target when it is configured: :func:`parse_url`, and an IP-literal host
    must be public or in ``fetch_allow_networks`` (names are resolved and checked at each
    delivery, as DNS may change).

    Raises:
        UnsafeUrlError: as :func:`parse_url`, or a refused address literal (422).
    """
    safe = parse_url(text)
    if safe.ip is not None:
        AddressPolicy.from_networks(settings.fetch_allow_networks).check(safe.ip, safe.display)
    return safe
