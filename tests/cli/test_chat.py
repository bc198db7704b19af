"""``safehold chat score|evaluate|generate|train``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from safehold.cli.main import app
from safehold.settings import Settings

runner = CliRunner()


@pytest.fixture
def chats(tmp_path: Path, settings: Settings) -> Path:
    path = tmp_path / "dev.jsonl"
    result = runner.invoke(
        app,
        [
            "chat",
            "generate",
            "--split",
            "dev",
            "--grooming",
            "3",
            "--negative",
            "3",
            "-o",
            str(path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "wrote 6 conversations" in result.stdout
    return path


def test_score_table_and_json(chats: Path) -> None:
    table = runner.invoke(app, ["chat", "score", str(chats)])
    assert table.exit_code == 0, table.output
    assert "dev-0" in table.stdout
    assert "action" in table.stdout
    as_json = runner.invoke(app, ["chat", "score", str(chats), "--format", "json"])
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [r["conversation_id"] for r in rows] == [f"dev-{i}" for i in range(6)]
    assert all(r["action"] in ("review", "urgent") for r in rows[:3])
    assert {"score", "level", "indicators", "reasons", "escalation"} <= set(rows[0])


def test_score_pan_xml(settings: Settings) -> None:
    data = Path(__file__).resolve().parents[1] / "grooming" / "data"
    result = runner.invoke(
        app,
        [
            "chat",
            "score",
            str(data / "pan_sample.xml"),
            "--format",
            "json",
            "--predators",
            str(data / "pan_sample_predators.txt"),
        ],
    )
    assert result.exit_code == 0, result.output
    first = json.loads(result.stdout.splitlines()[0])
    assert first["sender"] == "aaa111"
    assert first["action"] in ("review", "urgent")


def test_evaluate_json(chats: Path) -> None:
    result = runner.invoke(app, ["chat", "evaluate", str(chats), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["grooming"] == 3
    assert report["negatives"] == 3
    assert report["per_conversation"]["f05"] == 1.0
    table = runner.invoke(app, ["chat", "evaluate", str(chats), "--skepticism", "1"])
    assert "latency-weighted F1" in table.stdout


def test_train_then_score_with_model(chats: Path, tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    model = tmp_path / "model.json"
    trained = runner.invoke(app, ["chat", "train", str(chats), "-o", str(model)])
    assert trained.exit_code == 0, trained.output
    scored = runner.invoke(
        app, ["chat", "score", str(chats), "--format", "json", "--model", str(model)]
    )
    assert scored.exit_code == 0, scored.output
    assert "classifier-" in json.loads(scored.stdout.splitlines()[0])["model"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["chat", "score", "missing.jsonl"], "missing.jsonl"),
        (["chat", "score", "{chats}", "--format", "xml"], "--format must be"),
        (["chat", "score", "{chats}", "--detector", "nope"], "unknown grooming detector"),
        (["chat", "evaluate", "synthetic:test"], "unknown split"),
    ],
)
def test_errors_exit_2(chats: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, [a.replace("{chats}", str(chats)) for a in args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_bad_jsonl_names_the_line(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "c", "messages": []}\n{oops\n')
    result = runner.invoke(app, ["chat", "score", str(path)])
    assert result.exit_code == 1  # line 1 was still scored (docs/grooming.md, Output)
    assert "line 2: not JSON" in result.output
