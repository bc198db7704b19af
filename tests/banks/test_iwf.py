"""IWF-style multi-hash lists: a column per hash type, one entry per cell, bad cells alone."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import pytest

from safehold.banks.formats import ReadItem, open_bank_file, read_iwf, sniff_format
from safehold.banks.importing import import_bank_file
from safehold.banks.models import Category, NewEntry
from safehold.banks.service import BankService
from safehold.errors import FormatError


def _reference(shared_data: Path) -> list[dict[str, str]]:
    """Reference image hashes: md5, sha256 and pdq from expected-hashes.csv, sha1 by hashlib."""
    images = shared_data / "reference" / "images"
    with (images / "expected-hashes.csv").open() as f:
        rows = list(csv.DictReader(f))[:3]
    for r in rows:
        r["sha1"] = hashlib.sha1((images.parent / r["path"]).read_bytes()).hexdigest()
    return rows


def _split(items: list[ReadItem]) -> tuple[list[NewEntry], list[FormatError]]:
    return (
        [i for i in items if isinstance(i, NewEntry)],
        [i for i in items if isinstance(i, FormatError)],
    )


def test_each_hash_cell_is_an_entry_and_a_bad_cell_is_its_own_row(shared_data: Path) -> None:
    a, b, c = _reference(shared_data)
    text = (
        "# IWF-style list\n"  # 1
        "ID,MD5,SHA-1,SHA256,PDQ,PDQ Quality,Category,PhotoDNA\n"  # 2
        f"101,{a['md5'].upper()},{a['sha1']},{a['sha256']},{a['pdq']},{a['pdq_quality']},A,xx\n"
        f"102,{b['md5']},{b['sha1'][:-2]},,{b['pdq']},,iwf:B,\n"  # 4: a short SHA-1
        f"103,{c['md5']},,,,,uk-caid:C,\n"  # 5
    )
    entries, errors = _split(list(read_iwf(io.StringIO(text, newline=""), source="iwf")))
    cat_a, cat_b = Category("iwf", "A"), Category("iwf", "B")
    assert entries == [
        NewEntry("md5", a["md5"], category=cat_a, source="iwf", note="id 101"),
        NewEntry("sha1", a["sha1"], category=cat_a, source="iwf", note="id 101"),
        NewEntry("sha256", a["sha256"], category=cat_a, source="iwf", note="id 101"),
        NewEntry("pdq", a["pdq"], quality=int(a["pdq_quality"]), category=cat_a,
                 source="iwf", note="id 101"),
        NewEntry("md5", b["md5"], category=cat_b, source="iwf", note="id 102"),
        NewEntry("pdq", b["pdq"], category=cat_b, source="iwf", note="id 102"),
        NewEntry("md5", c["md5"], category=Category("uk-caid", "C"), source="iwf",
                 note="id 103"),
    ]  # fmt: skip
    assert [e.message for e in errors] == [
        "line 4: sha1 column: a sha1 hash is 40 hexadecimal digits (got 38 characters)"
    ]


def test_semicolon_lists_and_detection() -> None:
    md5 = "d35c785545392755e7e4164457657269"
    text = f"MD5;SHA1;Image ID\n{md5};;7\n"
    assert sniff_format(text.splitlines(keepends=True)) == "iwf"
    entries, errors = _split(list(read_iwf(io.StringIO(text), category_scheme="icse")))
    assert (entries, errors) == ([NewEntry("md5", md5, note="id 7")], [])
    # A data row is never taken for an IWF header, nor is python-threatexchange's CSV: a row
    # that starts with a signal type is a header-less CSV row.
    assert sniff_format([f"md5,{md5}\n"]) == "csv"
    assert sniff_format(["signal_type,signal_str\n"]) == "csv"
    _, missing = _split(list(read_iwf(io.StringIO(f"{md5}\n"))))
    assert [e.message for e in missing] == [
        "line 1: no header row naming a hash column (md5, sha1, sha256 or pdq)"
    ]


def test_import_detects_an_iwf_list(bank_service: BankService, shared_data: Path) -> None:
    a, b, _ = _reference(shared_data)
    bank_service.create_bank("iwf", category=Category("local", "iwf"))
    body = (
        f"md5,sha1,grade\n{a['md5']},{a['sha1']},A\n{b['md5']},not-hex,\n\n{a['md5']},,A\n"
    ).encode()
    report = import_bank_file(bank_service, "iwf", io.BytesIO(body), source="iwf-list")
    assert (report.fmt, report.added, report.duplicates, report.error_count) == ("iwf", 3, 1, 1)
    assert report.errors[0].line == 3
    assert "not-hex" not in report.errors[0].message
    stored = {(e.signal_type, e.value): (e.category, e.source)
              for e in bank_service.iter_entries("iwf")}  # fmt: skip
    assert stored == {
        ("md5", a["md5"]): (Category("iwf", "A"), "iwf-list"),
        ("sha1", a["sha1"]): (Category("iwf", "A"), "iwf-list"),
        ("md5", b["md5"]): (Category("local", "iwf"), "iwf-list"),
    }


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_bad_rows_after_the_header_keep_their_line_numbers(delimiter: str) -> None:
    body = f"md5{delimiter}sha1\nzz{delimiter}\n\nyy{delimiter}\n".encode()
    rows = list(open_bank_file(io.BytesIO(body), fmt="iwf").rows)
    assert [r.line for r in rows if isinstance(r, FormatError)] == [2, 4]
