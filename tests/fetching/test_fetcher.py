"""UrlFetcher against a real loopback HTTP server: bodies, limits, redirects, refusals."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from safehold.errors import ContentTooLargeError, FetchError, UnsafeUrlError
from safehold.fetching import UrlFetcher
from safehold.settings import Settings


def test_fetch_returns_the_body(loopback_settings: Settings, loopback_server: Any):
    with UrlFetcher(loopback_settings) as fetcher:
        assert fetcher.fetch(loopback_server.url("/ok")) == b"hello safehold"
    assert loopback_server.hosts == [f"127.0.0.1:{loopback_server.port}"]


def test_fetch_by_name_keeps_the_host_header(
    loopback_settings: Settings, loopback_server: Any
) -> None:
    with UrlFetcher(loopback_settings) as fetcher:
        assert fetcher.fetch(loopback_server.url("/ok", host="localhost")) == b"hello safehold"
    assert loopback_server.hosts == [f"localhost:{loopback_server.port}"]


def test_size_bound_with_content_length(loopback_settings: Settings, loopback_server: Any) -> None:
    with UrlFetcher(loopback_settings) as fetcher:
        assert len(fetcher.fetch(loopback_server.url("/bytes/100000"))) == 100_000
        with pytest.raises(ContentTooLargeError, match="more than 100000 bytes"):
            fetcher.fetch(loopback_server.url("/bytes/100001"))
        with pytest.raises(ContentTooLargeError, match="more than 500 bytes"):
            fetcher.fetch(loopback_server.url("/bytes/501"), max_bytes=500)


def test_size_bound_while_streaming(loopback_settings: Settings, loopback_server: Any) -> None:
    with UrlFetcher(loopback_settings) as fetcher:
        assert fetcher.fetch(loopback_server.url("/chunked/25000")) == b"y" * 25_000
        with pytest.raises(ContentTooLargeError):
            fetcher.fetch(loopback_server.url("/chunked/250000"))


def test_redirects_are_followed_and_counted(
    loopback_settings: Settings, loopback_server: Any
) -> None:
    target = loopback_server.url("/ok")
    with UrlFetcher(loopback_settings) as fetcher:
        assert fetcher.fetch(loopback_server.url(f"/redirect?to={target}")) == b"hello safehold"
        assert fetcher.fetch(loopback_server.url("/redirect?to=/ok")) == b"hello safehold"
        with pytest.raises(FetchError, match="more than 3 redirects"):
            fetcher.fetch(loopback_server.url("/loop"))
    assert loopback_server.paths.count("/loop") == 4  # the first request and 3 redirects


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("http://10.0.0.1/x", "redirect 1: refused http://10.0.0.1:80: 10.0.0.1 is a private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("file:///etc/passwd", "redirect 1: 'file' URLs are refused"),
        ("http://user:pw@example.org/", "credentials"),
    ],
)
def test_a_redirect_to_a_refused_target_is_refused(
    loopback_settings: Settings, loopback_server: Any, target: str, message: str
) -> None:
    with UrlFetcher(loopback_settings) as fetcher, pytest.raises(UnsafeUrlError, match=message):
        fetcher.fetch(loopback_server.url(f"/redirect?to={target}"))


def test_upstream_errors_are_fetch_errors(
    loopback_settings: Settings, loopback_server: Any
) -> None:
    with UrlFetcher(loopback_settings) as fetcher:
        with pytest.raises(FetchError, match="answered HTTP 500"):
            fetcher.fetch(loopback_server.url("/status/500"))
        with pytest.raises(FetchError, match="answered HTTP 404"):
            fetcher.fetch(loopback_server.url("/missing"))
        with pytest.raises(FetchError, match="the connection failed"):
            fetcher.fetch("http://127.0.0.1:1/")  # nothing listens on port 1


def test_the_time_bound_covers_the_whole_fetch(
    loopback_settings: Settings, loopback_server: Any
) -> None:
    quick = loopback_settings.model_copy(update={"fetch_timeout_seconds": 0.2})
    with UrlFetcher(quick) as fetcher, pytest.raises(FetchError, match=r"within 0\.2 s"):
        fetcher.fetch(loopback_server.url("/slow/2"))


def test_a_trickling_server_is_cut_off_at_the_deadline(
    loopback_settings: Settings, loopback_server: Any
) -> None:
    # One byte every 0.2 s for 1,000 bytes would take 200 s; the bound is 1 s (x 1.25).
    quick = loopback_settings.model_copy(update={"fetch_timeout_seconds": 1.0})
    started = time.monotonic()
    with UrlFetcher(quick) as fetcher, pytest.raises(FetchError, match="longer than 1 s"):
        fetcher.fetch(loopback_server.url("/trickle/1000/0.2"))
    assert time.monotonic() - started < 5.0  # was ~64 KiB x read timeout before the fix


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://localhost/",  # a name resolving to loopback
        "file:///etc/passwd",
        "ftp://example.org/",
        "gopher://example.org/",
        "http://example.com@127.0.0.1/",
        "http://2130706433/",
    ],
)
def test_default_settings_refuse_before_connecting(default_settings: Settings, url: str) -> None:
    with UrlFetcher(default_settings) as fetcher, pytest.raises(UnsafeUrlError):
        fetcher.fetch(url)


def test_default_settings_refuse_the_loopback_server(
    default_settings: Settings, loopback_server: Any
) -> None:
    with UrlFetcher(default_settings) as fetcher, pytest.raises(UnsafeUrlError, match="loopback"):
        fetcher.fetch(loopback_server.url("/ok"))
    assert loopback_server.paths == []


def test_a_name_with_one_refused_address_is_refused(
    loopback_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    infos = [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", 80)),
    ]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *_a, **_k: infos)
    settings = Settings(fetch_allow_networks=["127.0.0.0/8"])
    with UrlFetcher(settings) as fetcher, pytest.raises(UnsafeUrlError, match=r"10\.0\.0\.1"):
        fetcher.fetch(loopback_server.url("/ok", host="mixed.test"))
    assert loopback_server.paths == []
