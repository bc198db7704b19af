"""``safehold url`` end to end through Typer's CliRunner (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from safehold.banks.service import BankService
from safehold.banks.url_lists import list_version_of
from safehold.cli import url

# Wide enough that Rich never truncates a table cell.
runner = CliRunner(env={"COLUMNS": "250"})


def invoke(*args: str, stdin: str | None = None) -> Result:
    return runner.invoke(url.app, list(args), input=stdin)


def test_import_reports_bad_rows_by_line(bank_service: BankService, tmp_path: Path) -> None:
    bank_service.create_bank("iwf")
    listing = tmp_path / "list.txt"
    listing.write_text("example.com/a/\nftp://example.com/\n\nhttp://[zz]/\nexample.org/\n")
    result = invoke("import", "iwf", str(listing), "--list-version", "42", "--source", "iwf")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "iwf: 2 added, 0 duplicates skipped, 2 bad rows",
        "  line 2: only http and https URLs can be listed and checked",
        "  line 4: the URL's bracketed host is not an IPv6 address",
    ]
    stored = sorted(
        (e.value, list_version_of(e.note), e.source) for e in bank_service.iter_entries("iwf")
    )
    assert stored == [("example.com/a/", "42", "iwf"), ("example.org/", "42", "iwf")]


def test_import_csv_from_stdin_and_nothing_read(bank_service: BankService) -> None:
    bank_service.create_bank("iwf")
    result = invoke("import", "iwf", "-", stdin="url,list_version\nexample.com/x,7\n")
    assert result.exit_code == 0, result.output
    assert "iwf: 1 added" in result.stderr
    empty = invoke("import", "iwf", "-", stdin="# nothing here\nmailto:someone@example.com\n")
    assert empty.exit_code == 1
    assert "error: nothing could be read from standard input" in empty.stderr
    missing = invoke("import", "nosuch", "-", stdin="example.com/\n")
    assert missing.exit_code == 2
    assert "no bank named 'nosuch'" in missing.stderr


@pytest.mark.usefixtures("url_bank")
def test_check_exit_statuses_and_json() -> None:
    match = invoke("check", "--json", "http://www.example.com/bad/page.html?x=1")
    assert match.exit_code == 1, match.output
    assert json.loads(match.stdout) == {
        "url": "http://www.example.com/bad/page.html?x=1",
        "canonical": "http://www.example.com/bad/page.html?x=1",
        "match": True,
        "matches": [
            {
                "bank": "urls",
                "entry_id": 1,
                "kind": "path_prefix",
                "list_version": "2026-11-30",
                "category": None,
                "source": "hotline",
            }
        ],
        "error": None,
    }
    assert invoke("check", "http://example.org/").exit_code == 0
    assert invoke("check", "ftp://example.org/").exit_code == 4
    both = invoke("check", "ftp://example.org/", "http://sub.host.example/")
    assert both.exit_code == 5
    assert "match: urls entry 4 (host, list version 2026-11-30)" in both.stdout
    assert "error (invalid_signal): only http and https" in both.stdout
    assert invoke("check", "--bank", "missing", "example.org/").exit_code == 2


def test_check_with_nothing_to_match(bank_service: BankService) -> None:
    result = invoke("check", "http://example.org/")
    assert result.exit_code == 8
    assert "no enabled url entries to match against" in result.stderr
    assert invoke("check", "ftp://x/").exit_code == 12


def test_canonicalize() -> None:
    result = invoke("canonicalize", "--json", "HTTP://A.B.C:80/1/./2.html?param=1#top")
    assert result.exit_code == 0
    shown = json.loads(result.stdout)
    assert shown["canonical"] == "http://a.b.c/1/2.html?param=1"
    assert shown["kind"] == "exact_url"
    assert len(shown["lookups"]) == 8
    assert invoke("canonicalize", "http:///x").exit_code == 4
