"""The shared CLI helpers: errors become ``error: <message>`` and exit status 2, bad settings
are reported by name, file names are made terminal-safe, and piped output is never wrapped."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator

import pytest
import typer
from rich.table import Table
from typer.testing import CliRunner

from safehold.banks.service import BankService
from safehold.cli.common import (
    EXIT_BROKEN_PIPE,
    EXIT_ERROR,
    count_noun,
    display_path,
    display_text,
    get_bank_service,
    handle_errors,
    load_settings,
    make_console,
)
from safehold.cli.main import app as main_app
from safehold.errors import ConfigurationError, NotFoundError
from safehold.settings import Settings, get_settings

app = typer.Typer()

HASH = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


@app.command()
def fail(kind: str) -> None:
    with handle_errors():
        if kind == "safehold":
            raise NotFoundError("no bank named 'x'")
        if kind == "settings":
            get_settings()
        if kind == "pipe":
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")
        if kind == "full":
            raise OSError(errno.ENOSPC, "No space left on device")
        if kind == "wide":
            console = make_console()
            console.print(f"a message naming {'long-name-' * 20}.jpg")
            table = Table("name", "hash")
            table.add_row("x" * 150, HASH)
            console.print(table)
            return
        open("/nonexistent/safehold-test-file")  # noqa: SIM115 (raises)


@pytest.fixture
def clean_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("SAFEHOLD_"):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_safehold_error_exits_2_with_message() -> None:
    result = CliRunner().invoke(app, ["safehold"])
    assert result.exit_code == EXIT_ERROR == 2
    assert result.stderr == "error: no bank named 'x'\n"


def test_os_error_exits_2_naming_the_file() -> None:
    result = CliRunner().invoke(app, ["os"])
    assert result.exit_code == 2
    assert result.stderr == "error: /nonexistent/safehold-test-file: No such file or directory\n"


def test_os_error_without_a_file_has_one_colon() -> None:
    result = CliRunner().invoke(app, ["full"])
    assert result.exit_code == 2
    assert result.stderr == "error: No space left on device\n"


def test_broken_pipe_exits_quietly_with_141() -> None:
    result = CliRunner().invoke(app, ["pipe"])
    assert result.exit_code == EXIT_BROKEN_PIPE == 141
    assert result.output == ""


@pytest.mark.usefixtures("clean_settings")
def test_a_bad_setting_is_named_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEHOLD_PDQ_THRESHOLD", "abc")
    result = CliRunner().invoke(app, ["settings"])
    assert result.exit_code == 2
    assert result.stderr == (
        "error: setting SAFEHOLD_PDQ_THRESHOLD: Input should be a valid integer, "
        "unable to parse string as an integer\n"
    )


@pytest.mark.usefixtures("clean_settings")
def test_every_bad_setting_is_named_and_values_are_not_echoed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SAFEHOLD_PDQ_MIN_QUALITY", "secret-ish")
    monkeypatch.setenv("SAFEHOLD_MAX_FILE_BYTES", "0")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    message = info.value.message
    assert message.startswith("setting SAFEHOLD_PDQ_MIN_QUALITY: Input should be a valid integer")
    assert "; setting SAFEHOLD_MAX_FILE_BYTES: Input should be greater than 0" in message
    assert "secret-ish" not in message


@pytest.mark.usefixtures("clean_settings")
def test_get_bank_service_reports_a_bad_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEHOLD_PDQ_MIN_QUALITY", "abc")
    with pytest.raises(ConfigurationError, match=r"^setting SAFEHOLD_PDQ_MIN_QUALITY: "):
        get_bank_service()


def test_get_bank_service_opens_the_configured_database(settings: Settings) -> None:
    service = get_bank_service()
    assert isinstance(service, BankService)
    assert service.list_banks() == []
    assert (settings.data_dir / "safehold.db").is_file()
    service.engine.dispose()


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("a\x1b[2Jb.jpg", "a\\x1b[2Jb.jpg"),  # clear-screen escape sequence
        ("line\nbreak\r\t.png", "line\\nbreak\\r\\t.png"),
        ("bell\x07del\x7fc1\x9b.jpg", "bell\\x07del\\x7fc1\\x9b.jpg"),
        ("evil\u202egpj.exe", "evil\\u202egpj.exe"),  # right-to-left override
        (os.fsdecode(b"caf\xe9.jpg"), "caf\\xe9.jpg"),  # Latin-1 byte: not UTF-8
        ("a\\x1b.jpg", "a\\\\x1b.jpg"),  # a literal backslash is doubled: unambiguous
        ("café 写真.jpg", "café 写真.jpg"),  # printable Unicode is left alone
    ],
)
def test_display_path_escapes_what_could_drive_a_terminal(name: str, shown: str) -> None:
    assert display_path(name, markup=False) == shown
    shown.encode("utf-8")  # no lone surrogates left


def test_display_path_escapes_rich_markup_by_default() -> None:
    name = "photo [bold]x[/bold].jpg"
    assert display_path(name, markup=False) == name
    rendered = display_path(name)
    console = make_console()
    with console.capture() as captured:
        console.print(rendered)
    assert captured.get() == f"{name}\n"


def test_display_text_keeps_backslashes() -> None:
    assert display_text("C:\\lists\x1b]0;title\x07", markup=False) == "C:\\lists\\x1b]0;title\\x07"


def test_count_noun() -> None:
    assert [count_noun(n, "file") for n in (0, 1, 2, 1234)] == [
        "0 files", "1 file", "2 files", "1,234 files",
    ]  # fmt: skip
    assert count_noun(1, "entry", "entries") == "1 entry"
    assert count_noun(3, "entry", "entries") == "3 entries"


def test_piped_output_is_never_wrapped_or_cut() -> None:
    result = CliRunner().invoke(app, ["wide"])  # CliRunner's stdout is not a terminal
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert f"a message naming {'long-name-' * 20}.jpg" in lines
    assert any("x" * 150 in line and HASH in line for line in lines)
    assert "…" not in result.stdout


def _complex_settings() -> list[str]:
    """Settings pydantic-settings reads as JSON (lists, dicts, sets, tuples)."""
    return [
        name
        for name, info in Settings.model_fields.items()
        if getattr(info.annotation, "__origin__", None) in (list, dict, set, tuple)
    ]


@pytest.mark.usefixtures("clean_settings")
@pytest.mark.parametrize("name", _complex_settings())
def test_a_setting_that_is_not_json_is_named_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(f"SAFEHOLD_{name.upper()}", "notjson")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert info.value.message.startswith(f"setting SAFEHOLD_{name.upper()}: not valid JSON")
    result = CliRunner().invoke(main_app, ["exchange", "list"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: setting SAFEHOLD_{name.upper()}: not valid JSON")
    assert "notjson" not in result.stderr


def test_the_list_settings_are_found() -> None:
    assert "fetch_allow_networks" in _complex_settings()
