"""URL list files: plain and CSV readers, bad rows by line, list versions kept on entries."""

from __future__ import annotations

import io

import pytest

from safehold.banks.lines import PLAIN_LINE_LIMIT, DecodedLines
from safehold.banks.models import Category, NewEntry
from safehold.banks.service import BankService
from safehold.banks.url_lists import (
    check_list_version,
    list_version_of,
    note_with_version,
    read_url_list,
    sniff_url_format,
)
from safehold.errors import FormatError, InvalidInputError

from .conftest import read_list


def _errors(items: list[object]) -> list[tuple[int | None, str]]:
    return [(i.line, i.message) for i in items if isinstance(i, FormatError)]


def _entries(items: list[object]) -> list[NewEntry]:
    return [i for i in items if isinstance(i, NewEntry)]


def test_plain_list_with_version_header_comments_and_bad_rows() -> None:
    text = (
        "# Example list\n"
        "# version: v2026.11\n"
        "\n"
        "http://www.example.com/a/#frag\n"
        "ftp://example.com/file\n"
        "   example.org/dir/   \n"
        "# list-version: ignored-after-the-first-url\n"
        "http:///no-host\n"
    )
    items = read_list(text, source="hotline")
    assert [(e.signal_type, e.value, e.note, e.source) for e in _entries(items)] == [
        ("url", "www.example.com/a/", "list-version: v2026.11", "hotline"),
        ("url", "example.org/dir/", "list-version: v2026.11", "hotline"),
    ]
    assert _errors(items) == [
        (5, "line 5: only http and https URLs can be listed and checked"),
        (8, "line 8: the URL has no host"),
    ]


def test_list_version_option_wins_and_is_checked() -> None:
    items = read_list("# version: old\nexample.com/\n", list_version="2026-12-01")
    assert [e.note for e in _entries(items)] == ["list-version: 2026-12-01"]
    with pytest.raises(InvalidInputError, match="a list version is 1-64"):
        read_list("example.com/\n", list_version="has space")
    assert check_list_version(" 7 ") == "7"


def test_csv_list_with_columns() -> None:
    text = (
        "URL,category,note,list_version,ignored\n"
        "http://example.com/a.html,iwf:url,seen twice,,x\n"
        '"https://example.org/q?a=1,2",,,v3,\n'
        ",,,,\n"
        "example.net/,not-a-category,,,\n"
        "example.edu/,,,bad version,\n"
    )
    items = read_list(text, "csv", category=Category("local", "urls"), source="s")
    assert [(e.value, e.category, e.note) for e in _entries(items)] == [
        ("example.com/a.html", Category("iwf", "url"), "seen twice"),
        ("example.org/q?a=1,2", Category("local", "urls"), "list-version: v3"),
    ]
    assert [line for line, _ in _errors(items)] == [5, 6]
    assert "scheme:code" in _errors(items)[0][1]
    assert "a list version is 1-64" in _errors(items)[1][1]


def test_csv_rows_the_database_would_refuse_are_bad_rows() -> None:
    text = f"url,note,source\nexample.com/a,has\x00nul,\nexample.com/b,,{'s' * 201}\n"
    items = read_list(text, "csv")
    assert _errors(items) == [
        (2, "line 2: note contains a NUL character"),
        (3, "line 3: source is 201 characters long; the limit is 200"),
    ]
    with pytest.raises(InvalidInputError, match="source is 201 characters"):
        read_list("example.com/", source="s" * 201)


def test_csv_without_header_reads_the_first_column() -> None:
    items = read_list("example.com/x,anything\nexample.com/y\n", "csv")
    assert [e.value for e in _entries(items)] == ["example.com/x", "example.com/y"]


def test_undecodable_line_is_a_bad_row() -> None:
    data = b"example.com/a\n\xff\xfe not utf-8\nexample.com/b\n"
    lines = DecodedLines(io.BytesIO(data), max_line_bytes=PLAIN_LINE_LIMIT)
    items = list(read_url_list(lines, "plain"))
    assert [e.value for e in _entries(items)] == ["example.com/a", "example.com/b"]
    assert _errors(items) == [(2, "line 2: not UTF-8 text (re-save the file as UTF-8)")]


def test_sniff_and_unknown_format() -> None:
    assert sniff_url_format(["# c\n", "\n", "url,category\n"]) == "csv"
    assert sniff_url_format(["http://example.com/a,b\n"]) == "plain"
    with pytest.raises(InvalidInputError, match="plain or csv"):
        read_list("example.com/", "json")


def test_version_notes() -> None:
    assert note_with_version("v1") == "list-version: v1"
    assert note_with_version("v1", "seen") == "list-version: v1; seen"
    assert note_with_version(None, "seen") == "seen"
    assert list_version_of("list-version: v1; seen") == "v1"
    assert list_version_of("list-version: 2026-11-30") == "2026-11-30"
    assert list_version_of("tags: a") is None


def test_import_keeps_versions_and_skips_duplicates(bank_service: BankService) -> None:
    bank_service.create_bank("urls")
    first = _entries(read_list("# version: 1\nexample.com/\nexample.com/a?b\n"))
    assert bank_service.add_entries("urls", first, validated=True) == 2
    again = _entries(read_list("# version: 2\nhttp://EXAMPLE.com\nexample.com/c\n"))
    assert bank_service.add_entries("urls", again, validated=True) == 1  # one duplicate
    stored = {e.value: list_version_of(e.note) for e in bank_service.iter_entries("urls")}
    assert stored == {"example.com/": "1", "example.com/a?b": "1", "example.com/c": "2"}


def test_an_over_long_first_line_is_a_bad_row_not_a_crash() -> None:
    # Over the csv module's 128 KiB field limit: the sniffer must not raise csv.Error.
    body = b"http://" + b"x" * 2_000_000 + b"\nhttp://a.example/\n"
    lines = DecodedLines(io.BytesIO(body), name="f", max_line_bytes=64 * 1024 * 1024)
    fmt = sniff_url_format(lines.head(64))
    assert fmt == "plain"
    items = list(read_url_list(lines, fmt))
    assert _errors(items) == [(1, "line 1: a URL is at most 8192 bytes (got 2000007)")]
    assert [e.value for e in _entries(items)] == ["a.example/"]


def test_a_quote_left_open_in_a_csv_list_is_malformed() -> None:
    body = b'url\nhttp://a.example/\n"http://c4.example/,x\n'
    lines = DecodedLines(io.BytesIO(body), name="f", max_line_bytes=PLAIN_LINE_LIMIT)
    items = list(read_url_list(lines, "csv"))
    assert [e.value for e in _entries(items)] == ["a.example/"]
    assert _errors(items) == [(3, "line 3: malformed CSV (unexpected end of data)")]
