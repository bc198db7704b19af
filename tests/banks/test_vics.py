"""VICS JSON (Project VIC data model): streaming read, category schemes, export round trip.

Hash values are those of benign reference images: MD5 from shared/data's expected-hashes.csv,
SHA-1 from OpenSSL through hashlib (the reference implementation).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import random
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from safehold.banks.formats import ReadItem, read_vics, write_vics
from safehold.banks.importing import import_bank_file
from safehold.banks.models import BankEntry, Category, NewEntry
from safehold.banks.service import BankService
from safehold.errors import FormatError, InvalidInputError

CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/{}/$metadata#{}"


def _reference(shared_data: Path, count: int) -> list[tuple[str, str]]:
    """``(md5, sha1)`` of the first ``count`` reference images."""
    images = shared_data / "reference" / "images"
    with (images / "expected-hashes.csv").open() as f:
        rows = list(csv.DictReader(f))[:count]
    return [
        (r["md5"], hashlib.sha1((images.parent / r["path"]).read_bytes()).hexdigest()) for r in rows
    ]


def _split(items: list[ReadItem]) -> tuple[list[NewEntry], list[FormatError]]:
    return (
        [i for i in items if isinstance(i, NewEntry)],
        [i for i in items if isinstance(i, FormatError)],
    )


def _doc(variant: str, media: list[dict[str, object]], kind: str = "Media") -> bytes:
    if kind == "Cases":
        value: list[object] = [{"CaseID": "c-1", "Media": media, "SourceApplicationName": "t"}]
    else:
        value = list(media)
    return json.dumps({"@odata.context": CONTEXT.format(variant, kind), "value": value}).encode()


def test_media_file_keeps_the_us_scheme_and_skips_photodna(shared_data: Path) -> None:
    (md5_a, sha1_a), (md5_b, _) = _reference(shared_data, 2)
    body = _doc(
        "US",
        [
            {"MediaID": 1, "Category": 1, "MD5": md5_a.upper(), "SHA1": sha1_a.upper(),
             "PhotoDNA": "AAAA", "MediaSize": 2835},
            {"MediaID": 2, "Category": None, "MD5": md5_b},
            {"MediaID": 3, "Category": 2, "MD5": md5_b[:-1], "SHA1": sha1_a},
            {"MediaID": 4, "Category": 0},
        ],
    )  # fmt: skip
    entries, errors = _split(list(read_vics(io.BytesIO(body), source="projectvic")))
    us1 = Category("vics-us", "1")
    assert entries == [
        NewEntry("md5", md5_a, category=us1, source="projectvic", note="MediaID 1"),
        NewEntry("sha1", sha1_a, category=us1, source="projectvic", note="MediaID 1"),
        NewEntry("md5", md5_b, source="projectvic", note="MediaID 2"),
        NewEntry("sha1", sha1_a, category=Category("vics-us", "2"), source="projectvic",
                 note="MediaID 3"),
    ]  # fmt: skip
    assert [e.message for e in errors] == [
        "media item 3 (MediaID 3): MD5: an md5 hash is 32 hexadecimal digits (got 31 characters)",
        "media item 4 (MediaID 4): no MD5, SHA1 or SHA256",
    ]
    assert md5_b[:-1] not in errors[0].message


def test_cases_file_and_the_dhs_scheme_differ(shared_data: Path) -> None:
    (md5_a, sha1_a), _ = _reference(shared_data, 2)
    media = [{"MediaID": 7, "Category": 1, "MD5": md5_a, "SHA1": sha1_a}]
    us = _split(list(read_vics(io.BytesIO(_doc("US", media, "Cases")))))[0]
    dhs = _split(list(read_vics(io.BytesIO(_doc("DHS", media, "Cases")))))[0]
    assert {e.category for e in us} == {Category("vics-us", "1")}
    assert {e.category for e in dhs} == {Category("vics-dhs", "1")}
    # A VICS 1.3 file names no variant: the scheme given wins, else plain "vics".
    old = json.dumps({
        "odata.metadata": "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Media",
        "value": media,
    }).encode()  # fmt: skip
    assert {e.category for e in read_vics(io.BytesIO(old))} == {Category("vics", "1")}
    named = read_vics(io.BytesIO(old), category_scheme="vics-dhs")
    assert {e.category for e in named} == {Category("vics-dhs", "1")}


def test_malformed_json_ends_with_one_error(shared_data: Path) -> None:
    (md5_a, _), (md5_b, _) = _reference(shared_data, 2)
    body = _doc("US", [{"MediaID": 1, "MD5": md5_a}, {"MediaID": 2, "MD5": md5_b}])
    entries, errors = _split(list(read_vics(io.BytesIO(body[: body.index(md5_b.encode())]))))
    assert [e.value for e in entries] == [md5_a]
    assert len(errors) == 1
    # cut off inside item 2 (user test 7: "before any media item" named no item)
    assert errors[0].message.startswith("malformed JSON inside media item 2 (parse error")


def _numbered(count: int, kind: str = "Media") -> bytes:
    """A VICS file of ``count`` media items, item ``i`` with MediaID ``i`` and MD5 ``i`` in
    hexadecimal (a ``#Cases`` file: three media per case)."""
    media = [{"MediaID": i, "MD5": f"{i:032x}"} for i in range(1, count + 1)]
    if kind == "Cases":
        value = [
            {"CaseID": c, "Media": media[3 * c : 3 * c + 3], "SourceApplicationName": "t"}
            for c in range((count + 2) // 3)
        ]
        return json.dumps({"@odata.context": CONTEXT.format("US", kind), "value": value}).encode()
    return _doc("US", media)


def _damaged(body: bytes, item: int, damage: bytes) -> bytes:
    """``body`` with ``damage`` written over the ``{"MediaID": N, `` that opens ``item``."""
    opening = f'{{"MediaID": {item}, '.encode()
    assert body.count(opening) == 1
    return body.replace(opening, damage.replace(b"N", str(item).encode()))


def _outcome(items: list[ReadItem]) -> tuple[list[int], list[str]]:
    """The MediaIDs read (from each entry's MD5) and the error messages."""
    entries, errors = _split(items)
    return [int(e.value, 16) for e in entries], [e.message for e in errors]


PARSE_ERROR = "parse error: after key and value, inside map, I expect ',' or '}'"
SYNTAX = f"malformed JSON ({PARSE_ERROR})"
#: What replaces an item's opening ``{"MediaID": N, `` and the start of the error it costs.
DAMAGE = {
    "missing comma": (b'{"MediaID": N ', SYNTAX),
    "stray byte": (b'{"MediaID": N, x', "malformed JSON (lexical error: invalid char in json"),
    "string over 1 MiB": (b'{"Note": "' + b"x" * (2 << 20) + b'", ', "a string or number over"),
    "too deep": (b'{"Deep": ' + b"[" * 40 + b"]" * 40 + b", ", "JSON nested deeper than 32"),
    "item over 4 MiB": (b'{"Keys": {' + b'"k": 1, ' * 600_000 + b'"k": 1}, ', "an item over"),
    "two stray quotes": (b'{"MediaID": N, ""', "malformed JSON (parse error: object key and"),
    "escapes": (b'{"Note": "\\"}]\\\\", "MediaID": N "MD5": "x", ', SYNTAX),
}


@pytest.mark.parametrize("item", [1, 5, 10])
@pytest.mark.parametrize("damage", DAMAGE)
def test_a_malformed_media_item_costs_one_error(item: int, damage: str) -> None:
    # Malformed JSON in one item ended the read: every later item was lost (issue 7).
    body = _damaged(_numbered(10), item, DAMAGE[damage][0])
    read, errors = _outcome(list(read_vics(io.BytesIO(body))))
    assert read == [i for i in range(1, 11) if i != item]
    assert len(errors) == 1
    assert errors[0].startswith(f"media item {item}: {DAMAGE[damage][1]}")
    assert errors[0].endswith("; the item was skipped")


def test_item_numbers_stay_those_of_the_file_after_skipped_items() -> None:
    body = _numbered(12)
    for item in (3, 6, 7):  # two in a row
        body = _damaged(body, item, DAMAGE["missing comma"][0])
    body = body.replace(b'}, {"MediaID": 8, ', b'} x, {"MediaID": 8, ')  # between 7 and 8
    body = body.replace(b'{"MediaID": 9, "MD5": "' + b"0" * 31 + b'9"}', b"9")  # not an object
    read, errors = _outcome(list(read_vics(io.BytesIO(body))))
    assert read == [1, 2, 4, 5, 10, 11, 12]
    assert errors == [
        f"media item 3: {SYNTAX}; the item was skipped",
        f"media item 6: {SYNTAX}; the item was skipped",
        f"media item 7: {SYNTAX}; the item was skipped",
        # damage between two items costs the one after it
        "media item 8: malformed JSON (lexical error: invalid char in json text.); the item was"
        " skipped",
        "media item 9 is not a JSON object",
    ]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (b'{"MediaID": N, "x": {', "parse error: invalid object key"),  # never balances
        (b'{"MediaID": N, "x": [1]], ', "parse error: after key and value"),  # "{" ... "]"
        (b'{"MediaID": N, "', "lexical error"),  # a stray quote: the rest reads as a string
    ],
)
def test_an_item_whose_end_cannot_be_known_ends_the_read(damage: bytes, reason: str) -> None:
    body = _damaged(_numbered(10), 5, damage)
    read, errors = _outcome(list(read_vics(io.BytesIO(body))))
    assert read == [1, 2, 3, 4]
    assert len(errors) == 1
    assert errors[0].startswith(f"malformed JSON inside media item 5 ({reason}")
    assert errors[0].endswith("; the rest was not read")


