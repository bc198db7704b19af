"""Suffix/prefix expressions against the examples of Safe Browsing's "URLs and Hashing" page
(https://developers.google.com/safe-browsing/v4/urls-hashing#suffixprefix-expressions), the
kinds of entry, and the ``url`` signal type's in-memory index."""

from __future__ import annotations

import pytest

from safehold.signals import SIGNAL_TYPES, Signal
from safehold.signals.url import UrlSignalType, query_expressions, url_signal
from safehold.signals.url_canonical import canonicalize_url
from safehold.signals.url_expressions import expression_kind, lookup_expressions


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "http://a.b.c/1/2.html?param=1",
            [
                "a.b.c/1/2.html?param=1",
                "a.b.c/1/2.html",
                "a.b.c/",
                "a.b.c/1/",
                "b.c/1/2.html?param=1",
                "b.c/1/2.html",
                "b.c/",
                "b.c/1/",
            ],
        ),
        (
            "http://a.b.c.d.e.f.g/1.html",
            [
                "a.b.c.d.e.f.g/1.html",
                "a.b.c.d.e.f.g/",
                "c.d.e.f.g/1.html",
                "c.d.e.f.g/",
                "d.e.f.g/1.html",
                "d.e.f.g/",
                "e.f.g/1.html",
                "e.f.g/",
                "f.g/1.html",
                "f.g/",
            ],
        ),
        ("http://1.2.3.4/1/", ["1.2.3.4/1/", "1.2.3.4/"]),
    ],
)
def test_google_examples(url: str, expected: list[str]) -> None:
    assert sorted(lookup_expressions(canonicalize_url(url))) == sorted(expected)
    assert len(lookup_expressions(canonicalize_url(url))) == len(expected)  # no repeats


def test_at_most_thirty_expressions() -> None:
    url = canonicalize_url("http://a.b.c.d.e.f.g/1/2/3/4/5/6.html?q=1")
    found = lookup_expressions(url)
    assert len(found) == 30
    assert found[:6] == [
        "a.b.c.d.e.f.g/1/2/3/4/5/6.html?q=1",
        "a.b.c.d.e.f.g/1/2/3/4/5/6.html",
        "a.b.c.d.e.f.g/",
        "a.b.c.d.e.f.g/1/",
        "a.b.c.d.e.f.g/1/2/",
        "a.b.c.d.e.f.g/1/2/3/",
    ]


def test_ipv6_hosts_are_checked_whole() -> None:
    found = lookup_expressions(canonicalize_url("http://[2001:db8::1]/a/b"))
    assert found == ["[2001:db8::1]/a/b", "[2001:db8::1]/", "[2001:db8::1]/a/"]


@pytest.mark.parametrize(
    ("entry", "kind"),
    [
        ("example.com", "host"),
        ("http://example.com/", "host"),
        ("example.com/bad/", "path_prefix"),
        ("example.com/bad/page.html", "exact_path"),
        ("example.com/bad/page.html?x=1", "exact_url"),
        ("example.com/?", "exact_url"),
    ],
)
def test_kind_of_entry(entry: str, kind: str) -> None:
    assert expression_kind(UrlSignalType.validate_signal(entry)) == kind


def test_signal_type_is_registered_and_hashes_no_content() -> None:
    assert SIGNAL_TYPES.get("url") is UrlSignalType
    assert UrlSignalType.content_types == frozenset()
    assert UrlSignalType.validate_signal("HTTPS://WWW.Example.COM:443/a/../b") == (
        "www.example.com/b"
    )


def test_index_matches_host_prefix_exact_and_query() -> None:
    entries = [
        (1, "example.com/"),
        (2, "example.com/bad/"),
        (3, "example.com/bad/page.html"),
        (4, "example.com/bad/page.html?x=1"),
        (5, "other.example/"),
    ]
    index = UrlSignalType.build_index(entries)
    hits = index.query(url_signal("http://www.example.com/bad/page.html?x=1"), 0)
    assert sorted((h.entry_id, h.distance, h.variant) for h in hits) == [
        (1, 0, "host"),
        (2, 0, "path_prefix"),
        (3, 0, "exact_path"),
        (4, 0, "exact_url"),
    ]
    other_query = index.query(url_signal("https://example.com/bad/page.html?x=2"), 0)
    assert sorted(h.entry_id for h in other_query) == [1, 2, 3]
    assert [h.entry_id for h in index.query(url_signal("example.com/good/"), 0)] == [1]
    assert index.query(url_signal("http://notexample.com/bad/"), 0) == []
    assert len(index) == 5


def test_distance() -> None:
    assert UrlSignalType.distance("www.example.com/bad/x.html", "example.com/bad/") == 0
    assert UrlSignalType.distance("example.com/", "www.example.com/a") == 0
    assert UrlSignalType.distance("example.com/a", "example.com/b") == 1


def test_query_expressions_of_a_signal() -> None:
    signal = Signal("url", "www.example.com/a/b.html")
    assert query_expressions(signal) == [
        "www.example.com/a/b.html",
        "www.example.com/",
        "www.example.com/a/",
        "example.com/a/b.html",
        "example.com/",
        "example.com/a/",
    ]
