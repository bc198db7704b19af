"""VICS JSON (Project VIC data model): streaming read, category schemes, export round trip.

Hash values are those of benign reference images: MD5 from shared/data's expected-hashes.csv,
SHA-1 from OpenSSL through hashlib (the reference implementation).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from safehold.banks.formats import ReadItem, read_vics, write_vics
from safehold.banks.importing import import_bank_file
from safehold.banks.models import BankEntry, Category, NewEntry
from safehold.banks.service import BankService
from safehold.errors import FormatError

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
    assert errors[0].message.startswith("malformed JSON after media item 1")


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
