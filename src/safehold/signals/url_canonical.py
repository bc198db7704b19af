"""URL canonicalisation by the rules Google Safe Browsing publishes, so URL lists match reliably.

Two spellings of one address (``HTTP://WWW.Example.com:80/a/./b/../c#top`` and
``http://www.example.com/a/c``) must give one bank value, and tricks that hide an address
from a naive comparison (``%2e`` for dots, ``3279880203`` for ``195.127.0.11``, doubled
slashes) must not hide it from the list. The rules are those of Safe Browsing's "URLs and
Hashing" (Update API v4, https://developers.google.com/safe-browsing/v4/urls-hashing, the same
text as Web Risk's https://cloud.google.com/web-risk/docs/urls-hashing), with the IPv6 rules of
its successor (https://developers.google.com/safe-browsing/reference/URLs.and.Hashing):

1. remove tab, CR and LF; trim leading and trailing spaces and control characters;
2. remove the fragment (from the first ``#``); add ``http://`` when the URL has no scheme;
3. split scheme, host, path and query *before* unescaping (so an escaped ``#`` or ``/`` in a
   host or path stays part of it), dropping credentials and the port (Safe Browsing discards
   both: ``http://www.gotaport.com:1234/`` is ``http://www.gotaport.com/``);
4. percent-unescape each part repeatedly until no escape is left;
5. host: remove leading and trailing dots, collapse consecutive dots, convert an
   internationalised name to IDNA Punycode (the ``idna`` package, UTS 46), read any legal IPv4
   encoding (decimal, octal, hex, fewer than four parts) as four decimal parts, shorten a
   bracketed IPv6 address (IPv4-mapped and NAT64 ``64:ff9b::/96`` addresses become IPv4), lower
   case;
6. path: resolve ``/./`` and ``/../``, collapse runs of slashes (not in the query); a ``?``
   that unescaping put in the path starts the query, so the parts agree with the text;
7. percent-escape every byte <= 0x20, >= 0x7f, ``#`` and ``%`` with upper-case hex digits.

Messages never quote the URL: URL lists are as confidential as hash lists.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import idna

from safehold.errors import InvalidSignalError

#: Longest URL accepted, in bytes of UTF-8 (browsers and servers commonly cap URLs near 8 KiB).
MAX_URL_BYTES = 8192
#: Schemes a URL list may name; the scheme is not part of a match (Safe Browsing drops it).
SCHEMES = frozenset({"http", "https"})

_SCHEME = re.compile(rb"^([A-Za-z][A-Za-z0-9+.-]*)://")
_OTHER_SCHEME = re.compile(rb"^([A-Za-z][A-Za-z0-9+.-]*):(?![0-9]*(?:[/?]|$))")
_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")
_DOTS = re.compile(rb"\.{2,}")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_HEX = re.compile(rb"[0-9A-Fa-f]+")
_OCTAL = re.compile(rb"[0-7]+")
_DECIMAL = re.compile(rb"[0-9]+")
#: Bytes escaped in the canonical form: <= 0x20, >= 0x7f, ``#`` and ``%``.
_MUST_ESCAPE = frozenset(range(0x21)) | frozenset(range(0x7F, 0x100)) | {ord("#"), ord("%")}
_ESCAPED = [f"%{b:02X}" if b in _MUST_ESCAPE else chr(b) for b in range(256)]
_NEEDS_ESCAPE = re.compile(rb"[\x00-\x20\x7f-\xff#%]")
_IPV4_CHARS = re.compile(rb"[0-9A-Fa-fXx.]+")
_TRIMMED = bytes(range(0x21))


@dataclass(frozen=True, slots=True)
class CanonicalUrl:
    """A URL in Safe Browsing's canonical form; every part is printable ASCII.

    Attributes:
        scheme: ``http`` or ``https`` (lower case).
        host: the canonical host (``www.example.com``, ``195.127.0.11``, ``[2001:db8::1]``).
        path: starts with ``/``.
        query: the text after the first ``?`` (may be empty: ``/q?``), or None without ``?``.
    """

    scheme: str
    host: str
    path: str
    query: str | None

    @property
    def expression(self) -> str:
        """The full Safe Browsing expression: ``host`` + ``path`` (+ ``?query``), no scheme."""
        return self.host + self.path + ("" if self.query is None else "?" + self.query)

    @property
    def url(self) -> str:
        """The canonical URL with its scheme: ``http://host/path?query``."""
        return f"{self.scheme}://{self.expression}"

    @property
    def is_ip(self) -> bool:
        """True when the host is an IP address (Safe Browsing then checks it whole only)."""
        return self.host.startswith("[") or _is_ipv4_text(self.host)


