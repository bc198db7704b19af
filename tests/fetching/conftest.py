"""Fixtures for URL fetching: a real HTTP server on loopback (stdlib ``http.server`` in a
thread) and settings that allow loopback, which the default settings refuse."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from safehold.settings import Settings


@dataclass
class LoopbackServer:
    """The running server: ``url(path)`` builds URLs to it; ``hosts`` records the Host
    header of every request, ``paths`` every path."""

    port: int
    hosts: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


def _handler(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None):
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            server.hosts.append(self.headers.get("Host", ""))
            parts = urlsplit(self.path)
            server.paths.append(parts.path)
            query = parse_qs(parts.query)
            segments = parts.path.strip("/").split("/")
            if parts.path == "/ok":
                self._send(200, b"hello safehold", {"Content-Type": "text/plain"})
            elif segments[0] == "bytes":
                self._send(200, b"x" * int(segments[1]))
            elif segments[0] == "chunked":
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                remaining = int(segments[1])
                while remaining > 0:
                    n = min(remaining, 10_000)
                    self.wfile.write(f"{n:x}\r\n".encode() + b"y" * n + b"\r\n")
                    remaining -= n
                self.wfile.write(b"0\r\n\r\n")
            elif segments[0] == "redirect":
                self._send(302, headers={"Location": query["to"][0]})
            elif segments[0] == "loop":
                self._send(302, headers={"Location": "/loop"})
            elif segments[0] == "status":
                self._send(int(segments[1]), b"nope")
            elif segments[0] == "trickle":  # /trickle/<bytes>/<seconds between bytes>
                self.send_response(200)
                self.send_header("Content-Length", segments[1])
                self.end_headers()
                try:
                    for _ in range(int(segments[1])):
                        self.wfile.write(b"z")
                        self.wfile.flush()
                        time.sleep(float(segments[2]))
                except OSError:
                    pass  # the client gave up
            elif segments[0] == "slow":
                time.sleep(float(segments[1]))
                self._send(200, b"late")
            else:
                self._send(404, b"no such path")

    return Handler


@pytest.fixture
def loopback_server() -> Iterator[LoopbackServer]:
    """An HTTP/1.1 server on 127.0.0.1 (routes: /ok, /bytes/N, /chunked/N, /redirect?to=,
    /loop, /status/N, /slow/SECONDS)."""
    info = LoopbackServer(port=0)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(info))
    httpd.daemon_threads = True
    info.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield info
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def loopback_settings(tmp_path: Path) -> Settings:
    """Settings that allow loopback (IPv4 and ::1), with small limits."""
    return Settings(
        data_dir=tmp_path,
        fetch_allow_networks=["127.0.0.0/8", "::1/128"],
        fetch_max_bytes=100_000,
        fetch_timeout_seconds=5.0,
        fetch_max_redirects=3,
    )


@pytest.fixture
def default_settings(tmp_path: Path) -> Settings:
    """Settings as shipped: no network is allowed beyond public addresses."""
    return Settings(data_dir=tmp_path)


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for ``safehold.test`` made with the openssl command:
    ``(certificate, key)`` paths. Skips when openssl is not installed."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "1", "-subj", "/CN=safehold.test",
            "-addext", "subjectAltName=DNS:safehold.test",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key
