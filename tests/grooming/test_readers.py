"""JSON Lines and PAN-2012 XML readers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safehold.errors import FormatError, InvalidInputError
from safehold.grooming.readers import iter_jsonl, read_conversations, to_json
from safehold.grooming.synthetic import SyntheticOptions, generate


def test_jsonl_round_trip(tmp_path: Path) -> None:
    conversations = generate("dev", SyntheticOptions(2, 2, seed=5))
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(to_json(c)) + "\n" for c in conversations))
    again = read_conversations(path)
    assert again == conversations


def test_jsonl_minimal_line() -> None:
    [conv] = iter_jsonl(['{"id": "c", "messages": [{"sender": "u", "text": "hi"}]}', ""])
    assert conv.messages[0].id == "1"
    assert conv.label is None
    assert conv.messages[0].time is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("not json", "line 1: not JSON"),
        ("[1]", "line 1: a conversation must be a JSON object"),
        ('{"id": "c"}', "'messages' must be a list"),
        ('{"id": "c", "messages": [{"sender": "u"}]}', "'text' must be a string"),
        (
            '{"id": "c", "messages": [{"sender": "u", "text": "x", "time": "yesterday"}]}',
            "not ISO 8601",
        ),
        ('{"id": "c", "messages": [], "label": {"grooming": "yes"}}', "boolean 'grooming'"),
        (
            '{"id": "c", "messages": [], "participants": [{"id": "u", "declared_age": "9"}]}',
            "declared_age must be an integer",
        ),
        ('{"id": "", "messages": []}', "conversation id"),
    ],
)
def test_jsonl_errors_name_the_line(line: str, reason: str) -> None:
    with pytest.raises(FormatError, match=reason):
        list(iter_jsonl([line]))


def test_pan_xml_with_predators(pan_xml: Path, pan_predators: Path) -> None:
    first, second = read_conversations(pan_xml, pan_predators)
    assert first.id == "0a1b2c"
    assert len(first.messages) == 8
    assert first.messages[0].sender == "aaa111"
    assert first.messages[0].id == "1"
    assert first.messages[6].text == ""  # an empty <text/> is kept as an empty message
    assert first.label is not None
    assert first.label.grooming
    assert first.label.groomers == frozenset({"aaa111"})
    assert second.label is not None
    assert not second.label.grooming
    assert second.messages[0].text == "did you see the match & the goal"


def test_pan_xml_without_predators_is_unlabelled(pan_xml: Path) -> None:
    assert all(c.label is None for c in read_conversations(pan_xml))


def test_pan_errors(tmp_path: Path, pan_predators: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<conversations><conversation id='x'><message>")
    with pytest.raises(FormatError, match="not PAN-2012 XML"):
        read_conversations(bad)
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text("")
    with pytest.raises(InvalidInputError, match="PAN-2012 XML files only"):
        read_conversations(jsonl, pan_predators)


def test_entity_expansion_is_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.xml"
    entities = "".join(f'<!ENTITY e{i} "&e{i - 1};&e{i - 1};">' for i in range(1, 30))
    bomb.write_text(
        f'<?xml version="1.0"?><!DOCTYPE c [<!ENTITY e0 "x">{entities}]>'
        '<conversations><conversation id="a"><message line="1"><author>a</author>'
        "<text>&e29;</text></message></conversation></conversations>"
    )
    with pytest.raises(FormatError):
        read_conversations(bomb)
