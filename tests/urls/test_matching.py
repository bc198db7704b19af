"""Matching URLs in the service's live matcher and with the one-off matcher (SQLite and
PostgreSQL): host, path prefix, exact path and exact URL entries, bank rules, freshness."""

from __future__ import annotations

import pytest

from safehold.banks.models import NewEntry
from safehold.banks.service import BankService
from safehold.errors import ConflictError, NotFoundError
from safehold.matching import LiveMatcher
from safehold.matching.url_check import UrlMatcher, check_urls
from safehold.scanning.pipeline import builtin_signal_types
from safehold.signals.url import url_signal


def _found(matcher: LiveMatcher, url: str, **kw: object) -> list[tuple[str, str]]:
    matches = matcher.match({"url": url_signal(url)}, **kw)  # type: ignore[arg-type]
    return sorted((m.bank, m.variant or "") for m in matches)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://www.example.com/bad/page.html?x=1", "path_prefix"),  # the brief's example
        ("https://EXAMPLE.com/bad/", "path_prefix"),
        ("http://example.com/bad/../bad/deeper/x", "path_prefix"),
        ("files.example.org/share/item.html", "exact_path"),
        ("http://files.example.org/share/item.html?any=query", "exact_path"),
        ("http://www.example.net/view.php?id=7", "exact_url"),
        ("http://a.b.host.example/anything", "host"),
        ("http://host.example:8080/", "host"),
    ],
)
def test_matches(url_bank: str, url_matcher: LiveMatcher, url: str, kind: str) -> None:
    assert _found(url_matcher, url) == [(url_bank, kind)]


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/",  # above the prefix
        "http://example.com/badx/",  # not under /bad/
        "http://notexample.com/bad/",
        "http://files.example.org/share/",  # the directory of an exact path
        "http://www.example.net/view.php?id=8",  # another query
        "http://www.example.net/view.php",
        "http://example/",  # the top-level label alone is never checked
    ],
)
def test_no_match(url_bank: str, url_matcher: LiveMatcher, url: str) -> None:
    assert _found(url_matcher, url) == []


def test_match_value_and_status(url_bank: str, url_matcher: LiveMatcher) -> None:
    found = url_matcher.match_value("url", "http://www.example.com/bad/a")
    assert [(m.signal_type, m.distance, m.source) for m in found] == [("url", 0, "hotline")]
    url_matcher.refresh()
    assert url_matcher.status().entries["url"] == 4


def test_new_entries_match_without_waiting(
    url_bank: str, url_matcher: LiveMatcher, bank_service: BankService
) -> None:
    assert _found(url_matcher, "http://late.example.org/x") == []
    bank_service.add_entries("urls", [NewEntry("url", "late.example.org/")])
    assert _found(url_matcher, "http://late.example.org/x") == [("urls", "host")]


def test_bank_rules(url_bank: str, url_matcher: LiveMatcher, bank_service: BankService) -> None:
    url = "http://www.example.com/bad/page.html"
    bank_service.create_bank("second")
    bank_service.add_entries("second", [NewEntry("url", "www.example.com/bad/page.html")])
    assert _found(url_matcher, url) == [("urls", "path_prefix")]  # a new bank: next refresh
    url_matcher.refresh()
    assert _found(url_matcher, url) == [("second", "exact_path"), ("urls", "path_prefix")]
    assert _found(url_matcher, url, bank_names=["SECOND"]) == [("second", "exact_path")]
    entry = next(e for e in bank_service.iter_entries("urls") if e.value == "example.com/bad/")
    bank_service.set_entry_enabled(entry.id, False)
    bank_service.update_bank("second", enabled=False)
    url_matcher.refresh()
    assert _found(url_matcher, url) == []
    with pytest.raises(ConflictError):
        url_matcher.match({"url": url_signal(url)}, bank_names=["second"])


def test_check_urls_with_the_one_off_matcher(url_bank: str, bank_service: BankService) -> None:
    urls = ["http://www.example.com/bad/x", "mailto:someone@example.com", "example.org/"]
    checks = check_urls(urls, UrlMatcher(bank_service.engine), bank_service.engine)
    first, bad, clean = checks
    assert first.canonical == "http://www.example.com/bad/x"
    assert [(m.match.bank, m.kind, m.list_version) for m in first.matches] == [
        ("urls", "path_prefix", "2026-11-30")
    ]
    assert bad.error is not None
    assert bad.error.code == "invalid_signal"
    assert "someone" not in bad.error.message
    assert (clean.matches, clean.error) == ([], None)
    with pytest.raises(NotFoundError):
        UrlMatcher(bank_service.engine, ["missing"])


def test_scans_leave_url_out() -> None:
    assert "url" not in builtin_signal_types()
    assert {"md5", "sha256", "pdq", "vpdq"} <= set(builtin_signal_types())