def canonicalize_url(url: str | bytes) -> CanonicalUrl:
    """Canonicalise ``url`` by Safe Browsing's rules (module docstring).

    Args:
        url: a URL as text (encoded as UTF-8 before escaping) or as raw bytes; the scheme may
            be left out (``www.example.com/page`` is read as ``http://www.example.com/page``).

    Returns:
        The :class:`CanonicalUrl`; ``canonicalize_url(u).url`` is what Safe Browsing's
        ``Canonicalize(u)`` test cases give.

    Raises:
        InvalidSignalError: longer than :data:`MAX_URL_BYTES`, empty, a scheme other than
            http/https, no host, a host with an escaped ``/`` or ``?``, a port that is not a
            number, or a malformed IPv6 address. The message never quotes the URL.
    """
    raw = url.encode("utf-8", "surrogatepass") if isinstance(url, str) else bytes(url)
    if len(raw) > MAX_URL_BYTES:
        raise InvalidSignalError(f"a URL is at most {MAX_URL_BYTES} bytes (got {len(raw)})")
    raw = raw.translate(None, b"\t\r\n").strip(_TRIMMED)
    raw = raw.partition(b"#")[0]
    if not raw:
        raise InvalidSignalError("the URL is empty")
    scheme, rest = _split_scheme(raw)
    authority, path, query = _split_rest(rest)
    host = _canonical_host(_host_of(authority))
    path_text = _escape(_canonical_path(_unescape(path)))
    query_text = None if query is None else _escape(_unescape(query))
    # An escaped "?" in the path (%3F) is one after unescaping: split there, as anyone reading
    # the canonical URL back does, so the parts always agree with the text.
    path_text, mark, moved = path_text.partition("?")
    if mark:
        query_text = moved if query_text is None else f"{moved}?{query_text}"
    return CanonicalUrl(scheme=scheme, host=host, path=path_text, query=query_text)


def _split_scheme(raw: bytes) -> tuple[str, bytes]:
    """``(scheme, the rest after "://")``; ``http`` when the URL names none."""
    found = _SCHEME.match(raw)
    if found is None:
        other = _OTHER_SCHEME.match(raw)
        if other is not None:
            raise InvalidSignalError("only http and https URLs can be listed and checked")
        return "http", raw
    scheme = found.group(1).decode("ascii").lower()
    if scheme not in SCHEMES:
        raise InvalidSignalError("only http and https URLs can be listed and checked")
    return scheme, raw[found.end() :]


def _split_rest(rest: bytes) -> tuple[bytes, bytes, bytes | None]:
    """``(authority, path, query or None)`` of the text after the scheme (path ``/`` if none)."""
    cut = min((i for i in (rest.find(b"/"), rest.find(b"?")) if i >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    path, mark, query = tail.partition(b"?")
    return authority, path or b"/", query if mark else None


def _host_of(authority: bytes) -> bytes:
    """The host of ``[user[:password]@]host[:port]``, still escaped; credentials and port go.

    Raises:
        InvalidSignalError: a port that is not a number, or a ``[`` without its ``]``.
    """
    host = authority.rpartition(b"@")[2]
    if host.startswith(b"["):
        end = host.find(b"]")
        if end < 0:
            raise InvalidSignalError("the URL's IPv6 address has no closing bracket")
        port = host[end + 1 :]
        if port and not (port == b":" or (port.startswith(b":") and port[1:].isdigit())):
            raise InvalidSignalError("the URL's port is not a number")
        return host[: end + 1]
    name, colon, port = host.rpartition(b":")
    if not colon:
        return host
    if port and not port.isdigit():
        raise InvalidSignalError("the URL's port is not a number")
    return name


def _unescape(data: bytes) -> bytes:
    """Percent-unescape ``data`` until no ``%XX`` escape is left (``%2525`` -> ``%``)."""
    if b"%" not in data:
        return data
    while True:
        decoded = _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), data)
        if decoded == data:
            return data
        data = decoded


