"""``safehold chat``: bad input loses nothing, clean errors, exit statuses, help texts
(synthetic, non-explicit conversations; the pattern detector, so no model loads)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from safehold.cli.main import app
from safehold.grooming.synthetic import SPLITS
from safehold.settings import Settings, get_settings

runner = CliRunner()

GROOMING = [
    ("a", "you are so mature for your age"),
    ("a", "how old are you"),
    ("b", "13"),
    ("a", "are your parents home"),
    ("a", "keep this a secret between us"),
    ("a", "send me a photo of you"),
]


def _conv(conv_id: str, lines: list[tuple[str, str]], **extra: object) -> str:
    messages = [{"sender": who, "text": text} for who, text in lines]
    return json.dumps({"id": conv_id, "messages": messages, **extra})


@pytest.fixture
def pattern(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SAFEHOLD_GROOMING_DETECTOR", "pattern")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["chat", *args])
    return result.exit_code, result.stdout, result.stderr


def test_score_keeps_good_lines_and_reports_bad_ones(tmp_path: Path, pattern: None) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(
        _conv("ok1", [("a", "how old are you"), ("b", "13")])
        + "\n"
        + '{"id": "broken", "messages": [\n'
        + _conv("ok2", [("a", "are your parents home")])
        + "\n"
        + _conv("ok1", [("a", "hi")])
        + "\n"
    )
    code, out, err = _run("score", str(path), "--format", "json")
    assert code == 1
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r.get("conversation_id") or r["line"] for r in rows] == ["ok1", 2, "ok2", 4]
    assert rows[1]["error"] == {
        "type": "format_error",
        "message": "line 2: not JSON (Expecting value)",
    }
    assert "already used" in rows[3]["error"]["message"]
    assert err.splitlines() == [
        "error: line 2: not JSON (Expecting value)",
        "error: line 4: conversation id 'ok1' was already used by an earlier line",
    ]
    code, out, err = _run("score", str(path))
    assert code == 1
    assert "ok1" in out
    assert "ok2" in out
    assert "error: line 2: not JSON" in err


def test_score_exits_2_when_nothing_could_be_read(tmp_path: Path, pattern: None) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("{oops\n[1]\n")
    code, out, err = _run("score", str(path))
    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        "error: line 1: not JSON (Expecting property name enclosed in double quotes)",
        "error: line 2: a conversation must be a JSON object",
    ]


def test_score_accepts_a_bom(tmp_path: Path, pattern: None) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + _conv("bom", [("a", "hi")]).encode() + b"\n")
    code, out, _ = _run("score", str(path), "--format", "json")
    assert code == 0
    assert json.loads(out)["conversation_id"] == "bom"


def test_why_shows_the_behaviour_chain(tmp_path: Path, pattern: None) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(_conv("g", [("a", "how old are you"), ("b", "13")]) + "\n")
    _, out, _ = _run("score", str(path), "--format", "json")
    reasons = json.loads(out)["reasons"]
    assert len(reasons) >= 2
    assert reasons[0].startswith("a: ")
    code, table, _ = _run("score", str(path))
    assert code == 0
    assert reasons[0] in table
    assert reasons[-1] not in table


def test_score_skepticism_reports_the_first_warning(tmp_path: Path, pattern: None) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(_conv("g", GROOMING) + "\n" + _conv("n", [("a", "nice goal")]) + "\n")
    code, out, _ = _run("score", str(path), "--format", "json", "--skepticism", "1")
    assert code == 0
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["first_warning"]["action"] in ("review", "urgent")
    assert first["first_warning"]["message_id"] == str(first["first_warning"]["message_index"] + 1)
    assert second["first_warning"] is None
    later = json.loads(
        _run("score", str(path), "--format", "json", "--skepticism", "3")[1].split("\n")[0]
    )
    assert later["first_warning"]["message_index"] >= first["first_warning"]["message_index"]
    _, table, _ = _run("score", str(path), "--skepticism", "2")
    assert "warned at" in table
    plain = json.loads(_run("score", str(path), "--format", "json")[1].split("\n")[0])
    assert "first_warning" not in plain
    code, _, err = _run("score", str(path), "--skepticism", "0")
    assert code == 2
    assert "--skepticism" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["score", "{pan}", "--predators", "{bin}"], "not a predator id list (not UTF-8 text)"),
        (["score", "{chats}", "--model", "{short}"], "'text_coef' has shape (1,), expected (2,)"),
        (["score", "{wrong}"], "not PAN-2012 XML (root element <root>, expected <conversations>)"),
        (["score", "{chats}", "--detector", "nope"], "(known: auto, embedding, pattern)"),
        (["evaluate", "{chats}", "--detector", "nope"], "(known: auto, embedding, pattern)"),
        (["evaluate", "{chats}"], "none of the 1 conversations is labelled"),
        (["evaluate", "{pan}"], "none of the 1 conversations is labelled"),
        (["generate", "-o", "{nodir}/g.jsonl"], "folder {nodir} does not exist"),
        (["train", "{chats}", "-o", "{nodir}/m.json"], "folder {nodir} does not exist"),
    ],
)
def test_clean_errors_exit_2(tmp_path: Path, pattern: None, args: list[str], message: str) -> None:
    files = {
        "chats": tmp_path / "c.jsonl",
        "pan": tmp_path / "pan.xml",
        "bin": tmp_path / "preds.bin",
        "short": tmp_path / "m_short.json",
        "wrong": tmp_path / "wrong.xml",
        "nodir": tmp_path / "nodir",
    }
    files["chats"].write_text(_conv("c", [("a", "hi")]) + "\n")
    files["pan"].write_text(
        '<conversations><conversation id="p"><message line="1"><author>aa</author>'
        "<text>hi</text></message></conversation></conversations>"
    )
    files["bin"].write_bytes(bytes(range(128, 256)))
    from safehold.grooming.features import FEATURE_NAMES

    n = len(FEATURE_NAMES)
    files["short"].write_text(
        json.dumps(
            {
                "format": "safehold-grooming-classifier",
                "version": 1,
                "features": list(FEATURE_NAMES),
                "vocabulary": {"hi": 0, "old": 1},
                "idf": [1.0, 1.0],
                "text_coef": [0.5],
                "feature_coef": [0.0] * n,
                "feature_mean": [0.0] * n,
                "feature_scale": [1.0] * n,
                "intercept": 0.0,
            }
        )
    )
    files["wrong"].write_text('<root><chat id="x"><msg>hi</msg></chat></root>')
    fill = {f"{{{k}}}": str(v) for k, v in files.items()}

    def sub(text: str) -> str:
        for key, value in fill.items():
            text = text.replace(key, value)
        return text

    code, out, err = _run(*(sub(a) for a in args))
    assert code == 2, out + err
    assert sub(message) in err
    assert ".tmp" not in err
    assert "Traceback" not in err


def _pan(tmp_path: Path) -> tuple[Path, Path]:
    xml = tmp_path / "pan.xml"
    xml.write_text(
        '<conversations><conversation id="p1">'
        + "".join(
            f'<message line="{i}"><author>{who}</author><text>{text}</text></message>'
            for i, (who, text) in enumerate(GROOMING, start=1)
        )
        + '</conversation><conversation id="p2"><message line="1"><author>cc</author>'
        "<text>did you see the match</text></message></conversation>"
        '<conversation id="p3"><message line="1"><time>03:20</time><text>no author</text>'
        "</message></conversation></conversations>"
    )
    preds = tmp_path / "preds.txt"
    preds.write_text("a\nnobody\n")
    return xml, preds


def test_evaluate_warns_of_unknown_predators_and_reports_bad_conversations(
    tmp_path: Path, pattern: None
) -> None:
    xml, preds = _pan(tmp_path)
    code, out, err = _run("evaluate", str(xml), "--predators", str(preds), "--json")
    assert code == 1
    report = json.loads(out)
    assert (report["grooming"], report["negatives"]) == (1, 1)
    assert err.splitlines() == [
        f"warning: 1 of 2 predator ids are authors of no conversation in {xml}: nobody",
        "error: conversation 'p3': message 1 (line='1') has no <author>; every message needs one",
    ]


def test_evaluate_families_shared_by_both_kinds(tmp_path: Path, pattern: None) -> None:
    path = tmp_path / "own.jsonl"
    groom = {"grooming": True, "groomers": ["a"], "family": "own"}
    other = {"grooming": False, "family": "own"}
    path.write_text(
        _conv("g", GROOMING, label=groom)
        + "\n"
        + _conv("n", [("a", "nice goal"), ("b", "thanks")], label=other)
        + "\n"
        + _conv("u", [("a", "hi")], label={"grooming": False})
        + "\n"
    )
    code, out, _ = _run("evaluate", str(path), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["per_conversation"]["tp"] == 1
    assert report["false_positive_rate_by_family"] == {"": 0.0, "own": 0.0}
    assert report["recall_by_family"] == {"own": 1.0}
    _, table, _ = _run("evaluate", str(path))
    assert "false positives: own" in table
    assert "recall: own" in table
    assert "false positives: (no family)" in table


def test_evaluate_refuses_groomers_who_are_not_in_the_conversation(
    tmp_path: Path, pattern: None
) -> None:
    path = tmp_path / "l.jsonl"
    path.write_text(_conv("x", [("a", "hi")], label={"grooming": True, "groomers": ["zzz"]}))
    code, _, err = _run("evaluate", str(path))
    assert code == 2
    assert "label groomers 'zzz' are neither participants nor senders" in err


def test_help_texts(pattern: None) -> None:
    score_help = runner.invoke(app, ["chat", "score", "--help"], terminal_width=400).stdout
    assert "safehold[embeddings]" in score_help
    assert "--skepticism" in score_help
    evaluate_help = runner.invoke(app, ["chat", "evaluate", "--help"], terminal_width=400).stdout
    generate_help = runner.invoke(app, ["chat", "generate", "--help"], terminal_width=400).stdout
    assert "holdout2-5" not in evaluate_help
    for split in SPLITS:
        assert split in evaluate_help
        assert split in generate_help
