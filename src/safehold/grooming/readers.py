"""Read and write conversations: Safehold's JSON Lines format and the PAN-2012 XML format.

JSON Lines (documented in ``docs/grooming.md``): one conversation per line::

    {"id": "c1",
     "participants": [{"id": "u1", "declared_age": 34, "account_age_days": 2, "role": "member"}],
     "messages": [{"id": "m1", "sender": "u1", "time": "2024-05-01T10:00:00Z", "text": "hi"}],
     "label": {"grooming": true, "groomers": ["u1"], "family": "own-cases"}}

``participants``, ``label``, message ``id`` and ``time`` are optional; a message without an id
gets its 1-based position, or the next number no other message of the conversation uses. Ids
are strings (an integer is read as its decimal string). A file may start with a UTF-8 BOM.
Readers never drop a good conversation for a bad one: :func:`read_items` and
:func:`iter_jsonl_items` give a :class:`~safehold.errors.FormatError` in place of each bad
line (JSON Lines) or bad ``<conversation>`` (PAN-2012), in file order, and carry on.

PAN-2012 (Inches & Crestani 2012, sexual predator identification): an XML file
``<conversations><conversation id=".."><message line="1"><author>..</author><time>03:20</time>
<text>..</text></message>...`` plus a text file of predator author ids, one per line; a
conversation is labelled grooming when one of its authors is a listed predator (predator ids
found in no conversation are reported as warnings). A ``<message>`` without ``<author>`` is an
error, as is a root element other than ``<conversations>``. The XML is
read incrementally (the training corpus is ~150 MB); Python's expat refuses external entities
and guards against entity-expansion bombs.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from safehold.errors import FormatError, InvalidInputError
from safehold.grooming.model import Conversation, ConversationLabel, Message, Participant

_BOM = "\ufeff"
#: Predator ids named in a warning about ids no conversation has (the rest are counted).
_SHOWN_IDS = 5


@dataclass
class Reading:
    """What :func:`read_items` read from one file.

    Attributes:
        items: a :class:`Conversation` per good conversation and a
            :class:`~safehold.errors.FormatError` per bad line or ``<conversation>``, in
            file order.
        warnings: problems that lose nothing (predator ids no conversation has).
    """

    items: list[Conversation | FormatError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def conversations(self) -> list[Conversation]:
        """The good conversations, in file order."""
        return [item for item in self.items if isinstance(item, Conversation)]

    @property
    def errors(self) -> list[FormatError]:
        """The bad lines or conversations, in file order."""
        return [item for item in self.items if isinstance(item, FormatError)]


def parse_conversation(obj: Any) -> Conversation:
    """Build a :class:`Conversation` from one decoded JSON object.

    Raises:
        InvalidInputError: a field is missing, of the wrong type or out of range; a
            participant id given twice; label groomers that are not in the conversation.
    """
    if not isinstance(obj, dict):
        raise InvalidInputError("a conversation must be a JSON object")
    conv_id = _ident(obj.get("id"), "conversation 'id'") or ""
    messages_in = obj.get("messages")
    if not isinstance(messages_in, list):
        raise InvalidInputError("'messages' must be a list")
    for i, m in enumerate(messages_in):
        if not isinstance(m, dict):
            raise InvalidInputError(f"message {i + 1} must be an object")
    ids = number_missing(
        [_ident(m.get("id"), f"message {i + 1}: 'id'") for i, m in enumerate(messages_in)]
    )
    messages = [
        Message(
            message_id,
            _required(m.get("sender"), f"message {i + 1}: 'sender'"),
            _text(m, "text", i),
            _time(m.get("time"), i),
        )
        for i, (message_id, m) in enumerate(zip(ids, messages_in, strict=True))
    ]
    participants_in = obj.get("participants")
    if participants_in is None:
        participants_in = []
    if not isinstance(participants_in, list):
        raise InvalidInputError("'participants' must be a list")
    people = []
    for i, p in enumerate(participants_in):
        if not isinstance(p, dict):
            raise InvalidInputError(f"participant {i + 1} must be an object")
        people.append(
            Participant(
                _required(p.get("id"), f"participant {i + 1}: 'id'"),
                p.get("declared_age"),
                p.get("account_age_days"),
                p.get("role", "unknown"),
            )
        )
    return Conversation.build(conv_id, messages, people, _label(obj.get("label")))


def number_missing(ids: list[str | None]) -> list[str]:
    """Fill in missing (``None``) message ids: the 1-based position, or the next number that
    no other message of the conversation uses (given or filled in), so a filled-in id never
    collides with a given one."""
    taken = {i for i in ids if i is not None}
    out: list[str] = []
    for position, given in enumerate(ids, start=1):
        if given is not None:
            out.append(given)
            continue
        number = position
        while str(number) in taken:
            number += 1
        taken.add(str(number))
        out.append(str(number))
    return out


def _ident(value: Any, what: str) -> str | None:
    """An id as a string: a string as given, an integer as its decimal string; ``None`` when
    missing. Emptiness and length are checked by the model."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string or an integer")
    return value


