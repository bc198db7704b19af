"""The egress proxy: HLS segment hosts a remote playlist lists are held to the address policy.

Real FFmpeg (PyAV) on loopback: the playlist is served on 127.0.0.1, its segments by a second
server on 127.0.0.2 (Linux routes 127.0.0.0/8 to ``lo``), and ``fetch_allow_networks``
decides which of the two the monitor may reach.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from safehold.livestreams.egress_proxy import egress_proxy, proxy_options
from safehold.livestreams.models import StreamConfig, StreamState
from safehold.livestreams.monitor import StreamMonitor
from safehold.livestreams.policy import STREAM_PROTOCOLS
from safehold.settings import Settings

from .conftest import HlsStream, LiveServer, send


@pytest.fixture
def segment_server() -> Iterator[LiveServer]:
    """A second server, on 127.0.0.2."""
    server = LiveServer("127.0.0.2")
    yield server
    server.close()


def _playlist_elsewhere(
    live_server: LiveServer, segment_server: LiveServer, clips: dict[str, tuple]
) -> str:
    """Serve on 127.0.0.1 a finished playlist whose segments are absolute URLs on 127.0.0.2;
    return the playlist URL."""
    folder, segments = clips["doorknob"]
    segment_server.hls["door"] = HlsStream(folder, segments, speed=1000.0)
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:2", "#EXT-X-MEDIA-SEQUENCE:0"]
    for name, seconds in segments[:3]:
        lines += [f"#EXTINF:{seconds:.6f},", segment_server.url(f"/door/{name}")]
    body = ("\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n").encode()
    live_server.bodies["/room/index.m3u8?key=secret-stream-key"] = [
        lambda h: send(h, body, "application/vnd.apple.mpegurl")
    ]
    live_server.bodies["/room/index.m3u8"] = live_server.bodies[
        "/room/index.m3u8?key=secret-stream-key"
    ]
    return live_server.url("/room/index.m3u8?key=secret-stream-key")


def _watch(url: str, settings: Settings, networks: list[str]) -> StreamMonitor:
    settings = settings.model_copy(
        update={
            "fetch_allow_networks": networks,
            "stream_read_timeout_seconds": 2.0,
            "stream_open_timeout_seconds": 3.0,
            "stream_backoff_seconds": 0.1,
            "stream_max_retries": 2,
        }
    )
    monitor = StreamMonitor(
        url,
        STREAM_PROTOCOLS["http"],
        StreamConfig.from_settings(settings),
        settings,
        match=lambda s: [],
        on_alert=lambda a: None,
    )
    thread = threading.Thread(target=monitor.run)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), monitor.history
    return monitor


def test_segments_on_a_refused_host_are_never_requested(
    live_server: LiveServer,
    segment_server: LiveServer,
    clips: dict[str, tuple],
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = _playlist_elsewhere(live_server, segment_server, clips)
    with caplog.at_level(logging.DEBUG):
        monitor = _watch(url, settings, ["127.0.0.1/32"])

    assert segment_server.requests == []
    assert live_server.requests  # the playlist itself was fetched (through the proxy)
    assert monitor.counters.frames_decoded == 0
    assert monitor.state is StreamState.FAILED  # after stream_max_retries = 2 connections
    # FFmpeg's HLS demuxer finds no segment it can open (each got 403 from the proxy)
    assert monitor.last_error == "cannot open the stream: Invalid data found when processing input"
    port = segment_server.port
    assert f"stream egress refused http://127.0.0.2:{port}: 127.0.0.2 is a loopback" in (
        caplog.text
    )
    assert "secret-stream-key" not in caplog.text
    assert "/door/" not in caplog.text


def test_segments_on_an_allowed_host_are_read_through_the_proxy(
    live_server: LiveServer, segment_server: LiveServer, clips: dict[str, tuple], settings: Settings
) -> None:
    url = _playlist_elsewhere(live_server, segment_server, clips)
    monitor = _watch(url, settings, ["127.0.0.1/32", "127.0.0.2/32"])

    _folder, segments = clips["doorknob"]
    assert [p for p in segment_server.requests] == [f"/door/{n}" for n, _ in segments[:3]]
    assert monitor.state is StreamState.ENDED
    assert monitor.counters.frames_decoded > 0


def _exchange(proxy_url: str, request: bytes) -> bytes:
    port = int(proxy_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        return answer


def test_connect_and_get_to_a_refused_address_get_403(segment_server: LiveServer) -> None:
    proxy = egress_proxy(["127.0.0.1/32"])
    target = f"127.0.0.2:{segment_server.port}"

    connect = _exchange(proxy.url, f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    get = _exchange(proxy.url, f"GET http://{target}/door/x.ts HTTP/1.1\r\n\r\n".encode())

    for answer in (connect, get):
        assert answer.startswith(b"HTTP/1.1 403 Forbidden\r\n")
        assert b"Content-Length: 0\r\n" in answer
    assert segment_server.requests == []


def test_connect_to_an_allowed_address_tunnels(segment_server: LiveServer) -> None:
    segment_server.bodies["/ping"] = [lambda h: send(h, b"pong", "text/plain")]
    proxy = egress_proxy(["127.0.0.2/32"])
    port = int(proxy.url.rsplit(":", 1)[1])
    target = f"127.0.0.2:{segment_server.port}"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"CONNECT {target} HTTP/1.1\r\n\r\n".encode())
        assert sock.recv(4096) == b"HTTP/1.1 200 Connection established\r\n\r\n"
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.0 200")
    assert answer.endswith(b"pong")
    assert segment_server.requests == ["/ping"]


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST http://127.0.0.2:80/x HTTP/1.1\r\n\r\n",
        b"GET /relative HTTP/1.1\r\n\r\n",
        b"GET ftp://127.0.0.2/x HTTP/1.1\r\n\r\n",
    ],
)
def test_other_requests_are_refused(request_bytes: bytes) -> None:
    answer = _exchange(egress_proxy(["127.0.0.0/8"]).url, request_bytes)
    assert answer.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n")


def test_bad_connect_targets_get_400() -> None:
    proxy = egress_proxy(["127.0.0.0/8"])
    for target in ("127.0.0.2", "user@127.0.0.2:80", "127.0.0.2:80/x"):
        answer = _exchange(proxy.url, f"CONNECT {target} HTTP/1.1\r\n\r\n".encode())
        assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n"), target


def test_only_http_streams_use_the_proxy() -> None:
    assert proxy_options("rtmp", []) == {}
    assert proxy_options("udp", []) == {}
    assert proxy_options("https", ["10.0.0.0/8"]) == {
        "http_proxy": egress_proxy(["10.0.0.0/8"]).url
    }
    assert "httpproxy" in STREAM_PROTOCOLS["https"].split(",")


def test_no_proxy_in_the_environment_is_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    # FFmpeg goes around http_proxy for hosts listed in no_proxy (checked with this FFmpeg)
    monkeypatch.setenv("no_proxy", "127.0.0.2")
    options = proxy_options("http", ["127.0.0.1/32"])
    assert "no_proxy" not in os.environ
    assert options == {"http_proxy": egress_proxy(["127.0.0.1/32"]).url}


def test_a_redirect_to_a_refused_host_is_not_followed_there(
    live_server: LiveServer, segment_server: LiveServer, clips: dict[str, tuple], settings: Settings
) -> None:
    folder, segments = clips["doorknob"]
    segment_server.hls["door"] = HlsStream(folder, segments, speed=1000.0)
    target = segment_server.url("/door/index.m3u8")

    def redirect(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", target)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    live_server.bodies["/moved.m3u8"] = [redirect]
    monitor = _watch(live_server.url("/moved.m3u8"), settings, ["127.0.0.1/32"])

    assert live_server.requests == ["/moved.m3u8", "/moved.m3u8"]  # one per connection
    assert segment_server.requests == []
    assert monitor.state is StreamState.FAILED
    assert monitor.last_error is not None
    assert "403" in monitor.last_error
