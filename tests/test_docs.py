"""Docs that tests check: every setting and every CLI command is documented."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from safehold.settings import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"
README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_documented(field: str) -> None:
    assert f"`SAFEHOLD_{field.upper()}`" in (DOCS / "settings.md").read_text()


def _command_paths() -> list[str]:
    from safehold.cli.main import app

    root = typer.main.get_command(app)
    paths: list[str] = []

    def walk(cmd: object, prefix: str) -> None:
        subcommands = getattr(cmd, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                walk(sub, f"{prefix} {name}".strip())
        else:
            paths.append(prefix)

    walk(root, "")
    return sorted(paths)


@pytest.mark.parametrize("command", _command_paths())
def test_every_command_is_documented(command: str) -> None:
    text = README.read_text() + "".join(p.read_text() for p in DOCS.glob("*.md"))
    assert f"safehold {command}" in text