def test_cases_files_skip_a_bad_media_item_too() -> None:
    body = _numbered(12, "Cases")
    for item in (5, 7):  # in a case, first of a case
        body = _damaged(body, item, DAMAGE["missing comma"][0])
    read, errors = _outcome(list(read_vics(io.BytesIO(body))))
    assert read == [1, 2, 3, 4, 6, 8, 9, 10, 11, 12]
    assert errors == [f"media item {i}: {SYNTAX}; the item was skipped" for i in (5, 7)]
    # damage to a case outside its media: the media after it are not read
    broken_case = _numbered(12, "Cases").replace(b'"CaseID": 2,', b'"CaseID" 2,')
    read, errors = _outcome(list(read_vics(io.BytesIO(broken_case))))
    assert read == [1, 2, 3, 4, 5, 6]
    assert len(errors) == 1
    assert errors[0].startswith("malformed JSON after media item 6 (parse error: object key")
    # other objects at the media depth (a case's "Tags"): the scan cannot count media there
    tagged = _numbered(12, "Cases").replace(b'"CaseID": 1,', b'"CaseID": 1, "Tags": [{"t": 1}],')
    read, errors = _outcome(list(read_vics(io.BytesIO(_damaged(tagged, 5, b'{"MediaID": N ')))))
    assert read == [1, 2, 3, 4]
    assert len(errors) == 1
    assert errors[0].startswith(f"malformed JSON after media item 4 ({PARSE_ERROR})")


