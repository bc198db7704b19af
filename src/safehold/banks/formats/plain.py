"""The plain list: ``--format plain``, one hash per line.

Blank lines and text after ``#`` are ignored. A line may also read ``<signal_type> <hash>``,
the python-threatexchange ``LocalFileSignalExchangeAPI`` file format
(``exchanges/impl/file_api.py``). vPDQ values span several lines and need the CSV format.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from safehold.banks.formats.csv_format import row_problems
from safehold.banks.formats.fields import RowBuilder, RowItem
from safehold.banks.lines import DecodedLines
from safehold.errors import FormatError

__all__ = ["numbered", "read_plain_rows"]


def numbered(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """``(line number, text)``; a :class:`DecodedLines` item's number is its last line."""
    if isinstance(lines, DecodedLines):
        for text in lines:
            yield lines.line, text
    else:
        yield from enumerate(lines, start=1)


def read_plain_rows(lines: Iterable[str], builder: RowBuilder, note: str = "") -> Iterator[RowItem]:
    """Rows of a plain list as :data:`~safehold.banks.formats.fields.Row` tuples or errors."""
    problem_in = row_problems(lines)
    build = builder.build
    csv_hint = f"a comma in a plain list: is this CSV? use {builder.options.csv_format}"
    for number, raw in numbered(lines):
        problem = problem_in(number, number) if problem_in else None
        if problem is not None:
            yield FormatError(problem, number)
            continue
        text = raw.partition("#")[0].strip()
        if not text:
            continue
        if "," in text:
            yield FormatError(csv_hint, number)
            continue
        if "\x00" in text:
            yield FormatError("a NUL character", number)
            continue
        parts = text.split()
        if len(parts) == 1:
            yield build(number, "", parts[0], "in the first word", note=note)
        elif len(parts) == 2:
            yield build(number, parts[0], parts[1], "in the first word", note=note)
        else:
            yield FormatError(f"expected one hash per line, found {len(parts)} words", number)
