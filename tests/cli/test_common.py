"""The shared CLI helpers: Safehold errors become ``error: <message>`` and exit status 2."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from safehold.banks.service import BankService
from safehold.cli.common import EXIT_ERROR, get_bank_service, handle_errors
from safehold.errors import NotFoundError
from safehold.settings import Settings

app = typer.Typer()


@app.command()
def fail(kind: str) -> None:
    with handle_errors():
        if kind == "safehold":
            raise NotFoundError("no bank named 'x'")
        open("/nonexistent/safehold-test-file")  # noqa: SIM115 (raises)


def test_safehold_error_exits_2_with_message() -> None:
    result = CliRunner().invoke(app, ["safehold"])
    assert result.exit_code == EXIT_ERROR == 2
    assert result.stderr == "error: no bank named 'x'\n"


def test_os_error_exits_2_naming_the_file() -> None:
    result = CliRunner().invoke(app, ["os"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: /nonexistent/safehold-test-file: ")


def test_get_bank_service_opens_the_configured_database(settings: Settings) -> None:
    service = get_bank_service()
    assert isinstance(service, BankService)
    assert service.list_banks() == []
    assert (settings.data_dir / "safehold.db").is_file()
    service.engine.dispose()