@pytest.mark.parametrize("element", [b"null", b"7", b'"a string, with a comma"', b"[]"])
def test_elements_that_are_not_objects_are_counted_before_a_bad_item(element: bytes) -> None:
    # user test 7, F1: each null, number or string before a malformed item cost the good item
    # after it, unreported (the skip scan counted only elements that open with a bracket)
    body = _damaged(_numbered(6).replace(b'{"MediaID": 2, ', b""), 4, DAMAGE["missing comma"][0])
    body = body.replace(b'"MD5": "' + b"0" * 31 + b'2"}', element)  # item 2: 1, null, 3, bad 4
    body = body.replace(b'{"MediaID": 6, ', element + b', {"MediaID": 6, ')  # and before 6
    read, errors = _outcome(list(read_vics(io.BytesIO(body))))
    assert read == [1, 3, 5, 6]
    assert errors == [
        "media item 2 is not a JSON object",
        f"media item 4: {SYNTAX}; the item was skipped",
        "media item 6 is not a JSON object",
    ]
    cases = _damaged(_numbered(18, "Cases"), 5, DAMAGE["missing comma"][0])
    cases = cases.replace(b'{"MediaID": 3, "MD5": "' + b"0" * 31 + b'3"}', element)
    read, errors = _outcome(list(read_vics(io.BytesIO(cases))))
    assert read == [i for i in range(1, 19) if i not in (3, 5)]
    assert errors == [
        "media item 3 is not a JSON object",
        f"media item 5: {SYNTAX}; the item was skipped",
    ]