def _required(value: Any, what: str) -> str:
    found = _ident(value, what)
    if found is None:
        raise InvalidInputError(f"{what} is required")
    return found


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
    if not isinstance(groomers, list):
        raise InvalidInputError("'label.groomers' must be a list of participant ids")
    ids = [_required(g, "'label.groomers'") for g in groomers]
    family = value.get("family", "")
    if family is None:
        family = ""
    if not isinstance(family, str):
        raise InvalidInputError("'label.family' must be a string")
    return ConversationLabel(value["grooming"], frozenset(ids), family)


def iter_jsonl_items(lines: Iterable[str | bytes]) -> Iterator[Conversation | FormatError]:
    """Parse JSON Lines, yielding a :class:`Conversation` per good line and a
    :class:`~safehold.errors.FormatError` (with its line number) per bad one, in order.

    Blank lines are skipped; a UTF-8 BOM before the first line is ignored. Bytes lines are
    decoded as UTF-8 one by one (an undecodable line is a bad line). A conversation id used by
    an earlier line of the same input makes the later line bad.
    """
    seen: set[str] = set()
    for number, raw in enumerate(lines, start=1):
        try:
            line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError:
            yield FormatError("not UTF-8 text", line=number)
            continue
        if number == 1:
            line = line.removeprefix(_BOM)
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield FormatError(f"not JSON ({exc.msg})", line=number)
            continue
        except (ValueError, RecursionError) as exc:  # huge integers, deep nesting
            yield FormatError(f"not JSON ({type(exc).__name__}: {exc})", line=number)
            continue
        try:
            conv = parse_conversation(obj)
        except InvalidInputError as exc:
            yield FormatError(exc.message, line=number)
            continue
        if conv.id in seen:
            yield FormatError(
                f"conversation id {conv.id!r} was already used by an earlier line", line=number
            )
            continue
        seen.add(conv.id)
        yield conv


def iter_jsonl(lines: Iterable[str | bytes]) -> Iterator[Conversation]:
    """Parse JSON Lines (blank lines skipped), stopping at the first bad line.

    Raises:
        FormatError: a line is not JSON or not a valid conversation (with its line number).
    """
    for item in iter_jsonl_items(lines):
        if isinstance(item, FormatError):
            raise item
        yield item


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


def iter_pan_xml_items(
    path: Path, predators: set[str] | None = None, warnings: list[str] | None = None
) -> Iterator[Conversation | FormatError]:
    """Read a PAN-2012 XML file; label with ``predators`` (author ids) when given.

    Yields a :class:`Conversation` per good ``<conversation>`` and a
    :class:`~safehold.errors.FormatError` naming each bad one (no id, an id used before, a
    ``<message>`` without ``<author>``, a field out of range), in order. When ``warnings``
    is given and ``predators`` too, a line naming the predator ids that no conversation has
    is appended to it once the file is read.

    Raises:
        FormatError: the XML is malformed, or its root element is not ``<conversations>``.
    """
    seen: set[str] = set()
    authors: set[str] = set()
    root: ET.Element | None = None
    position = 0
    try:
        for event, element in ET.iterparse(path, events=("start", "end")):
            if root is None:
                root = element
                if element.tag != "conversations":
                    raise FormatError(
                        f"{path}: not PAN-2012 XML (root element <{element.tag}>, expected "
                        "<conversations>)"
                    )
                continue
            if event != "end" or element.tag != "conversation":
                continue
            position += 1
            try:
                conv = _pan_conversation(element, position, predators, seen)
            except InvalidInputError as exc:
                yield FormatError(exc.message)
            else:
                authors.update(conv.participants)
                yield conv
            finally:
                element.clear()
                if len(root) and root[-1] is element:  # keep memory flat on large files
                    del root[-1]
    except ET.ParseError as exc:
        raise FormatError(f"{path}: not PAN-2012 XML ({exc})") from None
    if root is None:
        raise FormatError(f"{path}: not PAN-2012 XML (no root element)")
    if predators and warnings is not None:
        missing = sorted(predators - authors)
        if missing:
            shown = ", ".join(missing[:_SHOWN_IDS])
            more = f" and {len(missing) - _SHOWN_IDS} more" if len(missing) > _SHOWN_IDS else ""
            warnings.append(
                f"{len(missing)} of {len(predators)} predator ids are authors of no "
                f"conversation in {path}: {shown}{more}"
            )


