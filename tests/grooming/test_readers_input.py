"""Readers keep every good conversation and report each bad line or conversation; ids,
BOMs, predator lists and PAN-2012 structure are checked (synthetic, non-explicit data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safehold.errors import FormatError, InvalidInputError
from safehold.grooming.model import Conversation
from safehold.grooming.readers import (
    iter_jsonl,
    iter_jsonl_items,
    number_missing,
    parse_conversation,
    read_conversations,
    read_items,
    read_predators,
)


def _line(conv_id: str, text: str = "hi", **extra: object) -> str:
    return json.dumps({"id": conv_id, "messages": [{"sender": "a", "text": text}], **extra})


def _shape(items: list[Conversation | FormatError]) -> list[str]:
    return [i.id if isinstance(i, Conversation) else f"error: {i.message}" for i in items]


def test_a_bad_line_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(_line("ok1") + "\n" + '{"id": "broken", "messages": [\n' + _line("ok2"))
    reading = read_items(path)
    assert _shape(reading.items) == ["ok1", "error: line 2: not JSON (Expecting value)", "ok2"]
    assert [e.line for e in reading.errors] == [2]
    with pytest.raises(FormatError, match="line 2: not JSON"):
        read_conversations(path)  # the strict reader still stops at the first bad line


def test_every_kind_of_bad_line_is_kept_apart() -> None:
    lines = [
        _line("a"),
        "[1]",
        '{"id": "b", "messages": [{"sender": "u"}]}',
        "1" * 5000,  # an integer too long for Python's int() limit
        "[" * 100_000,  # nested too deeply
        _line("c"),
    ]
    items = list(iter_jsonl_items(lines))
    assert [i.id for i in items if isinstance(i, Conversation)] == ["a", "c"]
    assert [i.line for i in items if isinstance(i, FormatError)] == [2, 3, 4, 5]


def test_a_line_that_is_not_utf8_is_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(_line("a").encode() + b"\n\xff\xfe{\n" + _line("b").encode() + b"\n")
    assert _shape(read_items(path).items) == ["a", "error: line 2: not UTF-8 text", "b"]


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + _line("bom").encode() + b"\n")
    assert [c.id for c in read_conversations(path)] == ["bom"]
    [conv] = iter_jsonl(["\ufeff" + _line("bom")])
    assert conv.id == "bom"


def test_a_repeated_conversation_id_is_an_error_for_the_later_line() -> None:
    items = list(iter_jsonl_items([_line("same"), _line("other"), _line("same", "again")]))
    assert _shape(items) == [
        "same",
        "other",
        "error: line 3: conversation id 'same' was already used by an earlier line",
    ]


def test_duplicate_participants_are_an_input_error() -> None:
    obj = json.loads(_line("t", participants=[{"id": "a"}, {"id": "a", "declared_age": 12}]))
    with pytest.raises(InvalidInputError, match="duplicate participant id 'a'"):
        parse_conversation(obj)


def test_missing_message_ids_never_collide_with_given_ones() -> None:
    assert number_missing([None, "1"]) == ["2", "1"]
    assert number_missing([None, "1", None, "2", "3"]) == ["4", "1", "5", "2", "3"]
    assert number_missing([None, None, "m1"]) == ["1", "2", "m1"]
    obj = {
        "id": "x",
        "messages": [
            {"sender": "a", "text": "hi"},
            {"id": "1", "sender": "b", "text": "yo"},
            {"id": None, "sender": "a", "text": "so"},
        ],
    }
    assert [m.id for m in parse_conversation(obj).messages] == ["2", "1", "3"]


@pytest.mark.parametrize(
    ("obj", "ids"),
    [
        ({"id": 7, "messages": [{"id": 3, "sender": 5, "text": "hi"}]}, ("7", "3", "5")),
        ({"id": "c", "messages": [{"id": "m", "sender": "u", "text": "hi"}]}, ("c", "m", "u")),
    ],
)
def test_integer_ids_read_as_strings(obj: object, ids: tuple[str, str, str]) -> None:
    conv = parse_conversation(obj)
    assert (conv.id, conv.messages[0].id, conv.messages[0].sender) == ids


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ({"id": None, "messages": []}, "conversation id must be a non-empty string"),
        ({"id": 1.5, "messages": []}, "conversation 'id' must be a string or an integer"),
        ({"id": "c", "messages": [{"id": True, "sender": "u", "text": "x"}]}, "'id' must be"),
        ({"id": "c", "messages": [{"text": "x"}]}, "'sender' is required"),
        ({"id": "c", "messages": [], "participants": {"id": "u"}}, "must be a list"),
        ({"id": "c", "messages": [], "participants": [{"role": "adult"}]}, "'id' is required"),
        (
            {"id": "c", "messages": [], "participants": [{"id": "u", "account_age_days": "2"}]},
            "account_age_days must be a number",
        ),
        ({"id": "c", "messages": [], "label": {"grooming": False, "family": 3}}, "family"),
        (
            {
                "id": "x",
                "messages": [{"sender": "a", "text": "hi"}],
                "label": {"grooming": True, "groomers": ["zzz"]},
            },
            "label groomers 'zzz' are neither participants nor senders",
        ),
    ],
)
def test_bad_fields(obj: object, reason: str) -> None:
    with pytest.raises(InvalidInputError, match=reason):
        parse_conversation(obj)


def test_a_binary_predator_list_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "preds.txt"
    path.write_bytes(bytes(range(128, 256)))
    with pytest.raises(FormatError, match="not UTF-8 text"):
        read_predators(path)
    path.write_bytes(b"\xef\xbb\xbfaaa\r\n\n bbb \n")
    assert read_predators(path) == {"aaa", "bbb"}


def _xml(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "pan.xml"
    path.write_text(f'<?xml version="1.0"?>\n<conversations>{body}</conversations>')
    return path


def _pan_message(line: str | None, author: str | None, text: str) -> str:
    line_attr = f' line="{line}"' if line is not None else ""
    author_el = f"<author>{author}</author>" if author is not None else ""
    return f"<message{line_attr}>{author_el}<text>{text}</text></message>"


def test_pan_xml_with_the_wrong_root_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "wrong.xml"
    path.write_text('<?xml version="1.0"?><root><chat id="x"><msg>hi</msg></chat></root>')
    with pytest.raises(FormatError, match=r"not PAN-2012 XML \(root element <root>"):
        read_items(path)


def test_a_pan_message_without_author_is_an_error_naming_it(tmp_path: Path) -> None:
    good = f'<conversation id="ok">{_pan_message("1", "aa", "hello")}</conversation>'
    bad = (
        f'<conversation id="q1">{_pan_message("1", "bb", "hi")}'
        f"{_pan_message('2', None, 'no author')}</conversation>"
    )
    no_id = f"<conversation>{_pan_message('1', 'cc', 'x')}</conversation>"
    reading = read_items(_xml(tmp_path, bad + good + no_id + good.replace("ok", "ok2")))
    assert _shape(reading.items) == [
        "error: conversation 'q1': message 2 (line='2') has no <author>; every message needs one",
        "ok",
        "error: <conversation> number 3 in the file has no id",
        "ok2",
    ]
    assert all(m.sender != "unknown" for c in reading.conversations for m in c.messages)


def test_pan_message_numbers_and_repeated_ids(tmp_path: Path) -> None:
    body = (
        f'<conversation id="c">{_pan_message(None, "a", "x")}{_pan_message("1", "b", "y")}'
        f'</conversation><conversation id="c">{_pan_message("1", "a", "z")}</conversation>'
    )
    reading = read_items(_xml(tmp_path, body))
    assert [m.id for m in reading.conversations[0].messages] == ["2", "1"]
    assert _shape(reading.items)[1] == (
        "error: conversation 'c': id already used by an earlier conversation"
    )


def test_truncated_pan_xml_keeps_what_came_before(tmp_path: Path) -> None:
    path = tmp_path / "cut.xml"
    path.write_text(
        f'<conversations><conversation id="a">{_pan_message("1", "x", "hi")}</conversation>'
        '<conversation id="b"><message line="1"><author>y'
    )
    reading = read_items(path)
    assert [c.id for c in reading.conversations] == ["a"]
    assert "not PAN-2012 XML" in reading.errors[0].message
    empty = tmp_path / "empty_cut.xml"
    empty.write_text("<conversations><conversation id='a'><message>")
    with pytest.raises(FormatError, match="not PAN-2012 XML"):
        read_items(empty)


def test_predator_ids_found_nowhere_are_warned_about(tmp_path: Path) -> None:
    path = _xml(tmp_path, f'<conversation id="c">{_pan_message("1", "aa", "hi")}</conversation>')
    preds = tmp_path / "preds.txt"
    preds.write_text("aa\nnobody\nzzz\n")
    reading = read_items(path, preds)
    assert reading.warnings == [
        f"2 of 3 predator ids are authors of no conversation in {path}: nobody, zzz"
    ]
    assert reading.conversations[0].label is not None
    assert reading.conversations[0].label.groomers == frozenset({"aa"})
    preds.write_text("aa\n")
    assert read_items(path, preds).warnings == []
