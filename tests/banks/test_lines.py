"""Strict line decoding of bank files: UTF-8 only, bounded lines, problems by line number."""

from __future__ import annotations

import codecs
import io
import itertools

import pytest

from safehold.banks.formats import ReadItem, read_csv, read_plain
from safehold.banks.lines import DecodedLines
from safehold.banks.models import NewEntry
from safehold.errors import FormatError, InvalidInputError

MD5 = "d35c785545392755e7e4164457657269"  # aaa-orig.jpg, shared/data expected-hashes.csv
MD5_B = "0" * 32


class RecordingReader(io.BytesIO):
    """A byte stream remembering the largest chunk any ``read``/``readline`` call returned."""

    largest = 0

    def readline(self, size: int | None = -1) -> bytes:
        line = super().readline(size)
        self.largest = max(self.largest, len(line))
        return line

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.largest = max(self.largest, len(data))
        return data


def _lines(data: bytes, limit: int = 1024) -> DecodedLines:
    return DecodedLines(io.BytesIO(data), name="f.csv", max_line_bytes=limit)


def _errors(items: list[ReadItem]) -> list[tuple[int | None, str]]:
    return [(i.line, i.message) for i in items if isinstance(i, FormatError)]


def test_utf8_bom_is_dropped_and_lines_keep_their_newlines() -> None:
    lines = _lines(codecs.BOM_UTF8 + b"a\r\nb\n\nc")
    assert list(lines) == ["a\r\n", "b\n", "\n", "c"]


@pytest.mark.parametrize(
    ("encoding", "label"),
    [("utf-16", "UTF-16"), ("utf-16-be", "UTF-16"), ("utf-16-le", "UTF-16"), ("utf-32", "UTF-32")],
)
def test_wide_encodings_are_refused_once_before_any_row(encoding: str, label: str) -> None:
    data = f"signal_type,signal_str\nmd5,{MD5}\n".encode(encoding)
    with pytest.raises(InvalidInputError) as info:
        _lines(data)
    assert info.value.message == f"f.csv: not UTF-8 text ({label}? re-save it as UTF-8)"


def test_latin1_lines_are_bad_rows_not_mojibake() -> None:
    text = f"signal_type,signal_str,collab\nmd5,{MD5},caf\xe9\nmd5,{MD5_B},ok\n"
    items = list(read_csv(_lines(text.encode("latin-1"))))
    assert _errors(items) == [(2, "line 2: not UTF-8 text (re-save the file as UTF-8)")]
    assert [i for i in items if isinstance(i, NewEntry)] == [NewEntry("md5", MD5_B, source="ok")]


def test_a_bad_line_inside_a_quoted_field_fails_its_row_only() -> None:
    data = (
        b"signal_type,signal_str,note\nmd5," + MD5.encode() + b',"two\n\xff lines"\n'
        b"md5," + MD5_B.encode() + b",\n"
    )
    items = list(read_csv(_lines(data)))
    assert _errors(items) == [(2, "line 2: not UTF-8 text (re-save the file as UTF-8)")]
    assert [i.value for i in items if isinstance(i, NewEntry)] == [MD5_B]


def test_an_over_long_line_is_skipped_without_being_held_whole() -> None:
    huge = b"a" * (10 * 1024 * 1024)
    stream = RecordingReader(MD5.encode() + b"\n" + huge + b"\n" + MD5_B.encode() + b"\n")
    lines = DecodedLines(stream, max_line_bytes=1024 * 1024)
    items = list(read_plain(lines, signal_type="md5"))
    assert _errors(items) == [(2, "line 2: line longer than 1 MiB")]
    assert [i.value for i in items if isinstance(i, NewEntry)] == [MD5, MD5_B]
    assert stream.largest <= 1024 * 1024


