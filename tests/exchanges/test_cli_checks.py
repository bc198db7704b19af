"""``safehold exchange add`` refuses settings and credentials that could never work, a list
with only bad rows is a failed fetch that counts them, failures are reported once, and the
fetch summary writes every number the same way."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from safehold.banks.service import BankService
from safehold.cli.main import app

runner = CliRunner()


def _md5s(count: int) -> list[str]:
    """md5 digests of benign text (hashlib, the reference implementation)."""
    return [hashlib.md5(f"benign cli check {i}".encode()).hexdigest() for i in range(count)]


@pytest.mark.parametrize(
    ("kind", "settings", "credentials", "message"),
    [
        ("list", ["url=file:///etc/passwd"], None,
         "the setting url must be an http or https URL: 'file' URLs are refused"),
        ("list", ["url=ftp://lists.example/l.txt"], None, "'ftp' URLs are refused"),
        ("list", ["path=/tmp/l.txt", "signal_type=bogus"], None, "unknown signal type 'bogus'"),
        ("list", ["path=/tmp/l.txt", "format=bogus"], None, "unknown bank file format"),
        ("list", ["path=/tmp/l.txt", "category=nocolon"], None, "must be written scheme:code"),
        ("list", ["path=/tmp/l.txt"], {"api_key": "k"},
         "list exchanges take no credential 'api_key' (known: none)"),
        ("ncmec", ["environment=bogus"], {"username": "u", "password": "p"},
         "unknown NCMEC environment 'bogus'"),
        ("ncmec", ["base_url=file:///x"], {"username": "u", "password": "p"}, "URLs are refused"),
        ("ncmec", [], {"username": "u", "password": "p", "pasword": "typo"},
         "ncmec exchanges take no credential 'pasword' (known: username, password)"),
        ("stopncii", ["page_size=abc"], {"subscription_key": "s", "fetch_function_key": "f"},
         "page_size must be a whole number from 1 to 10000"),
        ("threatexchange", ["privacy_group=x/../y"], {"access_token": "1|t"},
         "privacy_group must be the group's numeric id"),
        ("threatexchange", ["privacy_group=1", "page_size=0"], {"access_token": "1|t"},
         "page_size must be a whole number from 1 to 10000"),
    ],
)  # fmt: skip
def test_add_refuses_what_could_never_fetch(
    cli_env: None,
    tmp_path: Path,
    kind: str,
    settings: list[str],
    credentials: dict[str, str] | None,
    message: str,
) -> None:
    args = ["exchange", "add", "x", kind, "lists"]
    for setting in settings:
        args += ["-s", setting]
    if credentials is not None:
        creds = tmp_path / "creds.json"
        creds.write_text(json.dumps(credentials))
        args += ["--credentials-file", str(creds)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert runner.invoke(app, ["exchange", "list", "--json"]).stdout == ""  # nothing stored


def test_a_list_of_only_bad_rows_fails_with_the_count_once(
    cli_env: None, tmp_path: Path, bank_service: BankService
) -> None:
    path = tmp_path / "l.txt"
    path.write_text("".join(f"user{i}:x:{i}:{i}::/home/user{i}:/bin/sh\n" for i in range(30)))
    added = runner.invoke(
        app,
        ["exchange", "add", "lx", "list", "lists", "-s", f"path={path}", "-s", "signal_type=md5"],
    )
    assert added.exit_code == 0, added.output
    failed = runner.invoke(app, ["exchange", "fetch", "lx"])  # no earlier records
    assert failed.exit_code == 2
    assert failed.stderr == (
        "error: the list has no usable rows (30 bad; the first: line 1: an md5 hash contains "
        "characters that are not hexadecimal digits (0-9, a-f)); nothing was applied and the "
        "bank keeps its entries\n"
    )
    status = json.loads(runner.invoke(app, ["exchange", "status", "lx", "--json"]).stdout)
    assert (status["failures"], status["last_success_at"]) == (1, None)

    good = _md5s(10)
    path.write_text("\n".join(good) + "\n")
    assert runner.invoke(app, ["exchange", "fetch", "lx"]).exit_code == 0
    path.write_text("not a hash\nnor this\n")  # earlier records: the same reason, not "empty"
    again = runner.invoke(app, ["exchange", "fetch", "lx"])
    assert again.exit_code == 2
    assert again.stderr.startswith("error: the list has no usable rows (2 bad; the first: line 1")
    assert again.stderr.count("no usable rows") == 1
    assert {e.value for e in bank_service.iter_entries("lists")} == set(good)


def test_the_fetch_summary_groups_every_count(
    cli_env: None, tmp_path: Path, bank_service: BankService
) -> None:
    path = tmp_path / "l.txt"
    path.write_text("\n".join(_md5s(2500)) + "\nbad row\n")
    runner.invoke(
        app,
        ["exchange", "add", "lx", "list", "lists", "-s", f"path={path}", "-s", "signal_type=md5"],
    )
    result = runner.invoke(app, ["exchange", "fetch", "lx"])
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "lx: 2,500 record updates in 1 batch, 2,500 added, 0 removed, 1 skipped, caught up\n"
    )
    assert bank_service.get_bank("lists").entry_count == 2500
