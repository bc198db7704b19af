"""An in-process forward proxy that holds FFmpeg's HTTP(S) connections to the address policy.

FFmpeg opens the URLs a remote HLS playlist lists (segments, playlist reloads, AES keys)
itself. Every nested open copies the ``http_proxy`` option (FFmpeg ``libavformat/hls.c``,
the options it propagates), so :func:`proxy_options` points FFmpeg at this proxy and every
request of an ``http``/``https`` stream passes through :class:`EgressProxy`:

* ``GET http://host:port/path`` (absolute form, RFC 9112 section 3.2.2) for plain HTTP; the
  request is forwarded in origin form with ``Connection: close``;
* ``CONNECT host:port`` (RFC 9110 section 9.3.6) for HTTPS (FFmpeg's ``httpproxy`` protocol,
  so the stream's ``protocol_whitelist`` includes it); bytes are then tunnelled.

For each request the host is resolved once, every address is checked with the same
:class:`~safehold.fetching.addresses.AddressPolicy` as URL fetches (``fetch_allow_networks``),
and the proxy connects to a checked address itself (no second look-up: DNS rebinding cannot
swap one in). A refused target gets ``403`` with no detail. Only ``scheme://host:port`` is
ever logged: paths and queries carry stream keys.

Limits: :data:`MAX_CONNECTIONS` at once (``503`` beyond), request heads of at most
:data:`MAX_HEAD_BYTES`, relay chunks of :data:`CHUNK_BYTES`, and a connection idle for the
proxy's ``timeout`` is closed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import socketserver
import threading

from safehold.errors import FetchError, UnsafeUrlError
from safehold.fetching.addresses import AddressPolicy, IPAddress, resolve
from safehold.fetching.urls import SafeUrl, parse_url

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 256
MAX_HEAD_BYTES = 16 * 1024
CHUNK_BYTES = 64 * 1024
_HOP_HEADERS = (b"connection", b"proxy-connection", b"proxy-authorization", b"keep-alive")


def _answer(sock: socket.socket, status: str) -> None:
    with contextlib.suppress(OSError):
        sock.sendall(
            f"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )


class _RefusedError(Exception):
    """The request cannot be served; ``args[0]`` is the HTTP status line's tail."""