def test_a_string_left_open_and_an_empty_array_are_named() -> None:
    # user test 7, F4/F5: "before any media item" for damage inside item 1; "VICS keeps them
    # in an array under value" for a value array that is there, empty
    body = _damaged(_numbered(3), 1, b'{"MediaID": N, "Note": "open, ')
    read, errors = _outcome(list(read_vics(io.BytesIO(body[:-3]))))
    assert read == []
    assert errors == [
        "malformed JSON inside media item 1 (lexical error: invalid char in json text.);"
        " the rest was not read"
    ]
    (error,) = list(read_vics(io.BytesIO(b'{"@odata.context": "x#Media", "value": [ ]}')))
    assert isinstance(error, FormatError)
    assert error.message == 'no media item: the "value" array is empty'


@pytest.mark.parametrize("kind", ["string", "number"])
def test_the_token_bound_is_exact(kind: str) -> None:
    # user test 7, F4: a string of 1 MiB + 40,000 bytes was accepted (the bound was checked
    # only while a token was unfinished, so a read's worth of slack)
    limit = 1024 * 1024
    for size, ok in ((limit, True), (limit + 1, False), (limit + 40_000, False)):
        token = b'"' + b"a" * (size - 2) + b'"' if kind == "string" else b"0." + b"1" * (size - 2)
        body = _doc("US", [{"MediaID": 1, "MD5": "", "Note": "T"}, {"MediaID": 2, "MD5": "x"}])
        body = body.replace(
            b'"MD5": "", "Note": "T"', b'"MD5": "' + b"0" * 32 + b'", "Note": ' + token
        )
        body = body.replace(b'"MD5": "x"', b'"MD5": "' + b"0" * 31 + b'2"')
        read, errors = _outcome(list(read_vics(io.BytesIO(body))))
        if ok:
            assert (read, errors) == ([0, 2], [])
        else:
            assert read == [2]
            assert errors == [
                f"media item 1: a string or number over {limit} bytes; the item was skipped"
            ]


@pytest.mark.parametrize("seed", range(60))
def test_one_damaged_byte_anywhere_loses_only_named_items(seed: int) -> None:
    # One byte inserted, deleted or replaced anywhere (strings hold brackets, quotes and
    # escapes; elements that are not objects lie between the items, user test 7): every
    # item is read once, in order; each one lost is named by an error, or lies after the one
    # error that ends the read.
    rng = random.Random(seed)
    notes = ["a]b}", 'q"\\', "{[", "x"]
    media = [{"MediaID": i, "MD5": f"{i:032x}", "Note": rng.choice(notes)} for i in range(1, 301)]
    elements: list[object] = list(media)
    for _ in range(rng.randrange(4)):
        elements.insert(rng.randrange(len(elements) + 1), rng.choice([None, 7, "s,]", []]))
    # The number of each media item's element (what messages name).
    number = {e["MediaID"]: n for n, e in enumerate(elements, 1) if isinstance(e, dict)}
    # Where the elements that are not objects are written: damage inside one of them costs the
    # item after it, named by the damaged element's number (vics.py, module doc).
    body = bytearray(_doc("US", [{}]).replace(b"[{}]", b"["))
    scalars: list[range] = []
    for n, element in enumerate(elements):
        text = json.dumps(element).encode()
        if not isinstance(element, dict):
            scalars.append(range(len(body) - 2 * (n > 0), len(body) + len(text) + 2))
        body += text + (b", " if n + 1 < len(elements) else b"]}")
    at = rng.randrange(len(body))
    op = rng.choice(["insert", "delete", "replace"])
    if op == "delete":
        del body[at]
    else:
        body[at : at + (op == "replace")] = bytes([rng.choice(b'{}[]",:x\\')])
    near_scalar = any(at in where for where in scalars)
    read, errors = _outcome(list(read_vics(io.BytesIO(bytes(body)))))
    assert read == sorted(set(read))
    named = {int(m.group(1)) for e in errors if (m := re.match(r"media item (\d+)", e))}
    last = len(elements)
    if errors and errors[-1].endswith("was not read"):
        stop = re.match(
            r"malformed JSON (after media item (\d+)|inside media item (\d+)|before any media"
            r" item)",
            errors[-1],
        )
        assert stop is not None
        last = int(stop.group(2) or 0) or max(int(stop.group(3) or 1) - 1, 0)
        assert max((number[i] for i in read), default=0) <= last
    assert not [e for e in errors[:-1] if e.endswith("was not read")]
    lost = {number[i] for i in range(1, 301) if number[i] <= last} - {number[i] for i in read}
    if near_scalar:  # named by the damaged element's number: the one before it
        lost = {n - 1 if n - 1 not in number.values() else n for n in lost}
    assert lost <= named


