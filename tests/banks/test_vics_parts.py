"""Large VICS Media files cut between media items (``banks.vics_parts``) and read by several
parser processes: cuts land between items whatever the strings hold, and the import gives the
one-core result, with media items numbered as in the whole file."""

from __future__ import annotations

import io
import json
import os
import random
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from safehold.banks import parse_parts, parse_process, vics_parts
from safehold.banks.formats.fields import RowBuilder, RowItem
from safehold.banks.formats.vics import read_vics_rows
from safehold.banks.importing import ImportReport, import_bank_file
from safehold.banks.service import BankService
from safehold.banks.vics_parts import PART_TAIL, VicsCut, plan_vics_cuts
from safehold.errors import FormatError

SQLITE_ONLY = pytest.mark.parametrize("db_settings", ["sqlite"], indirect=True)
CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"


def _media(i: int) -> dict[str, Any]:
    """Media item ``i``: strings that look like item boundaries, nested values, bad items."""
    item: dict[str, Any] = {"MediaID": i, "Category": 1 + i % 3, "MD5": f"{i:032X}"}
    if i % 7 == 0:
        item["Comment"] = "},{MediaID: 0, MD5: " + "0" * 32 + "},{"  # looks like a boundary
    if i % 11 == 0:
        item["Files"] = [{"Name": "x]}[{", "Sizes": [1, [2, {}]]}]  # nested brackets
    if i % 97 == 0:
        item["SHA1"] = f"{i:039x}"  # one digit short: a bad hash
    if i % 17 == 0:
        item["PhotoDNA"] = "AAAA"
    return item