def test_an_over_long_blank_looking_csv_line_is_still_reported() -> None:
    data = b"signal_type,signal_str\n" + b" " * 5000 + b"\nmd5," + MD5.encode() + b"\n"
    items = list(read_csv(_lines(data, limit=1024)))
    assert _errors(items) == [(2, "line 2: line longer than 1,024 bytes")]
    assert len([i for i in items if isinstance(i, NewEntry)]) == 1


def test_head_reads_ahead_without_consuming() -> None:
    lines = _lines(b"# comment\nsignal_type,signal_str\nmd5,x\n")
    assert lines.head(2) == ["# comment\n", "signal_type,signal_str\n"]
    assert list(lines) == ["# comment\n", "signal_type,signal_str\n", "md5,x\n"]


def test_problems_do_not_pile_up_in_memory() -> None:
    bad = b"\xff\n" * 10_000
    lines = _lines(bad)
    items = list(itertools.islice(read_plain(lines, signal_type="md5"), 10_000))
    assert len(items) == 10_000
    assert lines.problem_in(1, 10_000) is None  # each problem was handed out once, then dropped


def test_a_bom_does_not_hide_an_over_long_first_line() -> None:
    data = codecs.BOM_UTF8 + b"a" * 2000 + b"\n" + MD5.encode() + b"\n"
    items = list(read_plain(_lines(data, limit=1024), signal_type="md5"))
    assert _errors(items) == [(1, "line 1: line longer than 1,024 bytes")]
    assert [i.value for i in items if isinstance(i, NewEntry)] == [MD5]


def test_runs_of_empty_lines_are_read_whole_with_true_line_numbers() -> None:
    # User test: 30 MB of newlines took 31 s, one Python round per line. A run is one item.
    blank = 3_000_000
    lines = _lines(MD5.encode() + b"\n" + b"\n" * blank + b"z\n" + MD5_B.encode() + b"\n")
    assert len(list(lines)) < 10
    items = list(
        read_plain(_lines(b"\n" * blank + b"a\n" + MD5.encode() + b"\n"), signal_type="md5")
    )
    assert _errors(items) == [
        (blank + 1, f"line {blank + 1}: an md5 hash is 32 hexadecimal digits (got 1 characters)")
    ]
    assert [i.value for i in items if isinstance(i, NewEntry)] == [MD5]


def test_empty_line_runs_in_csv_keep_line_numbers_and_quoted_text() -> None:
    data = (
        b"signal_type,signal_str,note\n\n\n\n"
        b"md5," + MD5.encode() + b',"first\n\n\n\nlast"\n\n\n'
        b"md5,zz,\n"
    )
    items = list(read_csv(_lines(data)))
    assert _errors(items) == [
        (12, "line 12: an md5 hash contains characters that are not hexadecimal digits (0-9, a-f)")
    ]
    (entry,) = [i for i in items if isinstance(i, NewEntry)]
    assert entry.note == "first\n\n\n\nlast"


def test_block_decoding_keeps_line_numbers_across_blocks_and_bad_lines() -> None:
    # Whole 1 MiB blocks are decoded at once; a block with a Latin-1 line falls back to
    # line-by-line reading for that block only, and numbering stays exact across blocks.
    good = MD5.encode() + b"\n"
    count = 100_000  # about 3.3 MB: several blocks
    body = bytearray(good * count)
    bad_line = 70_001
    start = (bad_line - 1) * len(good)
    body[start : start + len(good)] = b"caf\xe9 " + b"0" * 27 + b"\n"
    body += b"\n\n\n" + good
    lines = DecodedLines(io.BytesIO(bytes(body)), name="t", max_line_bytes=1024)
    numbers = []
    for text in lines:
        if text.strip():
            numbers.append(lines.line)
    assert numbers[:2] == [1, 2]
    assert numbers[-1] == count + 4
    assert len(numbers) == count + 1
    assert lines.problem_in(1, bad_line - 1) is None
    assert lines.problem_in(bad_line, bad_line) == "not UTF-8 text (re-save the file as UTF-8)"