def test_a_stream_that_cannot_be_cut_reads_on_after_a_bad_item(bank_service: BankService) -> None:
    # stdin: a pipe, read as one stream (no parts planned ahead)
    bank_service.create_bank("pv")
    body = _numbered(3000)
    for item in (1000, 2000):
        body = _damaged(body, item, DAMAGE["string over 1 MiB"][0])
    body = _damaged(body, 2500, DAMAGE["stray byte"][0])
    read_end, write_end = os.pipe()
    writer = threading.Thread(target=lambda: os.write(write_end, body) and os.close(write_end))
    writer.start()
    with os.fdopen(read_end, "rb") as pipe:
        report = import_bank_file(bank_service, "pv", pipe, fmt="vics", batch_rows=500)
    writer.join()
    assert (report.added, report.error_count) == (2997, 3)
    assert [e.message.split(";")[0] for e in report.errors] == [
        "media item 1000: a string or number over 1048576 bytes",
        "media item 2000: a string or number over 1048576 bytes",
        "media item 2500: malformed JSON (lexical error: invalid char in json text.)",
    ]
    stored = {int(e.value, 16) for e in bank_service.iter_entries("pv")}
    assert stored == set(range(1, 3001)) - {1000, 2000, 2500}


def test_a_byte_order_mark_is_dropped(shared_data: Path) -> None:
    # user test, session 6: a VICS file starting with a UTF-8 BOM was refused as malformed JSON
    from safehold.banks.formats import open_bank_file

    (md5_a, _), (md5_b, _) = _reference(shared_data, 2)
    media = [{"MediaID": 1, "MD5": md5_a}, {"MediaID": 2, "MD5": md5_b}]
    body = b"\xef\xbb\xbf" + _doc("US", media)
    entries, errors = _split(list(read_vics(io.BytesIO(body))))
    assert errors == []
    assert [e.value for e in entries] == [md5_a, md5_b]
    for fmt in (None, "vics"):  # detected, and named
        opened = open_bank_file(io.BytesIO(body), fmt=fmt)
        assert opened.fmt == "vics"
        assert [row[:2] for row in opened.rows] == [("md5", md5_a), ("md5", md5_b)]


def _stored(
    i: int, signal_type: str, value: str, category: Category | None, note: str
) -> BankEntry:
    return BankEntry(
        id=i, bank_id=1, bank_name="b", signal_type=signal_type, value=value, quality=None,
        category=category, source="", note=note, added_at=datetime(2026, 1, 1, tzinfo=UTC),
        enabled=True,
    )  # fmt: skip


def test_export_round_trip_groups_a_media_item(shared_data: Path) -> None:
    (md5_a, sha1_a), (md5_b, sha1_b) = _reference(shared_data, 2)
    us1 = Category("vics-us", "1")
    stored = [
        _stored(1, "md5", md5_a, us1, "MediaID 1"),
        _stored(2, "sha1", sha1_a, us1, "MediaID 1"),
        _stored(3, "md5", md5_b, Category("ncmec-industry", "A1"), ""),
        _stored(4, "pdq", "0" * 64, None, ""),
        _stored(5, "sha1", sha1_b, Category("vics-us", "2"), ""),
    ]
    out = io.StringIO()
    report = write_vics(stored, out)
    assert (report.media, report.entries, report.skipped_types) == (3, 4, {"pdq": 1})
    assert report.other_categories == 1
    doc = json.loads(out.getvalue())
    assert doc["@odata.context"] == CONTEXT.format("US", "Media")
    assert doc["value"] == [
        {"MediaID": 1, "Category": 1, "MD5": md5_a.upper(), "SHA1": sha1_a.upper()},
        {"MediaID": 2, "Category": None, "MD5": md5_b.upper()},
        {"MediaID": 3, "Category": 2, "SHA1": sha1_b.upper()},
    ]
    back = list(read_vics(io.BytesIO(out.getvalue().encode())))
    assert [(e.signal_type, e.value, e.category) for e in back] == [  # type: ignore[union-attr]
        ("md5", md5_a, us1), ("sha1", sha1_a, us1), ("md5", md5_b, None),
        ("sha1", sha1_b, Category("vics-us", "2")),
    ]  # fmt: skip


