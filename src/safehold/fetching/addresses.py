"""Which IP addresses Safehold may connect to when it fetches a URL or delivers a webhook.

Server-side request forgery (SSRF) defence: a URL given by a caller must not make the service
reach its own loopback, the private network it runs in, or a cloud metadata endpoint
(169.254.169.254). Every address a host name resolves to must be *public*; the check follows
the IANA special-purpose address registries (RFC 6890) as Python's ``ipaddress`` encodes them
(``is_global``), plus what that flag lets through:

* multicast (``ff00::/8`` is "global" to ``ipaddress``; RFC 4291 section 2.7),
* IPv4 addresses embedded in IPv6: IPv4-mapped ``::ffff:0:0/96`` (RFC 4291 section 2.5.5.2),
  NAT64 ``64:ff9b::/96`` and ``64:ff9b:1::/48`` (RFC 6052, RFC 8215) and 6to4 ``2002::/16``
  (RFC 3056); the embedded IPv4 address is checked instead.

Networks in ``Settings.fetch_allow_networks`` (CIDRs) are allowed although non-public, e.g. an
internal media store, or ``127.0.0.0/8`` in tests.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from safehold.errors import ConfigurationError, FetchError, UnsafeUrlError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """Return the IPv4 address an IPv6 address carries (mapped, IPv4-compatible, NAT64, 6to4),
    else None. IPv4-compatible ``::a.b.c.d`` (RFC 4291 section 2.5.5.1, deprecated) is still
    routed to the IPv4 address by some stacks, so it is judged as that address too (``::`` and
    ``::1`` keep their own meaning)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if int(ip) >> 32 == 0 and int(ip) > 1:
        return ipaddress.IPv4Address(int(ip))
    if any(ip in net for net in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _SIX_TO_FOUR:
        return ip.sixtofour
    return None


def refusal_reason(ip: IPAddress) -> str | None:
    """Return why ``ip`` is not a public address (``"loopback"``, ``"private"``, ...), or
    None when it is public.

    Reasons, first that applies: ``unspecified``, ``loopback``, ``link-local`` (includes the
    169.254.169.254 metadata service), ``multicast``, ``shared (CGNAT)`` (100.64.0.0/10,
    RFC 6598), ``private`` (RFC 1918, fc00::/7 and the rest of the registries' non-global
    blocks such as 0.0.0.0/8, 198.18.0.0/15, 240.0.0.0/4).
    """
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            return refusal_reason(inner)
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip == ipaddress.IPv4Address("255.255.255.255"):
        return "broadcast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.IPv4Network("100.64.0.0/10"):
        return "shared (CGNAT)"
    if not ip.is_global:
        return "private"
    return None


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Decides whether an address may be connected to.

    Attributes:
        allow_networks: networks allowed although non-public (``fetch_allow_networks``).
    """

    allow_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_networks(cls, cidrs: Sequence[str]) -> AddressPolicy:
        """Build from CIDR strings (``"127.0.0.0/8"``, ``"fd00::/8"``; host bits allowed).

        Raises:
            ConfigurationError: a CIDR does not parse (message names the setting).
        """
        networks: list[IPNetwork] = []
        for text in cidrs:
            try:
                networks.append(ipaddress.ip_network(text.strip(), strict=False))
            except ValueError:
                raise ConfigurationError(
                    f"setting SAFEHOLD_FETCH_ALLOW_NETWORKS: {text!r} is not a CIDR network"
                ) from None
        return cls(tuple(networks))

    def allowed(self, ip: IPAddress) -> bool:
        """Whether ``ip`` is inside one of the allowed networks (IPv4-mapped IPv6 addresses
        are compared as IPv4)."""
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)
        return any(c in net for c in candidates for net in self.allow_networks)

    def check(self, ip: IPAddress, display: str) -> None:
        """Refuse ``ip`` unless it is public or allowed.

        Args:
            display: the URL as it may be shown (no credentials), for the message.

        Raises:
            UnsafeUrlError: e.g. ``"refused http://10.0.0.1:80: 10.0.0.1 is a private
                address"``.
        """
        reason = refusal_reason(ip)
        if reason is not None and not self.allowed(ip):
            article = "an" if reason[0] in "aeiou" else "a"
            raise UnsafeUrlError(f"refused {display}: {ip} is {article} {reason} address")


def resolve(host: str, port: int, display: str) -> list[IPAddress]:
    """Resolve ``host`` once (``getaddrinfo``, TCP) and return its distinct addresses in the
    resolver's order. An IP literal resolves to itself without a lookup.

    Raises:
        FetchError: the name does not resolve (502: the upstream side failed).
    """
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        raise FetchError(f"cannot resolve the host of {display}") from None
    found: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in found:
            found.append(ip)
    if not found:
        raise FetchError(f"cannot resolve the host of {display}")
    return found
