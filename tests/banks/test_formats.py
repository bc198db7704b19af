"""Bank files: python-threatexchange CSV and plain lists, row errors with line numbers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from safehold.banks.formats import (
    CSV_COLUMNS,
    ReadItem,
    check_plain_exportable,
    open_bank_file,
    read_bank_file,
    read_csv,
    read_plain,
    sniff_format,
    write_csv,
    write_plain,
)
from safehold.banks.models import BankEntry, Category, NewEntry
from safehold.banks.validation import known_signal_types
from safehold.errors import FormatError, InvalidInputError, InvalidSignalError

# Bridge photo PDQ from Meta's Java test values (quoted in shared/data/README.md).
BRIDGE = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
MD5 = "d35c785545392755e7e4164457657269"  # aaa-orig.jpg, expected-hashes.csv


def _split(items: list[ReadItem]) -> tuple[list[NewEntry], list[FormatError]]:
    entries = [i for i in items if isinstance(i, NewEntry)]
    errors = [i for i in items if isinstance(i, FormatError)]
    return entries, errors


def _lines(text: str) -> io.StringIO:
    return io.StringIO(text, newline="")


def test_threatexchange_dataset_csv(shared_data: Path) -> None:
    # The header and column order `threatexchange dataset -P --csv` writes.
    text = (
        "signal_type,signal_str,collab,category,tags\n"
        f"pdq,{BRIDGE},Sample Data,POSITIVE_CLASS,tag1 tag2\n"
        f"video_md5,{MD5.upper()},Sample Data,INVESTIGATION_SEED,\n"
        f"pdq,{'0' * 64},Sample Data,NEGATIVE_CLASS,\n"
    )
    entries, errors = _split(list(read_csv(_lines(text))))
    assert entries == [
        NewEntry("pdq", BRIDGE, source="Sample Data", note="tags: tag1 tag2"),
        NewEntry("md5", MD5, source="Sample Data"),
    ]
    assert [(e.line, "NEGATIVE_CLASS" in e.message) for e in errors] == [(4, True)]


def test_safehold_columns_and_defaults() -> None:
    text = (
        "signal_type,signal_str,collab,category,tags,quality,note\n"
        f"pdq,{BRIDGE},,vics:1,,87,seen twice\n"
        f"pdq,{BRIDGE[::-1]},iwf,,,,\n"
    )
    entries, errors = _split(
        list(read_csv(_lines(text), category=Category("local", "x"), source="default-src"))
    )
    assert errors == []
    assert entries[0] == NewEntry(
        "pdq", BRIDGE, quality=87, category=Category("vics", "1"), source="default-src",
        note="seen twice",
    )  # fmt: skip
    assert entries[1].category == Category("local", "x")
    assert entries[1].source == "iwf"


def test_headerless_csv_uses_threatexchange_column_order() -> None:
    entries, errors = _split(list(read_csv(_lines(f"pdq,{BRIDGE},collab\n"))))
    assert errors == []
    assert entries == [NewEntry("pdq", BRIDGE, source="collab")]


def test_single_hash_column_with_signal_type_option() -> None:
    text = f"hash\n{MD5}\n\n# a comment row\n{MD5[::-1]}\n"
    entries, errors = _split(list(read_csv(_lines(text), signal_type="md5")))
    assert errors == []
    assert [e.value for e in entries] == [MD5, MD5[::-1]]
    _, errors = _split(list(read_csv(_lines(text))))
    assert [e.line for e in errors] == [2, 5]
    assert all("no signal type" in e.message for e in errors)


def test_bad_rows_are_reported_with_line_numbers_and_never_echo_hashes() -> None:
    short = BRIDGE[:-1]
    text = (
        "signal_type,signal_str,category,quality\n"  # line 1
        f"pdq,{BRIDGE},,\n"  # 2 good
        f"pdq,{short},,\n"  # 3 wrong length
        f"{BRIDGE},pdq,,\n"  # 4 columns swapped: a hash where the type belongs
        f"pdq,{BRIDGE[::-1]},{BRIDGE},\n"  # 5 a hash in the category column
        f"pdq,{'1' * 64},,high\n"  # 6 quality not a number
        f"tmk,{'1' * 64},,\n"  # 7 unknown signal type
        "pdq,,,\n"  # 8 no value
        f"md5,{MD5},,\n"  # 9 good
    )
    entries, errors = _split(list(read_csv(_lines(text))))
    assert [e.value for e in entries] == [BRIDGE, MD5]
    assert [e.line for e in errors] == [3, 4, 5, 6, 7, 8]
    for error in errors:
        assert error.message.startswith(f"line {error.line}: ")
        for secret in (BRIDGE, short, BRIDGE[::-1], "1" * 64):
            assert secret not in error.message
    assert "64 hexadecimal digits" in errors[0].message
    # A signal type read from a row is never echoed (it may be part of a hash).
    known = f"unknown signal type in column 1 (known: {known_signal_types()})"
    assert errors[1].message == f"line 4: {known}"
    assert errors[4].message == f"line 7: {known}"


def test_multiline_vpdq_field_keeps_line_numbers(shared_data: Path) -> None:
    frames = (shared_data / "reference/videos/vpdq-hashes/chair-19-sd-bar.txt").read_text()
    frames = "\n".join(frames.splitlines()[:5])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["signal_type", "signal_str"])
    writer.writerow(["vpdq", frames])  # lines 2-6
    writer.writerow(["pdq", "zz"])  # line 7
    entries, errors = _split(list(read_csv(_lines(out.getvalue()))))
    assert [e.signal_type for e in entries] == ["vpdq"]
    assert entries[0].value.splitlines() == frames.splitlines()
    assert [e.line for e in errors] == [7]


def test_malformed_csv_row_is_skipped() -> None:
    text = f"signal_type,signal_str\nmd5,{MD5}\nmd5,\0bad\nmd5,{MD5[::-1]}\n"
    entries, errors = _split(list(read_csv(_lines(text))))
    assert [e.value for e in entries] == [MD5, MD5[::-1]]
    assert [e.line for e in errors] == [3]


def test_plain_list(shared_data: Path) -> None:
    text = (
        "# PDQ hashes of benign reference photos\n"  # 1
        "\n"  # 2
        f"{BRIDGE.upper()}\n"  # 3
        f"{BRIDGE[::-1]}   # inline comment\n"  # 4
        f"pdq {'2' * 64}\n"  # 5 python-threatexchange file format
        "not-a-hash\n"  # 6
        f"{BRIDGE} extra words\n"  # 7
    )
    category = Category("local", "demo")
    entries, errors = _split(
        list(read_plain(_lines(text), signal_type="pdq", category=category, note="n"))
    )
    assert entries == [
        NewEntry("pdq", BRIDGE, category=category, note="n"),
        NewEntry("pdq", BRIDGE[::-1], category=category, note="n"),
        NewEntry("pdq", "2" * 64, category=category, note="n"),
    ]
    assert [e.line for e in errors] == [6, 7]
    assert "3 words" in errors[1].message


def test_plain_list_without_signal_type_needs_it_per_line() -> None:
    entries, errors = _split(list(read_plain(_lines(f"md5 {MD5}\n{MD5}\n"))))
    assert entries == [NewEntry("md5", MD5)]
    assert [e.line for e in errors] == [2]


def test_plain_refuses_vpdq_and_unknown_types() -> None:
    with pytest.raises(InvalidInputError, match="--format csv"):
        read_plain(_lines(""), signal_type="vpdq")
    with pytest.raises(InvalidSignalError):
        list(read_plain(_lines(""), signal_type="tmk"))
    with pytest.raises(InvalidInputError, match="unknown bank file format"):
        read_bank_file(_lines(""), "xml")


def _entry(i: int, signal_type: str, value: str, **kw: object) -> BankEntry:
    fields: dict[str, object] = {
        "quality": None, "category": None, "source": "", "note": "", "enabled": True,
    }  # fmt: skip
    fields.update(kw)
    return BankEntry(
        id=i, bank_id=1, bank_name="b", signal_type=signal_type, value=value,
        added_at=datetime(2024, 1, 1, tzinfo=UTC), **fields,  # type: ignore[arg-type]
    )  # fmt: skip


def test_csv_round_trip(shared_data: Path) -> None:
    frames = (shared_data / "reference/videos/vpdq-hashes/chair-19-sd-bar.txt").read_text()
    from safehold.signals import get_signal_type

    vpdq = get_signal_type("vpdq").validate_signal(frames)
    stored = [
        _entry(1, "pdq", BRIDGE, quality=100, category=Category("ncmec-industry", "A1"),
               source="ncmec", note='said "hi", twice'),
        _entry(2, "md5", MD5),
        _entry(3, "vpdq", vpdq, note="multi\nline"),
    ]  # fmt: skip
    out = io.StringIO()
    assert write_csv(stored, out) == 3
    assert out.getvalue().splitlines()[0] == ",".join(CSV_COLUMNS)
    entries, errors = _split(list(read_csv(_lines(out.getvalue()))))
    assert errors == []
    assert entries == [
        NewEntry(e.signal_type, e.value, e.quality, e.category, e.source, e.note) for e in stored
    ]


def test_plain_round_trip() -> None:
    stored = [_entry(1, "pdq", BRIDGE), _entry(2, "md5", MD5)]
    out = io.StringIO()
    assert write_plain(stored, out, include_signal_type=True) == 2
    assert out.getvalue() == f"pdq {BRIDGE}\nmd5 {MD5}\n"
    entries, errors = _split(list(read_plain(_lines(out.getvalue()))))
    assert (entries, errors) == ([NewEntry("pdq", BRIDGE), NewEntry("md5", MD5)], [])
    only_pdq = io.StringIO()
    write_plain(stored[:1], only_pdq)
    assert only_pdq.getvalue() == f"{BRIDGE}\n"
    with pytest.raises(InvalidInputError, match="--format csv"):
        write_plain([_entry(3, "vpdq", "a\nb")], io.StringIO())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"# exported list\n\nsignal_type,signal_str\nmd5,{MD5}\n", "csv"),
        (f"Hash,Note\n{MD5},x\n", "csv"),
        (f"md5 {MD5}\n", "plain"),
        (f"{MD5}\n", "plain"),
        (f"md5,{MD5}\n", "csv"),  # no header, but a signal type first: python-threatexchange's
        (f" Video_MD5 ,{MD5},src\n", "csv"),  # order (aliases and case as the reader takes them)
        (f"hello,{MD5}\n", "plain"),  # not a signal type: the comma hint says --format csv
        (f"{MD5},md5\n", "plain"),
        ("# only comments\n", "plain"),
    ],
)
def test_sniff_format_looks_for_a_csv_header_or_row(text: str, expected: str) -> None:
    assert sniff_format(text.splitlines(keepends=True)) == expected


def test_a_comma_in_a_plain_list_hints_at_csv() -> None:
    entries, errors = _split(list(read_plain(_lines(f"md5,{MD5}\n"))))
    assert entries == []
    assert [e.message for e in errors] == [
        "line 1: a comma in a plain list: is this CSV? use --format csv"
    ]
    assert MD5 not in errors[0].message


@pytest.mark.parametrize("quality", ["\u0665\u0660", "1e2", "-1", "0100", "high"])
def test_quality_must_be_ascii_digits_0_to_100(quality: str) -> None:
    entries, errors = _split(list(read_csv(_lines(f"md5,{MD5},,,,{quality},\n"))))
    assert entries == []
    assert [e.message for e in errors] == ["line 1: quality must be an integer from 0 to 100"]


def test_short_signal_type_cells_are_never_echoed() -> None:
    # A truncated row can shift up to 20 hex digits of a hash into the signal type column.
    text = f"signal_str,signal_type\n{MD5},{MD5[:20]}\n{MD5},01234567\n{MD5},nosuch\n"
    _, errors = _split(list(read_csv(_lines(text))))
    known = f"unknown signal type in column 2 (known: {known_signal_types()})"
    assert [e.message for e in errors] == [f"line {n}: {known}" for n in (2, 3, 4)]
    _, plain = _split(list(read_plain(_lines(f"0123456789abcdef {MD5}\n"))))
    assert [e.message for e in plain] == [
        f"line 1: unknown signal type in the first word (known: {known_signal_types()})"
    ]


def test_plain_export_of_vpdq_is_refused_before_writing() -> None:
    check_plain_exportable(["md5", "pdq", "sha256"])
    with pytest.raises(InvalidInputError) as info:
        check_plain_exportable(["md5", "vpdq"])
    assert info.value.message == (
        "vpdq values span several lines and cannot be written as a plain list; "
        "export them with --format csv, or choose another --signal-type"
    )


@pytest.mark.parametrize("fmt", [None, "plain", "csv", "iwf"])
def test_an_over_long_first_line_is_a_bad_row_for_every_sniffer(fmt: str | None) -> None:
    # 2 MB: over the csv module's 128 KiB field limit and the plain list's 1 MiB line bound.
    md5 = "d41d8cd98f00b204e9800998ecf8427e"  # MD5 of the empty string (RFC 1321 test suite)
    header = "" if fmt in (None, "plain") else ("signal_str\n" if fmt == "csv" else "md5\n")
    body = (header + "a" * 2_000_000 + "\n" + md5 + "\n").encode()
    opened = open_bank_file(io.BytesIO(body), fmt=fmt, signal_type="md5")
    assert opened.fmt == (fmt or "plain")
    rows = list(opened.rows)
    assert [r for r in rows if not isinstance(r, FormatError)] == [("md5", md5, None, None, "", "")]
    (error,) = [r for r in rows if isinstance(r, FormatError)]
    assert error.line == (1 if header == "" else 2)


def test_a_quote_left_open_at_the_end_is_malformed_csv() -> None:
    text = 'signal_type,signal_str\nmd5,"d41d8cd98f00b204e9800998ecf8427e\n'
    items = list(read_csv(_lines(text)))
    assert [(e.line, e.message) for e in items if isinstance(e, FormatError)] == [
        (2, "line 2: malformed CSV (unexpected end of data)")
    ]
    assert [e for e in items if not isinstance(e, FormatError)] == []


def _rows_after_a_stray_quote(stray: str) -> str:
    rows = [f"md5,{i:032x},src,,,,row {i}\n" for i in range(1, 9)]
    rows[2] = stray  # line 4
    return "signal_type,signal_str,collab,category,tags,quality,note\n" + "".join(rows)


@pytest.mark.parametrize(
    "stray",
    [
        f'md5,{3:032x},src,,,,"an open quote\n',  # never closed: reaches the end of the file
        f'md5,"{3:032x},src,,,,\n',  # opened in the value, closed by the next stray quote
    ],
    ids=["never-closed", "closed-by-a-later-quote"],
)
def test_a_stray_quote_is_one_bad_row_and_the_rows_after_it_are_read(stray: str) -> None:
    # It used to swallow every line after it into one bad row (a user test, 2026-11-30).
    text = _rows_after_a_stray_quote(stray)
    if "open quote" not in stray:  # a later row's note holds the quote that closes it
        text = text.replace("row 6\n", 'row 6 "quoted" later\n')
    entries, errors = _split(list(read_csv(_lines(text))))
    assert [int(e.value, 16) for e in entries] == [1, 2, 4, 5, 6, 7, 8]
    assert errors[0].line == 4
    assert "swallowed" in errors[0].message
    assert [e.note for e in entries][-1] == "row 8"


def test_a_quoted_note_over_two_lines_is_still_one_row() -> None:
    text = _rows_after_a_stray_quote(f'md5,{3:032x},src,,,,"a note\nover two lines"\n')
    entries, errors = _split(list(read_csv(_lines(text))))
    assert errors == []
    assert [int(e.value, 16) for e in entries] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert entries[2].note == "a note\nover two lines"


def test_a_stray_quote_through_the_import_keeps_line_numbers(tmp_path: Path) -> None:
    text = _rows_after_a_stray_quote(f'md5,{3:032x},src,,,,"an open quote\n')
    lines = list(open_bank_file(io.BytesIO(text.encode()), fmt="csv").rows)
    errors = [r for r in lines if isinstance(r, FormatError)]
    assert [e.line for e in errors] == [4]
    assert sum(1 for r in lines if isinstance(r, tuple)) == 7


@pytest.mark.parametrize("fmt", ["csv", None], ids=["csv", "detected"])
def test_a_file_with_carriage_return_line_ends_is_read_line_by_line(fmt: str | None) -> None:
    # Classic Mac OS / old Excel line ends (user test, 2026-11-30: the whole file was one bad
    # row, and read through standard input it was taken for a plain list).
    header = "signal_type,signal_str,collab,category,tags,quality,note\r"
    body = "".join(f"md5,{i:032x},c,,,,row {i}\r" for i in range(1, 6)) + f"md5,{MD5[:5]}\r"
    opened = open_bank_file(io.BytesIO((header + body).encode()), fmt=fmt)
    rows = list(opened.rows)
    assert opened.fmt == "csv"
    assert [r[5] for r in rows if isinstance(r, tuple)] == [f"row {i}" for i in range(1, 6)]
    assert [e.line for e in rows if isinstance(e, FormatError)] == [7]


def test_a_stray_carriage_return_inside_a_line_is_named() -> None:
    text = f"signal_type,signal_str\nmd5,{MD5}\rmd5,{MD5[::-1]}\nmd5,{'1' * 32}\n"
    rows = list(open_bank_file(io.BytesIO(text.encode()), fmt="csv").rows)
    assert [str(e) for e in rows if isinstance(e, FormatError)] == [
        "line 2: malformed CSV (a carriage return (\\r) inside a line, not at its end)"
    ]
    assert [r[1] for r in rows if isinstance(r, tuple)] == ["1" * 32]