@pytest.mark.parametrize("kind", ["Media", "Cases"])
def test_import_detects_vics_and_reports_items(
    bank_service: BankService, shared_data: Path, kind: str
) -> None:
    bank_service.create_bank("pv")
    (md5_a, sha1_a), (md5_b, _) = _reference(shared_data, 2)
    media = [
        {"MediaID": 1, "Category": 1, "MD5": md5_a, "SHA1": sha1_a, "PhotoDNA": "AA"},
        {"MediaID": 2, "Category": 3, "MD5": "zz"},
        {"MediaID": 3, "Category": 1, "MD5": md5_a},  # a duplicate
        {"MediaID": 4, "MD5": md5_b},
    ]
    report = import_bank_file(bank_service, "pv", io.BytesIO(_doc("US", media, kind)))
    assert (report.fmt, report.added, report.duplicates, report.error_count) == ("vics", 3, 1, 1)
    assert report.errors[0].line is None
    assert report.errors[0].message.startswith("media item 2 (MediaID 2): MD5:")
    assert report.notes == [
        "VICS categories kept in the scheme vics-us",
        "1 PhotoDNA value skipped (Safehold does not compute PhotoDNA)",
    ]
    stored = {(e.signal_type, e.value): e.category for e in bank_service.iter_entries("pv")}
    assert stored == {
        ("md5", md5_a): Category("vics-us", "1"),
        ("sha1", sha1_a): Category("vics-us", "1"),
        ("md5", md5_b): None,
    }


@pytest.mark.parametrize(
    "body",
    [
        b'{"value": 5}',
        b'\xef\xbb\xbf  [{"MD5": "x"}]',
        b'\n{"media": []}',
        b'{"@odata": 1, "x": [1]}',
    ],
)
def test_json_that_is_not_vics_is_refused_with_a_reason(
    bank_service: BankService, body: bytes
) -> None:
    # JSON read as a plain list gave one bad row per line ("unknown signal type")
    bank_service.create_bank("pv")
    with pytest.raises(InvalidInputError, match=r'^j.json is JSON but not VICS JSON \(no "value"'):
        import_bank_file(bank_service, "pv", io.BytesIO(body), name="j.json")
    assert bank_service.get_bank("pv").entry_count == 0


def test_a_csv_file_named_vics_gets_no_scheme_note(bank_service: BankService) -> None:
    bank_service.create_bank("pv")
    body = b"signal_type,signal_value\nmd5,d41d8cd98f00b204e9800998ecf8427e\n"
    report = import_bank_file(bank_service, "pv", io.BytesIO(body), fmt="vics")
    assert (report.added, report.error_count, report.notes) == (0, 1, [])
    assert report.errors[0].message.startswith("malformed JSON before any media item")


_PEAK = """
def peak():  # KiB; VmHWM, as ru_maxrss carries the parent's peak over fork and exec
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
"""
_DEEP_READ = (
    _PEAK
    + """
import sys
from safehold.banks.formats import read_vics
n = int(sys.argv[1])
body = b'{"value":[' + b'[' * n + b']' * n + b']}'
import io
items = list(read_vics(io.BytesIO(body)))
print(len(items), items[0].message)
print(peak())
"""
)


