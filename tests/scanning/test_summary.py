"""Summary totals and the exit status they imply (documented in docs/scanning.md)."""

from __future__ import annotations

import pytest
from rich.console import Console

from safehold.scanning.records import FileError, MatchInfo, ScanRecord
from safehold.scanning.summary import ScanSummary, summary_table

MATCH = MatchInfo("b", 1, "md5", 0, None, "")


def _record(*, match: bool, error: str | None, cached: bool = False) -> ScanRecord:
    return ScanRecord(
        path="/x",
        content_type="photo",
        size=5,
        signals={},
        matches=[MATCH, MATCH] if match else [],
        error=FileError(error, "m") if error else None,
        cached=cached,
    )


@pytest.mark.parametrize(
    ("records", "status"),
    [
        ([], 0),
        ([(False, None)], 0),
        ([(True, None), (False, None)], 1),
        ([(False, "corrupt")], 4),
        ([(True, None), (False, "timeout")], 5),
        ([(True, "corrupt")], 5),
    ],
)
def test_exit_status(records: list[tuple[bool, str | None]], status: int) -> None:
    summary = ScanSummary(bank_entries=1)
    for match, error in records:
        summary.add(_record(match=match, error=error))
    assert summary.exit_status() == status


@pytest.mark.parametrize(
    ("records", "status", "hash_only_status"),
    [
        ([], 8, 0),
        ([(False, None)], 8, 0),
        ([(False, "corrupt")], 12, 4),
    ],
)
def test_nothing_to_match_against_is_not_a_clean_result(
    records: list[tuple[bool, str | None]], status: int, hash_only_status: int
) -> None:
    summary = ScanSummary()  # bank_entries == 0: no bank entry was loaded
    for match, error in records:
        summary.add(_record(match=match, error=error))
    assert summary.exit_status() == status
    assert summary.exit_status(hash_only=True) == hash_only_status


def test_counts() -> None:
    summary = ScanSummary()
    summary.add(_record(match=True, error=None, cached=True))
    summary.add(_record(match=False, error="corrupt"))
    summary.add(_record(match=False, error="corrupt"))
    summary.elapsed_seconds = 1.5
    assert summary.to_dict() | {"elapsed_seconds": 0} == {
        "files": 3,
        "hashed": 0,
        "cached": 1,
        "matched": 1,
        "matches": 2,
        "errors": {"corrupt": 2},
        "bytes": 15,
        "duplicate_dirs": 0,
        "duplicate_files": 0,
        "own_files": 0,
        "bank_entries": 0,
        "worker_restarts": 0,
        "elapsed_seconds": 0,
        "files_per_second": 2.0,
    }


def test_table_lists_errors_by_type() -> None:
    summary = ScanSummary()
    summary.add(_record(match=False, error="timeout"))
    console = Console(record=True, width=80)
    console.print(summary_table(summary))
    text = console.export_text()
    assert "errors: timeout" in text
    assert "files/s" in text
