"""URL canonicalisation against the test cases Google publishes for Safe Browsing.

``GOOGLE_CASES`` is the "Canonicalize(...)" list of Safe Browsing's "URLs and Hashing" page,
taken verbatim (same inputs, same expected outputs, same order):
https://developers.google.com/safe-browsing/v4/urls-hashing#canonicalization
(repeated word for word on Web Risk's https://cloud.google.com/web-risk/docs/urls-hashing).
The pseudo-C string literals of the page are written as Python literals: ``"\\t"`` is a tab,
and ``"http://\\x01\\x80.com/"`` is a byte string (the page's C literal holds the bytes 0x01
and 0x80, not UTF-8 text).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from safehold.errors import InvalidSignalError
from safehold.signals.url_canonical import MAX_URL_BYTES, canonicalize_url

GOOGLE_CASES: list[tuple[str | bytes, str]] = [
    ("http://host/%25%32%35", "http://host/%25"),
    ("http://host/%25%32%35%25%32%35", "http://host/%25%25"),
    ("http://host/%2525252525252525", "http://host/%25"),
    ("http://host/asdf%25%32%35asd", "http://host/asdf%25asd"),
    ("http://host/%%%25%32%35asd%%", "http://host/%25%25%25asd%25%25"),
    ("http://www.google.com/", "http://www.google.com/"),
    (
        "http://%31%36%38%2e%31%38%38%2e%39%39%2e%32%36/%2E%73%65%63%75%72%65/%77%77%77%2E%65%62%61%79%2E%63%6F%6D/",
        "http://168.188.99.26/.secure/www.ebay.com/",
    ),
    (
        "http://195.127.0.11/uploads/%20%20%20%20/.verify/.eBaysecure=updateuserdataxplimnbqmn-xplmvalidateinfoswqpcmlx=hgplmcx/",
        "http://195.127.0.11/uploads/%20%20%20%20/.verify/.eBaysecure=updateuserdataxplimnbqmn-xplmvalidateinfoswqpcmlx=hgplmcx/",
    ),
    (
        "http://host%23.com/%257Ea%2521b%2540c%2523d%2524e%25f%255E00%252611%252A22%252833%252944_55%252B",
        "http://host%23.com/~a!b@c%23d$e%25f^00&11*22(33)44_55+",
    ),
    ("http://3279880203/blah", "http://195.127.0.11/blah"),
    ("http://www.google.com/blah/..", "http://www.google.com/"),
    ("www.google.com/", "http://www.google.com/"),
    ("www.google.com", "http://www.google.com/"),
    ("http://www.evil.com/blah#frag", "http://www.evil.com/blah"),
    ("http://www.GOOgle.com/", "http://www.google.com/"),
    ("http://www.google.com.../", "http://www.google.com/"),
    ("http://www.google.com/foo\tbar\rbaz\n2", "http://www.google.com/foobarbaz2"),
    ("http://www.google.com/q?", "http://www.google.com/q?"),
    ("http://www.google.com/q?r?", "http://www.google.com/q?r?"),
    ("http://www.google.com/q?r?s", "http://www.google.com/q?r?s"),
    ("http://evil.com/foo#bar#baz", "http://evil.com/foo"),
    ("http://evil.com/foo;", "http://evil.com/foo;"),
    ("http://evil.com/foo?bar;", "http://evil.com/foo?bar;"),
    (b"http://\x01\x80.com/", "http://%01%80.com/"),
    ("http://notrailingslash.com", "http://notrailingslash.com/"),
    ("http://www.gotaport.com:1234/", "http://www.gotaport.com/"),
    ("  http://www.google.com/  ", "http://www.google.com/"),
    ("http:// leadingspace.com/", "http://%20leadingspace.com/"),
    ("http://%20leadingspace.com/", "http://%20leadingspace.com/"),
    ("%20leadingspace.com/", "http://%20leadingspace.com/"),
    ("https://www.securesite.com/", "https://www.securesite.com/"),
    ("http://host.com/ab%23cd", "http://host.com/ab%23cd"),
    ("http://host.com//twoslashes?more//slashes", "http://host.com/twoslashes?more//slashes"),
]


def test_the_published_list_is_complete() -> None:
    assert len(GOOGLE_CASES) == 33


@pytest.mark.parametrize(("url", "expected"), GOOGLE_CASES)
def test_google_canonicalization_cases(url: str | bytes, expected: str) -> None:
    assert canonicalize_url(url).url == expected


# Host rules the published list has no case for, from the same page's rules (and, for IPv6,
# the rules of https://developers.google.com/safe-browsing/reference/URLs.and.Hashing).
@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://0x7f.1/", "127.0.0.1"),  # hex, fewer than four parts
        ("http://0300.0250.0.01/", "192.168.0.1"),  # octal parts
        ("http://10.1/", "10.0.0.1"),
        ("http://1.2.65535/", "1.2.255.255"),  # the last part fills two bytes
        ("http://1.2.65536/", "1.2.65536"),  # over: not an IPv4 address, a name
        ("http://1.2.3.4.5/", "1.2.3.4.5"),
        ("http://08.1.2.3/", "08.1.2.3"),  # 8 is no octal digit: a name
        ("http://[2001:0db8:0000::1]/", "[2001:db8::1]"),
        ("http://[::ffff:1.2.3.4]/", "1.2.3.4"),
        ("http://[64:ff9b::1.2.3.4]/", "1.2.3.4"),
        ("http://[2001:DB8::1]:8080/x", "[2001:db8::1]"),
        ("http://...www..example...com.../", "www.example.com"),
        ("http://user:secret@Example.COM:8080/", "example.com"),
        ("http://b\u00fccher.example/", "xn--bcher-kva.example"),  # IDNA (Punycode)
        ("http://B%C3%BCcher.example/", "xn--bcher-kva.example"),  # escaped UTF-8, then IDNA
    ],
)
def test_hosts(url: str, host: str) -> None:
    assert canonicalize_url(url).host == host


def test_parts_and_expression() -> None:
    url = canonicalize_url("HTTPS://WWW.Example.com:443/a/./b/../c//d.html?Q=1&r=%41#top")
    assert (url.scheme, url.host, url.path, url.query) == (
        "https",
        "www.example.com",
        "/a/c/d.html",
        "Q=1&r=A",
    )
    assert url.expression == "www.example.com/a/c/d.html?Q=1&r=A"
    assert url.url == "https://www.example.com/a/c/d.html?Q=1&r=A"


def test_an_escaped_question_mark_in_the_path_starts_the_query() -> None:
    url = canonicalize_url("http://h.example/a%3Fb?c")
    assert (url.path, url.query, url.url) == ("/a", "b?c", "http://h.example/a?b?c")
    assert canonicalize_url(url.url) == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "empty"),
        (" \t\r\n", "empty"),
        ("ftp://example.com/file", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("http:///path", "no host"),
        ("http://.../", "no host"),
        ("http://example.com:80a/", "port is not a number"),
        ("http://[2001:db8::1/", "no closing bracket"),
        ("http://[not-ipv6]/", "not an IPv6 address"),
        ("http://[fe80::1%25eth0]/", "not an IPv6 address"),
        ("http://a%2Fb.example/", "host contains an escaped '/' or '?'"),
        ("http://example.com/" + "a" * MAX_URL_BYTES, f"at most {MAX_URL_BYTES} bytes"),
    ],
)
def test_refused(url: str, reason: str) -> None:
    with pytest.raises(InvalidSignalError) as info:
        canonicalize_url(url)
    assert reason in info.value.message
    if len(url) > 20:
        assert url[7:27] not in info.value.message  # the URL is never quoted


@given(st.text(max_size=80))
def test_canonical_form_is_stable(text: str) -> None:
    try:
        first = canonicalize_url(text)
    except InvalidSignalError:
        return
    again = canonicalize_url(first.url)
    assert again.url == first.url
    assert first.url.isascii()
    assert first.url.isprintable()


@given(st.binary(max_size=80))
def test_any_bytes_canonicalise_or_are_refused(data: bytes) -> None:
    try:
        first = canonicalize_url(data)
    except InvalidSignalError:
        return
    assert canonicalize_url(first.url) == first
