"""Read and write conversations: Safehold's JSON Lines format and the PAN-2012 XML format.

JSON Lines (documented in ``docs/grooming.md``): one conversation per line::

    {"id": "c1",
     "participants": [{"id": "u1", "declared_age": 34, "account_age_days": 2, "role": "member"}],
     "messages": [{"id": "m1", "sender": "u1", "time": "2024-05-01T10:00:00Z", "text": "hi"}],
     "label": {"grooming": true, "groomers": ["u1"], "family": "own-cases"}}

``participants``, ``label``, message ``id`` (default: its 1-based position) and ``time`` are
optional. PAN-2012 (Inches & Crestani 2012, sexual predator identification): an XML file
``<conversations><conversation id=".."><message line="1"><author>..</author><time>03:20</time>
<text>..</text></message>...`` plus a text file of predator author ids, one per line; a
conversation is labelled grooming when one of its authors is a listed predator. The XML is
read incrementally (the training corpus is ~150 MB); Python's expat refuses external entities
and guards against entity-expansion bombs.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from safehold.errors import FormatError, InvalidInputError
from safehold.grooming.model import Conversation, ConversationLabel, Message, Participant


def parse_conversation(obj: Any) -> Conversation:
    """Build a :class:`Conversation` from one decoded JSON object.

    Raises:
        InvalidInputError: a field is missing, of the wrong type or out of range.
    """
    if not isinstance(obj, dict):
        raise InvalidInputError("a conversation must be a JSON object")
    messages_in = obj.get("messages")
    if not isinstance(messages_in, list):
        raise InvalidInputError("'messages' must be a list")
    messages = []
    for i, m in enumerate(messages_in):
        if not isinstance(m, dict):
            raise InvalidInputError(f"message {i + 1} must be an object")
        messages.append(
            Message(
                str(m.get("id", i + 1)),
                _text(m, "sender", i),
                _text(m, "text", i),
                _time(m.get("time"), i),
            )
        )
    people = []
    for p in obj.get("participants") or []:
        if not isinstance(p, dict):
            raise InvalidInputError("each participant must be an object")
        age, account = p.get("declared_age"), p.get("account_age_days")
        if age is not None and (not isinstance(age, int) or isinstance(age, bool)):
            raise InvalidInputError("declared_age must be an integer")
        if account is not None and (
            not isinstance(account, int | float) or isinstance(account, bool)
        ):
            raise InvalidInputError("account_age_days must be a number")
        people.append(Participant(str(p.get("id", "")), age, account, p.get("role", "unknown")))
    return Conversation.build(str(obj.get("id", "")), messages, people, _label(obj.get("label")))


def _text(m: dict[str, Any], key: str, i: int) -> str:
    value = m.get(key)
    if not isinstance(value, str):
        raise InvalidInputError(f"message {i + 1}: '{key}' must be a string")
    return value


def _time(value: Any, i: int) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"message {i + 1}: 'time' must be an ISO 8601 string")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(f"message {i + 1}: 'time' is not ISO 8601") from None


def _label(value: Any) -> ConversationLabel | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("grooming"), bool):
        raise InvalidInputError("'label' must be an object with a boolean 'grooming'")
    groomers = value.get("groomers") or []
    if not isinstance(groomers, list) or not all(isinstance(g, str) for g in groomers):
        raise InvalidInputError("'label.groomers' must be a list of participant ids")
    return ConversationLabel(value["grooming"], frozenset(groomers), str(value.get("family", "")))


def iter_jsonl(lines: Iterable[str]) -> Iterator[Conversation]:
    """Parse JSON Lines (blank lines skipped).

    Raises:
        FormatError: a line is not JSON or not a valid conversation (with its line number).
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield parse_conversation(json.loads(line))
        except json.JSONDecodeError as exc:
            raise FormatError(f"not JSON ({exc.msg})", line=number) from None
        except InvalidInputError as exc:
            raise FormatError(exc.message, line=number) from None


def to_json(conv: Conversation) -> dict[str, Any]:
    """The JSON Lines object of ``conv`` (inverse of :func:`parse_conversation`)."""
    out: dict[str, Any] = {
        "id": conv.id,
        "participants": [
            {
                k: v
                for k, v in (
                    ("id", p.id),
                    ("declared_age", p.declared_age),
                    ("account_age_days", p.account_age_days),
                    ("role", p.role),
                )
                if v is not None
            }
            for p in conv.participants.values()
        ],
        "messages": [
            {
                "id": m.id,
                "sender": m.sender,
                "text": m.text,
                **({"time": m.time.isoformat()} if m.time else {}),
            }
            for m in conv.messages
        ],
    }
    if conv.label is not None:
        out["label"] = {
            "grooming": conv.label.grooming,
            "groomers": sorted(conv.label.groomers),
            "family": conv.label.family,
        }
    return out


def iter_pan_xml(path: Path, predators: set[str] | None = None) -> Iterator[Conversation]:
    """Read a PAN-2012 XML file; label with ``predators`` (author ids) when given.

    Raises:
        FormatError: the XML is malformed or a conversation lacks an id.
    """
    try:
        for _, element in ET.iterparse(path, events=("end",)):
            if element.tag != "conversation":
                continue
            conv_id = element.get("id")
            if not conv_id:
                raise FormatError("a <conversation> has no id attribute")
            messages = []
            for n, node in enumerate(element.findall("message"), start=1):
                author = (node.findtext("author") or "").strip()
                text = node.findtext("text") or ""
                messages.append(Message(node.get("line") or str(n), author or "unknown", text))
            element.clear()
            label = None
            if predators is not None:
                groomers = frozenset(m.sender for m in messages) & predators
                label = ConversationLabel(bool(groomers), groomers, "pan2012")
            yield Conversation.build(conv_id, messages, label=label)
    except ET.ParseError as exc:
        raise FormatError(f"{path}: not PAN-2012 XML ({exc})") from None


def read_predators(path: Path) -> set[str]:
    """Author ids from a PAN-2012 predator list (one per line, blanks ignored)."""
    return {line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}


def read_conversations(path: Path, predators: Path | None = None) -> list[Conversation]:
    """Read a JSON Lines or PAN-2012 XML file (sniffed from its first character).

    Raises:
        FormatError: the file does not parse; InvalidInputError: a predator list was given
        for a JSON Lines file (which carries its own labels).
    """
    with path.open("rb") as f:
        head = f.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return list(iter_pan_xml(path, read_predators(predators) if predators else None))
    if predators is not None:
        raise InvalidInputError("--predators applies to PAN-2012 XML files only")
    with path.open(encoding="utf-8") as f:
        try:
            return list(iter_jsonl(f))
        except UnicodeDecodeError:
            raise FormatError(f"{path}: not UTF-8 text") from None