def test_deep_nesting_is_one_error_in_bounded_memory() -> None:
    # 20,000 levels cost ijson ~1 GB of prefix strings unbounded (memory grows with depth**2).
    done = subprocess.run(
        [sys.executable, "-c", _DEEP_READ, "20000"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    count_line, rss_line = done.stdout.splitlines()
    assert count_line.startswith("1 ")
    assert "nested deeper than 32 levels" in count_line
    assert int(rss_line) < 300 * 1024  # KiB


_LONG_ITEM = (
    _PEAK
    + """
import os, sys
from safehold.banks.formats import read_vics
path, mib = sys.argv[1], int(sys.argv[2])
with open(path, "wb") as f:
    f.write(b'{"value":[{"MediaID":1,"MD5":"' + b"1" * 32 + b'"},{"MediaID":2,"Note":"')
    for _ in range(mib):
        f.write(b"x" * (1 << 20))
    f.write(b'"},{"MediaID":3,"MD5":"' + b"3" * 32 + b'"}]}')
before = peak()
with open(path, "rb") as f:
    items = list(read_vics(f))
print([getattr(i, "value", None) or i.message for i in items])
print(peak() - before)
"""
)


def test_a_bad_item_is_skipped_in_bounded_memory(tmp_path: Path) -> None:
    # A 64 MiB string: the item is scanned a chunk at a time, never held.
    done = subprocess.run(
        [sys.executable, "-c", _LONG_ITEM, str(tmp_path / "long.json"), "64"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    read_line, growth_line = done.stdout.splitlines()
    assert read_line == str([
        "1" * 32, "media item 2: a string or number over 1048576 bytes; the item was skipped",
        "3" * 32,
    ])  # fmt: skip
    assert int(growth_line) < 32 * 1024  # KiB


def test_huge_string_and_huge_media_item_are_bounded() -> None:
    head = b'{"value":[{"MediaID":1,"MD5":"'
    huge_string = head + b"a" * (3 * 1024 * 1024) + b'"}]}'
    (error,) = list(read_vics(io.BytesIO(huge_string)))
    assert isinstance(error, FormatError)
    assert "a string or number over 1048576 bytes" in error.message
    keys = b",".join(b'"k%d":0' % i for i in range(600_000))
    huge_item = b'{"value":[{"MediaID":1,' + keys + b"}]}"
    (error,) = list(read_vics(io.BytesIO(huge_item)))
    assert isinstance(error, FormatError)
    assert "an item over 4194304 bytes" in error.message


def test_control_characters_are_escaped_and_a_wrong_top_level_is_named() -> None:
    body = b'{"value": [{"MediaID": "\\u0000\\u001b[31m", "MD5": "zz"}]}'
    (error,) = list(read_vics(io.BytesIO(body)))
    assert isinstance(error, FormatError)
    assert error.message.startswith("media item 1 (MediaID \\x00\\x1b[31m): MD5: ")
    assert not any(ord(c) < 32 for c in error.message)
    (error,) = list(read_vics(io.BytesIO(b"[1,2,3]")))
    assert isinstance(error, FormatError)
    assert error.message == 'the top level is not a VICS object ({"value": [media, ...]})'
    (error,) = list(read_vics(io.BytesIO(b'{"odata.metadata": "x"}')))
    assert isinstance(error, FormatError)
    assert error.message == 'no media item: VICS keeps them in an array under "value"'


def test_a_media_item_survives_import_and_export(
    bank_service: BankService, shared_data: Path
) -> None:
    # A bulk load numbers each transaction's rows in key order, which scatters a media item's
    # entries; the export brings them back together (user test, 2026-11-30: 3 media came back
    # as 6 single-hash objects).
    bank_service.create_bank("pv")
    pairs = _reference(shared_data, 3)
    media = [
        {"MediaID": 10 + i, "Category": 1, "MD5": md5, "SHA1": sha1}
        for i, (md5, sha1) in enumerate(pairs)
    ]
    report = import_bank_file(bank_service, "pv", io.BytesIO(_doc("US", media, "Media")))
    assert report.added == 6
    ids = {e.value: e.id for e in bank_service.iter_entries("pv")}
    # The ids follow the key, not the file: the two hashes of a media item are not neighbours.
    assert any(abs(ids[md5] - ids[sha1]) != 1 for md5, sha1 in pairs)
    out = io.StringIO()
    entries = bank_service.iter_entries("pv", media_order=True)
    assert (write_vics(entries, out).media, len(pairs)) == (3, 3)
    written = {(m["MD5"].lower(), m["SHA1"].lower()) for m in json.loads(out.getvalue())["value"]}
    assert written == set(pairs)


def test_export_never_merges_two_values_of_one_field(shared_data: Path) -> None:
    # Two files' MediaID 1 stored with one category at one time: two media, no value lost.
    (md5_a, sha1_a), (md5_b, sha1_b) = _reference(shared_data, 2)
    us1 = Category("vics-us", "1")
    stored = [
        _stored(1, "md5", md5_a, us1, "MediaID 1"),
        _stored(2, "sha1", sha1_a, us1, "MediaID 1"),
        _stored(3, "md5", md5_b, us1, "MediaID 1"),
        _stored(4, "sha1", sha1_b, us1, "MediaID 1"),
    ]
    out = io.StringIO()
    assert write_vics(stored, out).media == 2
    assert [(m["MD5"], m["SHA1"]) for m in json.loads(out.getvalue())["value"]] == [
        (md5_a.upper(), sha1_a.upper()),
        (md5_b.upper(), sha1_b.upper()),
    ]