def _vics(path: Path, count: int, escaped: bool = False, bom: bool = False) -> bytes:
    media = [_media(i) for i in range(1, count + 1)]
    if escaped:
        media[count // 2]["Comment"] = 'a "quoted" word'  # written as \"quoted\"
    doc = {"@odata.context": CONTEXT, "@odata.count": count, "value": media, "Trailer": [1]}
    data = json.dumps(doc, indent=None).replace("}, {", "},\n{").encode()
    if bom:  # a UTF-8 byte-order mark first (user test, session 6: such files were refused)
        data = b"\xef\xbb\xbf" + data
    path.write_bytes(data)
    return data


def test_cuts_fall_between_items_whatever_the_strings_hold(tmp_path: Path) -> None:
    path = tmp_path / "media.json"
    data = _vics(path, 500)
    targets = [len(data) * k // 10 for k in range(1, 10)]
    planned = plan_vics_cuts(io.BytesIO(data), 0, targets)
    assert planned is not None
    head, cuts = planned
    assert head == data[: data.index(b'"value": [') + len(b'"value": [')]
    assert len(cuts) == 9
    previous = 0
    for cut, target in zip(cuts, targets, strict=True):
        assert cut.start >= target
        assert data[cut.end - 1 : cut.start + 1] == b"},\n{"  # only the separator between
        # the part before is a whole document of its own items, numbered as in the file
        part = head + data[max(previous, len(head)) : cut.end] + b"]}"
        items = json.loads(part)["value"]
        assert items[-1]["MediaID"] == cut.items_before
        assert data[cut.start :].startswith(f'{{"MediaID": {cut.items_before + 1},'.encode())
        previous = cut.start
    # a target before the first item or after the last gives no cut
    assert plan_vics_cuts(io.BytesIO(data), 0, [1, len(data) - 5]) == (head, [])


def test_files_it_cannot_follow_are_not_cut(tmp_path: Path) -> None:
    escaped = _vics(tmp_path / "escaped.json", 200, escaped=True)
    assert b'\\"quoted\\"' in escaped
    assert plan_vics_cuts(io.BytesIO(escaped), 0, [len(escaped) // 2]) is None
    cases = json.dumps(
        {"@odata.context": CONTEXT.replace("#Media", "#Cases"), "value": [{"Media": []}] * 50}
    ).encode()
    assert plan_vics_cuts(io.BytesIO(cases), 0, [len(cases) // 2]) is None
    no_value = b'{"@odata.context": "x", "other": [' + b"{},\n" * 99 + b"{}]}"
    assert plan_vics_cuts(io.BytesIO(no_value), 0, [len(no_value) // 2]) is None
    broken = b'{"value": [{"MD5": "x"}]}]]]] ' + b"{}" * 100
    assert plan_vics_cuts(io.BytesIO(broken), 0, [len(broken) // 2]) is None


def _import(service: BankService, bank: str, path: Path) -> ImportReport:
    with path.open("rb") as binary:
        return import_bank_file(service, bank, binary, batch_rows=400)


#: Damage to media item 1400 (in the fourth part): what replaces its ``{"MediaID": 1400,``
#: and the start of the one error it costs.
DAMAGE = {
    "syntax": (b'{"MediaID": 1400 "MD5": "",', "malformed JSON (parse error: "),
    "string": (b'{"MediaID": 1400, "Note": "' + b"n" * (2 << 20) + b'",', "a string or number"),
    "deep": (b'{"MediaID": 1400, "Deep": ' + b"[" * 40 + b"]" * 40 + b",", "JSON nested deeper"),
}


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("broken", "bom"),
    [(None, False), ("syntax", False), ("string", False), ("deep", False), (None, True)],
)
def test_parts_read_side_by_side_give_the_one_core_result(
    bank_service: BankService,
    tmp_path: Path,
    spy: list[str],
    monkeypatch: pytest.MonkeyPatch,
    broken: str | None,
    bom: bool,
) -> None:
    path = tmp_path / "media.json"
    data = _vics(path, 2000, bom=bom)
    if broken:  # a malformed media item: one error, every other item is read
        at = data.index(b'{"MediaID": 1400,')
        data = data[:at] + DAMAGE[broken][0] + data[at + 17 :]
        path.write_bytes(data)
    bank_service.create_bank("thread")
    bank_service.create_bank("parts")
    monkeypatch.setattr(parse_process, "PROCESS_MIN_BYTES", 10**12)
    by_thread = _import(bank_service, "thread", path)
    monkeypatch.setattr(parse_process, "PROCESS_MIN_BYTES", 1)
    monkeypatch.setattr(parse_process, "PARSERS", 2)
    monkeypatch.setattr(parse_parts, "PART_BYTES", len(data.replace(b"n" * (2 << 20), b"")) // 6)
    planned: list[list[parse_parts.FilePart]] = []
    real_plan = parse_parts.plan_parts

    def plan(*args: Any, **kwargs: Any) -> Any:
        planned.append(real_plan(*args, **kwargs))
        return planned[-1]

    monkeypatch.setattr(parse_process, "plan_parts", plan)
    by_parts = _import(bank_service, "parts", path)
    assert spy == ["parts"]
    parts = planned[0]
    assert len(parts) >= 5
    assert (parts[0].first_item, parts[-1].last_item) == (1, None)
    bad_sha1 = [i for i in range(1, 2001) if i % 97 == 0]
    holder = next(p for p in parts if p.first_item <= 1400 <= (p.last_item or 10**9))
    assert (holder.first_item, holder.last_item) != (1400, 1400)  # items before and after it
    read = [i for i in range(1, 2001) if not (broken and i == 1400)]
    photodna = len([i for i in read if i % 17 == 0])
    assert by_parts.notes == [
        "VICS categories kept in the scheme vics-us",
        f"{photodna} PhotoDNA values skipped (Safehold does not compute PhotoDNA)",
    ]
    messages = [e.message for e in by_parts.errors]
    for field in ("added", "duplicates", "error_count", "errors", "fmt", "notes"):
        assert getattr(by_parts, field) == getattr(by_thread, field), field
    assert (by_parts.added, by_parts.error_count) == (len(read), len(bad_sha1) + bool(broken))
    assert messages[-1].startswith(f"media item {bad_sha1[-1]} (MediaID {bad_sha1[-1]}): SHA1")
    assert parts[-1].first_item < bad_sha1[-1]  # numbered in the last part as in the file
    if broken:  # the bad item alone is lost, named as in the file
        (error,) = [m for m in messages if m.startswith("media item 1400")]
        assert error.startswith(f"media item 1400: {DAMAGE[broken][1]}")
        assert error.endswith("; the item was skipped")
    stored = {(e.signal_type, e.value) for e in bank_service.iter_entries("parts")}
    assert ("md5", f"{1999:032x}") in stored
    assert os.listdir(tmp_path / "scratch") == []


def _rows(items: Iterable[RowItem]) -> list[object]:
    """Each row as a tuple, each error as its message, in order."""
    return [i.message if isinstance(i, FormatError) else tuple(i) for i in items]


def _in_parts(data: bytes, targets: list[int]) -> tuple[list[VicsCut], list[object]]:
    """The cuts planned at ``targets`` and what reading each part on its own gives, the part
    framed as ``parse_parts`` frames it (the head before it, ``]}`` after it)."""
    planned = plan_vics_cuts(io.BytesIO(data), 0, targets)
    head, cuts = planned if planned is not None else (b"", [])
    starts = [(0, 1, b""), *((c.start, c.items_before + 1, head) for c in cuts)]
    read: list[object] = []
    for i, (start, first, before) in enumerate(starts):
        cut = cuts[i] if i < len(cuts) else None
        part = before + data[start : cut.end if cut else len(data)] + (PART_TAIL if cut else b"")
        items = (first, cut.items_before if cut else None)
        read += _rows(read_vics_rows(io.BytesIO(part), RowBuilder(None, None, ""), items=items))
    return cuts, read


def _one_stream(data: bytes) -> list[object]:
    return _rows(read_vics_rows(io.BytesIO(data), RowBuilder(None, None, "")))


def _between(data: bytes, item: int, gap: bytes) -> bytes:
    """``data`` (from :func:`_vics`) with the bytes between items ``item - 1`` and ``item``
    replaced by ``gap``."""
    start = data.index(f'{{"MediaID": {item},'.encode())
    end = data.rindex(b"}", 0, start) + 1
    return data[:end] + gap + data[start:]


#: What lies between items 64 and 65 (user test 7, F2), the error it gives by path and from
#: stdin alike (the 7 put before item 30 makes item 65 element 66), and the cuts planned: none
#: after damage the cut pass cannot count elements past (the rest is one part).
AT_CUT = {
    "missing comma": (
        b"\n",
        "media item 66: malformed JSON (parse error: after array element, I expect ',' or ']');"
        " the item was skipped",
        3,
    ),
    "null": (b",\nnull,\n", "media item 66 is not a JSON object", 3),
    "two commas": (
        b",,\n",
        "media item 66: malformed JSON (parse error: unallowed token at this point in JSON"
        " text); the item was skipped",
        0,
    ),
    "a string": (b', "]},{",\n', "media item 66 is not a JSON object", 3),
}


@pytest.mark.parametrize("damage", AT_CUT)
def test_damage_where_a_cut_would_fall_is_read_as_in_one_stream(
    tmp_path: Path, damage: str
) -> None:
    # user test 7, F2/F3: the bytes between two parts were never parsed (a missing comma or a
    # null there gave no error by path, one from stdin), and after a null the cut pass
    # numbered items one short (it counted only elements that open with a bracket)
    clean = _vics(tmp_path / "media.json", 2000)
    data = _between(clean, 65, AT_CUT[damage][0])
    data = _between(data, 30, b",\n7,\n")  # an element that is not an object, in the first part
    targets = [data.index(b'{"MediaID": 65,'), len(data) // 3, 2 * len(data) // 3]
    cuts, read = _in_parts(data, targets)
    assert read == _one_stream(data)
    assert len(cuts) == AT_CUT[damage][2]
    for cut in cuts:  # parts start only after a gap of one comma: no byte goes unparsed
        assert data[cut.end : cut.start] == b",\n"
    if cuts:  # the cut moved to a later item
        assert cuts[0].start > data.index(b'{"MediaID": 65,')
    errors = [r for r in read if isinstance(r, str)]
    added = 1 if damage in ("null", "a string") else 0  # the element counts
    assert errors[0] == "media item 30 is not a JSON object"
    assert errors[1] == AT_CUT[damage][1]
    # MediaID 97 (a bad SHA1), after both: numbered as its element in the file
    sha1 = next(e for e in errors if "(MediaID 97)" in e)
    assert sha1.startswith(f"media item {98 + added} (MediaID 97): SHA1")
    last = next(e for e in reversed(errors) if "(MediaID 1940)" in e)
    assert last.startswith(f"media item {1941 + added} (MediaID 1940): SHA1")


@pytest.mark.parametrize("seed", range(40))
def test_parts_read_as_one_stream_whatever_lies_between_items(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One byte inserted, deleted or replaced anywhere, and elements that are not objects
    # between the items: the parts give what one stream gives, entries and errors alike,
    # with the same item numbers (the pass reading blocks of 61 bytes to 8 MiB).
    rng = random.Random(seed)
    monkeypatch.setattr(vics_parts, "_BLOCK", rng.choice([61, 97, 4096, 8 << 20]))
    notes = ["a]b}", "{[", "x", ", {"]
    elements: list[object] = [
        {"MediaID": i, "MD5": f"{i:032x}", "Note": rng.choice(notes)} for i in range(1, 401)
    ]
    for _ in range(rng.randrange(6)):
        elements.insert(rng.randrange(len(elements) + 1), rng.choice([None, 7, "s,]", [], [{}]]))
    data = bytearray(json.dumps({"@odata.context": CONTEXT, "value": elements}).encode())
    at = rng.randrange(len(data))
    op = rng.choice(["insert", "delete", "replace"])
    if op == "delete":
        del data[at]
    else:
        data[at : at + (op == "replace")] = bytes([rng.choice(b'{}[]",:x \\')])
    targets = [len(data) * k // 7 for k in range(1, 7)]
    cuts, read = _in_parts(bytes(data), targets)
    assert read == _one_stream(bytes(data))
    for cut in cuts:  # one comma between the parts, nothing else unparsed
        assert data[cut.end : cut.start].strip() == b","


@SQLITE_ONLY
def test_path_and_stdin_imports_agree_on_what_lies_at_a_cut(
    bank_service: BankService, tmp_path: Path, spy: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # user test 7 (cmp.sh with parts of 64 KiB): a missing comma and a null exactly where the
    # clean file is cut gave no error by path and one each from stdin, and after the null
    # the parts numbered items one short of the stream
    path = tmp_path / "media.json"
    clean = _vics(path, 2000)
    monkeypatch.setattr(parse_process, "PROCESS_MIN_BYTES", 1)
    monkeypatch.setattr(parse_process, "PARSERS", 2)
    monkeypatch.setattr(parse_parts, "PART_BYTES", len(clean) // 6)
    first = [p.first_item for p in parse_parts.plan_parts(str(path), 0, "vics", 1 << 10)][1:3]
    data = _between(clean, first[0], b"\n")  # the missing comma
    data = _between(data, first[1], b",\nnull,\n")
    data = _between(data, 30, b",\n7,\n")
    path.write_bytes(data)
    bank_service.create_bank("path")
    bank_service.create_bank("stdin")
    by_path = _import(bank_service, "path", path)
    assert spy == ["path"]
    read_end, write_end = os.pipe()
    writer = threading.Thread(target=lambda: os.write(write_end, data) and os.close(write_end))
    writer.start()
    with os.fdopen(read_end, "rb") as pipe:
        by_stdin = import_bank_file(bank_service, "stdin", pipe, fmt="vics", batch_rows=400)
    writer.join()
    for field in ("added", "duplicates", "error_count", "errors", "notes"):
        assert getattr(by_path, field) == getattr(by_stdin, field), field
    messages = [e.message for e in by_path.errors if "SHA1" not in e.message]
    assert messages == [
        "media item 30 is not a JSON object",
        f"media item {first[0] + 1}: malformed JSON (parse error: after array element, I expect"
        " ',' or ']'); the item was skipped",
        f"media item {first[1] + 1} is not a JSON object",
    ]
    bad_sha1 = [i for i in range(1, 2001) if i % 97 == 0]
    assert by_path.added == 1999
    assert by_path.error_count == 3 + len(bad_sha1)
    last = by_path.errors[-1].message
    assert last.startswith(f"media item {bad_sha1[-1] + 2} (MediaID {bad_sha1[-1]}): SHA1")

    def stored(bank: str) -> set[tuple[str, str, str]]:
        return {(e.signal_type, e.value, e.note) for e in bank_service.iter_entries(bank)}

    assert stored("path") == stored("stdin")
