"""Which stream URLs a monitor may open, and the FFmpeg options that keep it to them.

A stream URL is remote input that FFmpeg interprets, so four layers apply:

1. The URL's scheme must be one of :data:`STREAM_PROTOCOLS` (``http``/``https`` for HLS,
   MPEG-TS over HTTP and growing files; ``rtmp``/``rtmps``; ``rtsp``/``rtsps``; ``udp``).
   ``file:``, ``concat:``, ``subfile:``, ``data:``, ``pipe:`` and every other FFmpeg protocol
   are refused.
2. The host follows the URL-fetch address rules (:mod:`safehold.fetching`): no credentials,
   a plain DNS name or IP literal, and every address it resolves to public or inside
   ``fetch_allow_networks``.
3. FFmpeg's ``protocol_whitelist`` option is set to the protocols that scheme needs
   (:attr:`StreamUrl.whitelist`). It is inherited by every nested open, so a remote HLS
   playlist that lists ``file:/etc/passwd`` or ``concat:...`` segments cannot make FFmpeg
   read them ("Protocol 'file' not on whitelist").
4. ``http``/``https`` streams send every request, the nested ones (HLS segments, playlist
   reloads, keys) included, through the in-process egress proxy
   (:mod:`safehold.livestreams.egress_proxy`), which resolves each host once, checks every
   address with the same policy and connects to the checked address: a segment host a remote
   playlist lists is held to rule 2 and DNS rebinding cannot swap an address in. RTMP, RTSP
   and UDP open nothing but the URL's own host (checked by rule 2; FFmpeg resolves it again
   when it connects, decision 0008).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from safehold.errors import UnsafeUrlError
from safehold.fetching.addresses import AddressPolicy, resolve
from safehold.fetching.urls import MAX_URL_LENGTH, parse_url
from safehold.settings import Settings

#: FFmpeg protocols each accepted scheme needs (``protocol_whitelist``, FFmpeg
#: ``libavformat/protocols.c``; ``crypto`` decrypts AES-128 HLS segments; ``httpproxy`` is
#: the CONNECT tunnel FFmpeg's TLS opens through the egress proxy. A playlist that lists an
#: ``httpproxy://`` segment opens nothing: the HLS demuxer takes only http(s) segment URLs,
#: tested).
STREAM_PROTOCOLS: dict[str, str] = {
    "http": "http,https,tcp,tls,crypto,httpproxy",
    "https": "http,https,tcp,tls,crypto,httpproxy",
    "rtmp": "rtmp,tcp",
    "rtmps": "rtmps,rtmp,tcp,tls",
    "rtsp": "rtsp,rtp,udp,tcp",
    "rtsps": "rtsps,rtsp,rtp,udp,tcp,tls",
    "udp": "udp,rtp",
}

DEFAULT_PORTS = {"http": 80, "https": 443, "rtmp": 1935, "rtmps": 443, "rtsp": 554, "rtsps": 322}


@dataclass(frozen=True, slots=True)
class StreamUrl:
    """A stream URL that passed the checks.

    Attributes:
        url: the URL as given (stripped).
        scheme: lower-case scheme, a key of :data:`STREAM_PROTOCOLS`.
        display: ``scheme://host:port`` (never the path or query: they may carry stream keys).
    """

    url: str
    scheme: str
    display: str

    @property
    def whitelist(self) -> str:
        """The FFmpeg ``protocol_whitelist`` for this scheme."""
        return STREAM_PROTOCOLS[self.scheme]


def _scheme(text: str) -> str:
    scheme, sep, _ = text.partition(":")
    return scheme.lower() if sep and scheme.isascii() and scheme.isalpha() else ""


def parse_stream_url(text: str) -> StreamUrl:
    """Check the syntax of a stream URL (rules 1 and the syntax part of 2 of the module doc).

    Raises:
        UnsafeUrlError: empty, too long, a refused scheme, credentials, or a bad host form.
    """
    if not isinstance(text, str) or not text.strip():
        raise UnsafeUrlError("the stream URL is empty")
    text = text.strip()
    if len(text) > MAX_URL_LENGTH:
        raise UnsafeUrlError(f"the stream URL is longer than {MAX_URL_LENGTH} characters")
    if any(ord(ch) < 0x21 for ch in text):
        raise UnsafeUrlError("the stream URL contains spaces or control characters")
    scheme = _scheme(text)
    if scheme not in STREAM_PROTOCOLS:
        shown = (
            f"{scheme!r} stream URLs"
            if scheme and len(scheme) <= 20
            else "stream URLs of this scheme"
        )
        allowed = ", ".join(STREAM_PROTOCOLS)
        raise UnsafeUrlError(f"{shown} are refused: only {allowed} are monitored")
    if scheme in ("http", "https"):
        return StreamUrl(text, scheme, parse_url(text).display)
    # Other schemes: the same host rules, checked on the http form of the authority.
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise UnsafeUrlError(f"the {scheme} URL does not parse") from None
    if parts.username or parts.password is not None:  # "udp://@:port" has an empty user
        raise UnsafeUrlError("URLs with credentials (user@host) are refused")
    host = parts.hostname or ""
    if not host:
        if scheme == "udp":  # udp://@:port or udp://:port: listen on this machine
            return StreamUrl(text, scheme, f"udp://:{port or 0}")
        raise UnsafeUrlError(f"the {scheme} URL has no host")
    shown_host = f"[{host}]" if ":" in host else host
    port = port if port is not None else DEFAULT_PORTS.get(scheme, 0)
    parse_url(f"http://{shown_host}:{port or 1}/")  # host form rules; port 0 means none
    return StreamUrl(text, scheme, f"{scheme}://{shown_host}:{port}")


def check_stream_url(text: str, settings: Settings) -> StreamUrl:
    """:func:`parse_stream_url`, then resolve the host and refuse non-public addresses.

    Raises:
        UnsafeUrlError: as :func:`parse_stream_url`, or an address outside the policy.
        FetchError: the host name does not resolve.
    """
    checked = parse_stream_url(text)
    if checked.scheme == "udp":
        _check_udp(checked, settings)
    _check_host_addresses(checked.url, checked.display, settings)
    return checked


def _check_udp(checked: StreamUrl, settings: Settings) -> None:
    """A monitor receives UDP only by listening on a port (``udp://@:PORT``), which binds it on
    every interface, so it needs ``stream_udp_listen``. A UDP URL with a host names a multicast
    group (refused by the address rules) or a local address to bind (FFmpeg reads
    ``udp://HOST:PORT`` as where to listen), never a remote sender: refused.

    Raises:
        UnsafeUrlError: either case, with the reason.
    """
    if urlsplit(checked.url).hostname:
        raise UnsafeUrlError(
            "udp stream URLs with a host are refused: a monitor receives UDP by listening "
            "(udp://@:PORT, with SAFEHOLD_STREAM_UDP_LISTEN=true)"
        )
    if not settings.stream_udp_listen:
        raise UnsafeUrlError(
            "listening for UDP streams (udp://@:PORT) is off: it binds the port on every "
            "interface of the monitor; set SAFEHOLD_STREAM_UDP_LISTEN=true where that is wanted"
        )


def _check_host_addresses(url: str, display: str, settings: Settings) -> None:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        return
    policy = AddressPolicy.from_networks(settings.fetch_allow_networks)
    for ip in resolve(host, parts.port or 1, display):
        policy.check(ip, display)
