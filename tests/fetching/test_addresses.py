"""Which addresses the fetch rules refuse, against the IANA special-purpose registries."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from safehold.errors import ConfigurationError, FetchError, UnsafeUrlError
from safehold.fetching.addresses import AddressPolicy, embedded_ipv4, refusal_reason, resolve


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata service
        ("fe80::1", "link-local"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("100.127.255.254", "shared (CGNAT)"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),  # ipaddress calls ff00::/8 global
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("0.1.2.3", "private"),  # 0.0.0.0/8 "this network"
        ("198.18.0.1", "private"),  # benchmarking
        ("240.0.0.1", "private"),  # reserved
        ("255.255.255.255", "broadcast"),
        ("::169.254.169.254", "link-local"),  # IPv4-compatible (RFC 4291 2.5.5.1)
        ("::127.0.0.1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1 (RFC 6052)
        ("64:ff9b::7f00:1", "loopback"),
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1 (RFC 3056)
        ("2002:a9fe:a9fe::1", "link-local"),  # 6to4 of 169.254.169.254
    ],
)
def test_non_public_addresses_are_refused(address: str, reason: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "93.184.216.34", "1.1.1.1", "2606:4700::1111", "64:ff9b::808:808"]
)
def test_public_addresses_pass(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


def test_embedded_ipv4_forms() -> None:
    assert embedded_ipv4(ipaddress.IPv6Address("::ffff:10.1.2.3")) == ipaddress.IPv4Address(
        "10.1.2.3"
    )
    assert embedded_ipv4(ipaddress.IPv6Address("64:ff9b::c0a8:101")) == ipaddress.IPv4Address(
        "192.168.1.1"
    )
    assert embedded_ipv4(ipaddress.IPv6Address("2002:c0a8:101::")) == ipaddress.IPv4Address(
        "192.168.1.1"
    )
    assert embedded_ipv4(ipaddress.IPv6Address("2606:4700::1111")) is None


def test_policy_allows_listed_networks_only() -> None:
    policy = AddressPolicy.from_networks(["127.0.0.0/8", "10.1.0.0/16"])
    policy.check(ipaddress.ip_address("127.0.0.1"), "http://x:80")
    policy.check(ipaddress.ip_address("10.1.2.3"), "http://x:80")
    policy.check(ipaddress.ip_address("::ffff:127.0.0.1"), "http://x:80")  # mapped form
    with pytest.raises(UnsafeUrlError, match=r"10\.2\.0\.1 is a private address"):
        policy.check(ipaddress.ip_address("10.2.0.1"), "http://x:80")
    with pytest.raises(UnsafeUrlError, match="loopback"):
        policy.check(ipaddress.ip_address("::1"), "http://x:80")


def test_policy_refuses_a_malformed_network() -> None:
    with pytest.raises(ConfigurationError, match="SAFEHOLD_FETCH_ALLOW_NETWORKS"):
        AddressPolicy.from_networks(["not-a-network"])


def test_resolve_an_ip_literal_without_a_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("no DNS lookup expected")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    assert resolve("::1", 80, "http://[::1]:80") == [ipaddress.ip_address("::1")]


def test_resolve_failure_is_a_fetch_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_args: object, **_kwargs: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(FetchError, match=r"cannot resolve the host of http://nowhere\.test:80"):
        resolve("nowhere.test", 80, "http://nowhere.test:80")


def test_resolve_keeps_every_distinct_address(monkeypatch: pytest.MonkeyPatch) -> None:
    infos = [
        (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", 80, 0, 0)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80)),
    ]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *_a, **_k: infos)
    assert resolve("dual.test", 80, "http://dual.test:80") == [
        ipaddress.ip_address("::1"),
        ipaddress.ip_address("127.0.0.1"),
    ]