def _pan_conversation(
    element: ET.Element, position: int, predators: set[str] | None, seen: set[str]
) -> Conversation:
    conv_id = element.get("id")
    if not conv_id:
        raise InvalidInputError(f"<conversation> number {position} in the file has no id")
    if conv_id in seen:
        raise InvalidInputError(
            f"conversation {conv_id!r}: id already used by an earlier conversation"
        )
    seen.add(conv_id)
    nodes = element.findall("message")
    ids = number_missing([node.get("line") for node in nodes])
    messages = []
    try:
        for n, (message_id, node) in enumerate(zip(ids, nodes, strict=True), start=1):
            author = (node.findtext("author") or "").strip()
            if not author:
                line = node.get("line")
                where = f"line={line!r}" if line is not None else "no line attribute"
                raise InvalidInputError(
                    f"message {n} ({where}) has no <author>; every message needs one"
                )
            messages.append(Message(message_id, author, node.findtext("text") or ""))
        label = None
        if predators is not None:
            groomers = frozenset(m.sender for m in messages) & predators
            label = ConversationLabel(bool(groomers), groomers, "pan2012")
        return Conversation.build(conv_id, messages, label=label)
    except InvalidInputError as exc:
        prefix = f"conversation {conv_id!r}"
        message = exc.message if exc.message.startswith(prefix) else f"{prefix}: {exc.message}"
        raise InvalidInputError(message) from None


def iter_pan_xml(path: Path, predators: set[str] | None = None) -> Iterator[Conversation]:
    """Read a PAN-2012 XML file, stopping at the first bad conversation.

    Raises:
        FormatError: the XML is malformed, not PAN-2012, or a conversation is bad.
    """
    for item in iter_pan_xml_items(path, predators):
        if isinstance(item, FormatError):
            raise item
        yield item


def read_predators(path: Path) -> set[str]:
    """Author ids from a PAN-2012 predator list (one per line, blanks ignored; UTF-8, a BOM
    allowed).

    Raises:
        FormatError: the file is not UTF-8 text; OSError: it cannot be read.
    """
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FormatError(f"{path}: not a predator id list (not UTF-8 text)") from None
    if "\x00" in text:
        raise FormatError(f"{path}: not a predator id list (it holds NUL characters)")
    return {line.strip() for line in text.splitlines() if line.strip()}


def read_items(path: Path, predators: Path | None = None) -> Reading:
    """Read a JSON Lines or PAN-2012 XML file (sniffed from its first character), keeping
    every good conversation and a :class:`~safehold.errors.FormatError` per bad one.

    Raises:
        FormatError: the file as a whole does not parse (malformed XML, not PAN-2012, a
            predator list that is not text); InvalidInputError: a predator list was given
            for a JSON Lines file (which carries its own labels); OSError: unreadable.
    """
    path = Path(path)
    with path.open("rb") as f:
        head = f.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    reading = Reading()
    if head.startswith(b"<"):
        ids = read_predators(predators) if predators is not None else None
        try:
            reading.items.extend(iter_pan_xml_items(path, ids, reading.warnings))
        except FormatError as exc:
            if not reading.conversations:
                raise
            reading.items.append(exc)  # keep what was read before the XML broke off
        return reading
    if predators is not None:
        raise InvalidInputError("--predators applies to PAN-2012 XML files only")
    with path.open("rb") as f:
        reading.items.extend(iter_jsonl_items(f))
    return reading


def read_conversations(path: Path, predators: Path | None = None) -> list[Conversation]:
    """Read a JSON Lines or PAN-2012 XML file, refusing it at its first bad conversation
    (:func:`read_items` keeps the good ones instead).

    Raises:
        FormatError: the file does not parse, or a line or conversation in it is bad;
        InvalidInputError: a predator list was given for a JSON Lines file.
    """
    reading = read_items(path, predators)
    if reading.errors:
        raise reading.errors[0]
    return reading.conversations
