"""PinnedTransport: one DNS lookup per request, connect to the checked address, keep the name
for the Host header and for TLS (SNI and certificate check)."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from safehold.errors import FetchError, UnsafeUrlError
from safehold.fetching import UrlFetcher
from safehold.settings import Settings


def _fake_dns(monkeypatch: pytest.MonkeyPatch, answers: list[str]) -> list[str]:
    """Make ``getaddrinfo`` answer ``answers[0]``, then ``answers[1]``, ... (a rebinding DNS
    server); return the list of names looked up."""
    looked_up: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if not str(host).endswith(".test"):
            return real(host, port, *args, **kwargs)
        answer = answers[min(len(looked_up), len(answers) - 1)]
        looked_up.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return looked_up


def test_dns_rebinding_cannot_swap_the_address(
    loopback_settings: Settings, loopback_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # First answer passes the check; any second lookup would hand out the metadata address.
    looked_up = _fake_dns(monkeypatch, ["127.0.0.1", "169.254.169.254"])
    with UrlFetcher(loopback_settings) as fetcher:
        body = fetcher.fetch(loopback_server.url("/ok", host="rebind.test"))
    assert body == b"hello safehold"
    assert looked_up == ["rebind.test"]  # resolved once, by us
    assert loopback_server.hosts == [f"rebind.test:{loopback_server.port}"]


def test_each_request_is_checked_again(
    loopback_settings: Settings, loopback_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_dns(monkeypatch, ["127.0.0.1", "10.0.0.1"])
    with UrlFetcher(loopback_settings) as fetcher:
        assert fetcher.fetch(loopback_server.url("/ok", host="flip.test")) == b"hello safehold"
        with pytest.raises(UnsafeUrlError, match="private"):
            fetcher.fetch(loopback_server.url("/ok", host="flip.test"))
    assert len(loopback_server.paths) == 1


def test_the_next_address_is_tried_when_one_does_not_connect(
    loopback_settings: Settings, loopback_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "two.test":
            return real(host, port, *args, **kwargs)
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.2", port)),  # nothing there
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with UrlFetcher(loopback_settings) as fetcher:
        assert fetcher.fetch(loopback_server.url("/ok", host="two.test")) == b"hello safehold"


@pytest.fixture
def tls_server(tls_certificate: tuple[Path, Path]) -> Iterator[tuple[int, list[str]]]:
    """An HTTPS server on 127.0.0.1 with the ``safehold.test`` certificate; yields the port
    and the SNI names clients sent."""
    cert, key = tls_certificate
    sni: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = f"host={self.headers.get('Host')}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda _sock, name, _ctx: sni.append(name or "")  # type: ignore[assignment,misc,func-returns-value]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd.server_address[1], sni
    httpd.shutdown()
    httpd.server_close()


def test_tls_uses_the_name_for_sni_and_the_certificate(
    loopback_settings: Settings,
    tls_server: tuple[int, list[str]],
    tls_certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, sni = tls_server
    _fake_dns(monkeypatch, ["127.0.0.1"])
    ca = ssl.create_default_context(cafile=str(tls_certificate[0]))
    with UrlFetcher(loopback_settings, verify=ca) as fetcher:
        body = fetcher.fetch(f"https://safehold.test:{port}/")
    assert body == f"host=safehold.test:{port}".encode()
    assert sni == ["safehold.test"]


def test_tls_certificate_must_match_the_name(
    loopback_settings: Settings,
    tls_server: tuple[int, list[str]],
    tls_certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, _sni = tls_server
    _fake_dns(monkeypatch, ["127.0.0.1"])
    with (
        UrlFetcher(
            loopback_settings, verify=ssl.create_default_context(cafile=str(tls_certificate[0]))
        ) as fetcher,
        pytest.raises(FetchError, match=r"cannot fetch https://other\.test"),
    ):
        fetcher.fetch(f"https://other.test:{port}/")
