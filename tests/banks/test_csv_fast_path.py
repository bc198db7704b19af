"""The CSV fast path of large imports (``open_csv_bytes``): the rows and errors of the ordinary
reader (``open_bank_file``), from a split in C when every line is certainly one row."""

from __future__ import annotations

import io

import pytest

from safehold.banks.formats import open_bank_file
from safehold.banks.formats.csv_format import _text_lines, unquoted_text
from safehold.banks.formats.reading import open_csv_bytes
from safehold.banks.lines import CSV_LINE_LIMIT
from safehold.banks.models import Category
from safehold.errors import FormatError

MD5 = "d35c785545392755e7e4164457657269"  # aaa-orig.jpg, shared/data expected-hashes.csv
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"  # bridge photo
HEADER = "signal_type,signal_str,collab,category,tags,quality,note\n"

#: Rows a hash list may hold, good and bad, without quotes, CR or NUL.
ROWS = [
    f"md5,{MD5},hotline,ncmec-industry:A1,,,first\n",
    f"pdq,{PDQ.upper()},,,tag1  tag2,90,\n",  # upper-case hex, tags become the note
    "\n",  # blank
    "   \n",  # whitespace only
    "# a comment,with,cells\n",
    f"md5,  {MD5}  ,,,,,padded value\n",
    f"md5,{MD5[:-1]},,,,,short hash\n",  # bad: length
    f"bogus,{MD5},,,,,unknown type\n",  # bad: type (never echoed)
    f"pdq,{PDQ},,,,101,\n",  # bad: quality
    f"md5,{MD5},,no-colon,,,\n",  # bad: category
    f"md5,{MD5},,NEGATIVE_CLASS,,,\n",  # bad: a known false positive
    f"md5,{MD5}\n",  # fewer cells
    f"sha256,{'ab' * 32},src,,,,note,extra,cells\n",  # more cells
    ",,,,,,\n",  # all empty cells: a blank row
    f"video_md5,{MD5},,POSITIVE_CLASS,,,alias type\n",
    f"md5,{'z' * 32},,,,,not hex\n",
    "md5,,,,,,no value\n",
]


def _items(rows: object) -> list[object]:
    # Errors as lists, rows as tuples.
    return [
        [type(r).__name__, str(r), r.line] if isinstance(r, FormatError) else r
        for r in rows  # type: ignore[attr-defined]
    ]


def _both(data: bytes, **options: object) -> tuple[list[object], list[object]]:
    """(fast path, ordinary reader) items of ``data`` read as CSV."""
    fast = open_csv_bytes(data, **options)  # type: ignore[arg-type]
    slow = open_bank_file(io.BytesIO(data), fmt="csv", **options)  # type: ignore[arg-type]
    assert fast.fmt == slow.fmt == "csv"
    return _items(fast.rows), _items(slow.rows)


@pytest.mark.parametrize(
    "text",
    [
        HEADER + "".join(ROWS),
        "".join(ROWS),  # no header: python-threatexchange's column order
        "\ufeff" + HEADER + "".join(ROWS),  # byte order mark
        HEADER + "".join(ROWS).rstrip("\n"),  # no newline at the end
        "value,note,type\n" + f"{MD5},n1,md5\n{PDQ},,pdq\n,,md5\n",  # aliases, reordered
        "\n\n" + HEADER + "".join(ROWS) + "\n\n\n",  # blank lines around
    ],
    ids=["header", "no-header", "bom", "no-final-newline", "aliases", "blank-lines"],
)
def test_the_fast_path_reads_what_the_csv_reader_reads(text: str) -> None:
    data = text.encode()
    assert unquoted_text(data) is not None  # the fast path is taken
    fast, slow = _both(data, source="import", category=Category("iwf", "1"))
    assert fast == slow
    assert any(isinstance(i, tuple) for i in fast)
    if "short hash" in text:  # the bad rows are errors, with the reader's line numbers
        errors = [i for i in fast if not isinstance(i, tuple)]
        assert len(errors) == 7  # length, type, quality, category x2, not hex, no value
        first = text.removeprefix("\ufeff").splitlines().index(ROWS[6].rstrip("\n")) + 1
        assert errors[0][2] == first


@pytest.mark.parametrize(
    "data",
    [
        (HEADER + "md5," + MD5 + ',,,,,"a quoted, note"\n').encode(),
        (HEADER + "".join(ROWS) + ROWS[0]).replace("\n", "\r\n").encode(),  # CRLF
        (HEADER + f"md5,{MD5},,,,,nul\x00here\n" + ROWS[0]).encode(),
        HEADER.encode() + f"md5,{MD5},,,,,caf".encode() + b"\xe9\n" + ROWS[0].encode(),
    ],
    ids=["quote", "crlf", "nul", "latin-1"],
)
def test_other_files_take_the_csv_reader_with_the_same_result(data: bytes) -> None:
    assert unquoted_text(data) is None
    fast, slow = _both(data)
    assert fast == slow
    assert isinstance(fast[-1], tuple)  # rows after the odd one are read
    assert fast[-1][1] == MD5


def test_a_file_over_the_line_bound_is_not_split() -> None:
    assert unquoted_text(b"x" * (CSV_LINE_LIMIT + 1)) is None


def test_lines_are_split_block_by_block_without_losing_one() -> None:
    lines = [f"line {i}" + "x" * (i % 13) for i in range(500)]
    for text in ("\n".join(lines), "\n".join(lines) + "\n"):
        assert list(_text_lines(text, block=50)) == lines
    assert list(_text_lines("\n", block=1)) == [""]
    assert list(_text_lines("", block=1)) == []
    assert list(_text_lines("a\n\nb", block=1)) == ["a", "", "b"]