def _escape(data: bytes) -> str:
    """Escape bytes <= 0x20, >= 0x7f, ``#`` and ``%`` as ``%XX`` (upper case)."""
    if not _NEEDS_ESCAPE.search(data):
        return data.decode("ascii")
    return "".join(_ESCAPED[b] for b in data)


def _canonical_host(escaped: bytes) -> str:
    """The canonical host (module docstring, step 5).

    Raises:
        InvalidSignalError: no host is left, or a bracketed host is not an IPv6 address.
    """
    host = _DOTS.sub(b".", _unescape(escaped).strip(b"."))
    if not host:
        raise InvalidSignalError("the URL has no host")
    if b"/" in host or b"?" in host:
        raise InvalidSignalError("the URL's host contains an escaped '/' or '?'")
    if host.startswith(b"[") and host.endswith(b"]"):
        return _canonical_ipv6(host[1:-1])
    host = _idna(host).lower()
    ipv4 = _parse_ipv4(host)
    return ipv4 if ipv4 is not None else _escape(host)


def _idna(host: bytes) -> bytes:
    """An internationalised (UTF-8, non-ASCII) host name as IDNA Punycode (UTS 46 mapping);
    anything else, or a name IDNA refuses, unchanged (it is then escaped byte by byte)."""
    if host.isascii():
        return host
    try:
        return idna.encode(host.decode("utf-8"), uts46=True, transitional=False)
    except (UnicodeError, idna.IDNAError):
        return host


def _canonical_ipv6(inner: bytes) -> str:
    """``[compressed]``, or dotted IPv4 for IPv4-mapped and NAT64 (64:ff9b::/96) addresses.

    Raises:
        InvalidSignalError: not an IPv6 address (zone ids included).
    """
    try:
        address = ipaddress.IPv6Address(inner.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        address = None
    if address is None or address.scope_id:
        raise InvalidSignalError("the URL's bracketed host is not an IPv6 address")
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    if address in _NAT64:
        return str(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return f"[{address.compressed}]"


def _ipv4_part(text: bytes) -> int | None:
    """One part of an IPv4 address: ``0x``-hex, ``0``-octal or decimal; None if none."""
    if text[:2] in (b"0x", b"0X"):
        digits, base = text[2:], 16
        if not digits:
            return 0
        if not _HEX.fullmatch(digits):
            return None
    elif len(text) > 1 and text.startswith(b"0"):
        digits, base = text[1:], 8
        if not _OCTAL.fullmatch(digits):
            return None
    else:
        digits, base = text, 10
        if not _DECIMAL.fullmatch(digits):
            return None
    return int(digits, base)


def _parse_ipv4(host: bytes) -> str | None:
    """``host`` as four dotted decimal parts when it is any legal IPv4 encoding (as
    ``inet_aton`` reads it: 1-4 parts, the last filling the remaining bytes), else None."""
    parts = host.split(b".")
    if not 1 <= len(parts) <= 4 or not _IPV4_CHARS.fullmatch(host):
        return None
    values = [_ipv4_part(p) for p in parts]
    if any(v is None for v in values):
        return None
    numbers = [v for v in values if v is not None]
    *head, last = numbers
    if any(v > 0xFF for v in head) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for i, part in enumerate(head):
        value += part << (8 * (3 - i))
    return str(ipaddress.IPv4Address(value))


def _is_ipv4_text(host: str) -> bool:
    """True for a canonical dotted-decimal IPv4 host."""
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def _canonical_path(path: bytes) -> bytes:
    """Resolve ``.`` and ``..`` segments and collapse runs of slashes; keeps a trailing slash
    (also after a final ``.`` or ``..``: ``/blah/..`` is ``/``)."""
    segments = path.split(b"/")[1:]
    kept: list[bytes] = []
    for segment in segments:
        if segment == b"..":
            if kept:
                kept.pop()
        elif segment not in (b"", b"."):
            kept.append(segment)
    trailing = bool(segments) and segments[-1] in (b"", b".", b"..")
    if not kept:
        return b"/"
    return b"/" + b"/".join(kept) + (b"/" if trailing else b"")
