"""Large VICS Media files cut between media items (``banks.vics_parts``) and read by several
parser processes: cuts land between items whatever the strings hold, and the import gives the
one-core result, with media items numbered as in the whole file."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from safehold.banks import parse_parts, parse_process
from safehold.banks.importing import ImportReport, import_bank_file
from safehold.banks.service import BankService
from safehold.banks.vics_parts import plan_vics_cuts

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