class EgressProxy:
    """A threaded forward proxy on ``127.0.0.1`` (daemon threads) enforcing ``policy``.

    Args:
        policy: which addresses may be reached.
        timeout: seconds for connecting upstream, reading the request head, and of silence
            in both directions before a relayed connection is closed.

    Attributes:
        url: ``http://127.0.0.1:<port>`` (the FFmpeg ``http_proxy`` option).
        refused: how many requests were refused by the policy.
    """

    def __init__(self, policy: AddressPolicy, *, timeout: float = 30.0) -> None:
        self.policy = policy
        self.timeout = timeout
        self.refused = 0
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._handle(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="egress-proxy", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop accepting connections (relays in progress end with their sockets)."""
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, client: socket.socket) -> None:
        if not self._slots.acquire(blocking=False):
            _answer(client, "503 Service Unavailable")
            return
        try:
            client.settimeout(self.timeout)
            try:
                upstream, first = self._open(client)
            except _RefusedError as exc:
                _answer(client, str(exc))
                return
            except OSError:
                return
            with upstream:
                self._relay(client, upstream, first)
        finally:
            self._slots.release()

    def _open(self, client: socket.socket) -> tuple[socket.socket, bytes]:
        """Read the request head, vet its target, connect; return the upstream socket and the
        bytes to send it first (for CONNECT, ``200`` has been answered already).

        Raises:
            _RefusedError: bad request (400), method (405), refused target (403), unreachable (502).
        """
        head, rest = _read_head(client)
        line, _, headers = head.partition(b"\r\n")
        parts = line.split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            raise _RefusedError("400 Bad Request")
        method, target = parts[0], parts[1].decode("ascii", "replace")
        if method == b"CONNECT":
            if any(ch in target for ch in "/@?#\\") or ":" not in target:
                raise _RefusedError("400 Bad Request")
            upstream = self._connect(*self._vet(f"https://{target}/"))
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            return upstream, rest
        if method not in (b"GET", b"HEAD") or not target.lower().startswith("http://"):
            raise _RefusedError("405 Method Not Allowed")
        safe, found = self._vet(target)
        path = safe.url.raw_path.decode("ascii", "replace") or "/"
        kept = [
            h
            for h in headers.split(b"\r\n")
            if h and h.split(b":", 1)[0].strip().lower() not in _HOP_HEADERS
        ]
        forwarded = b"\r\n".join(
            [method + b" " + path.encode() + b" " + parts[2], *kept, b"Connection: close"]
        )
        return self._connect(safe, found), forwarded + b"\r\n\r\n" + rest

    def _vet(self, url: str) -> tuple[SafeUrl, list[IPAddress]]:
        """Parse ``url``, resolve its host once and check every address.

        Raises:
            _RefusedError: 403 (refused by the URL or address rules), 502 (does not resolve).
        """
        try:
            safe = parse_url(url)
        except UnsafeUrlError:
            self.refused += 1
            log.warning("stream egress refused: a malformed or refused URL form")
            raise _RefusedError("403 Forbidden") from None
        try:
            found = [safe.ip] if safe.ip is not None else resolve(safe.host, safe.port, "")
            for ip in found:
                self.policy.check(ip, safe.display)
        except UnsafeUrlError as exc:  # "refused scheme://host:port: <ip> is a ... address"
            self.refused += 1
            log.warning("stream egress %s", exc)
            raise _RefusedError("403 Forbidden") from None
        except FetchError:
            log.info("stream egress: %s does not resolve", safe.display)
            raise _RefusedError("502 Bad Gateway") from None
        return safe, found

    def _connect(self, safe: SafeUrl, found: list[IPAddress]) -> socket.socket:
        """Connect to the first of the checked addresses ``found`` that answers (pinned)."""
        for ip in found:
            try:
                return socket.create_connection((str(ip), safe.port), timeout=self.timeout)
            except OSError:
                continue
        log.info("stream egress: %s unreachable", safe.display)
        raise _RefusedError("502 Bad Gateway")

    def _relay(self, client: socket.socket, upstream: socket.socket, first: bytes) -> None:
        """Copy bytes both ways until either side closes or both are idle for ``timeout``."""
        if first:
            upstream.sendall(first)
        pair = {client.fileno(): (client, upstream), upstream.fileno(): (upstream, client)}
        poller = select.poll()  # not select.select: descriptors may exceed FD_SETSIZE
        for fd in pair:
            poller.register(fd, select.POLLIN)
        while True:
            ready = poller.poll(self.timeout * 1000)
            if not ready:
                return
            for fd, _event in ready:
                sock, other = pair[fd]
                try:
                    data = sock.recv(CHUNK_BYTES)
                    if not data:
                        return
                    other.sendall(data)
                except OSError:
                    return


def _read_head(client: socket.socket) -> tuple[bytes, bytes]:
    """Read up to the blank line ending the request head; return (head, bytes after it).

    Raises:
        _RefusedError: the head is larger than :data:`MAX_HEAD_BYTES` or the client went away.
    """
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD_BYTES:
            raise _RefusedError("431 Request Header Fields Too Large")
        chunk = client.recv(4096)
        if not chunk:
            raise _RefusedError("400 Bad Request")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


_proxies: dict[tuple[str, ...], EgressProxy] = {}
_proxies_lock = threading.Lock()


def egress_proxy(allow_networks: list[str]) -> EgressProxy:
    """The process's proxy for this ``fetch_allow_networks`` value, started on first use.

    Raises:
        ConfigurationError: a network does not parse.
    """
    key = tuple(allow_networks)
    with _proxies_lock:
        proxy = _proxies.get(key)
        if proxy is None:
            proxy = _proxies[key] = EgressProxy(AddressPolicy.from_networks(allow_networks))
        return proxy


def proxy_options(scheme: str, allow_networks: list[str]) -> dict[str, str]:
    """FFmpeg options sending a stream's HTTP(S) requests, nested ones included, through
    :func:`egress_proxy`: ``{"http_proxy": url}`` for ``http``/``https``, ``{}`` otherwise
    (RTMP, RTSP and UDP open no URL but their own, whose host is checked beforehand).
    Removes the ``no_proxy`` environment variable from the process (FFmpeg would send the
    hosts it lists around the proxy) and logs a warning when it does."""
    if scheme not in ("http", "https"):
        return {}
    if os.environ.get("no_proxy") is not None:
        # FFmpeg's http protocol connects directly to hosts matching the ``no_proxy``
        # environment variable (libavformat/network.c ff_http_match_no_proxy), which would
        # bypass the policy; this process never needs it for streams (httpx clients here
        # ignore the environment).
        os.environ.pop("no_proxy", None)
        log.warning(
            "the no_proxy environment variable was removed: FFmpeg would bypass the "
            "stream egress proxy for the hosts it lists"
        )
    return {"http_proxy": egress_proxy(allow_networks).url}
