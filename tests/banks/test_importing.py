"""import_bank_file: a byte stream into a bank with a per-row report (real SQLite and
PostgreSQL through the ``bank_service`` fixture)."""

from __future__ import annotations

import io

import pytest

from safehold.banks.importing import MAX_ROW_ERRORS, RowError, import_bank_file
from safehold.banks.models import Category
from safehold.banks.service import BankService
from safehold.errors import InvalidInputError, NotFoundError

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def test_sniffs_csv_and_reports_rows(bank_service: BankService) -> None:
    bank_service.create_bank("b", category=Category("local", "x"))
    text = (
        "# a comment first\n"
        "signal_type,signal_str,category\n"
        f"pdq,{PDQ},vics:1\n"
        "md5,00000000000000000000000000000000,\n"
        f"pdq,{PDQ.upper()},\n"  # a duplicate of line 3
        "pdq,abc,\n"
    )
    report = import_bank_file(bank_service, "B", io.BytesIO(text.encode()))
    assert (report.added, report.duplicates, report.error_count) == (2, 1, 1)
    assert report.errors == [RowError(6, "a pdq hash is 64 hexadecimal digits (got 3 characters)")]
    assert report.resampled is None
    categories = {e.signal_type: e.category for e in bank_service.iter_entries("b")}
    assert categories == {"pdq": Category("vics", "1"), "md5": Category("local", "x")}


def test_keeps_the_first_bad_rows_and_counts_all(bank_service: BankService) -> None:
    bank_service.create_bank("b")
    body = b"".join(b"not-a-hash\n" for _ in range(MAX_ROW_ERRORS + 5)) + f"{PDQ}\n".encode()
    report = import_bank_file(bank_service, "b", io.BytesIO(body), fmt="plain", signal_type="pdq")
    assert (report.added, report.error_count, len(report.errors)) == (1, 105, 100)
    assert [e.line for e in report.errors[:3]] == [1, 2, 3]
    assert all("not-a-hash" not in e.message for e in report.errors)


def test_refusals_come_before_any_row(bank_service: BankService) -> None:
    with pytest.raises(NotFoundError):
        import_bank_file(bank_service, "missing", io.BytesIO(PDQ.encode()))
    bank_service.create_bank("b")
    with pytest.raises(InvalidInputError, match="unknown bank file format"):
        import_bank_file(bank_service, "b", io.BytesIO(b""), fmt="xml")
    with pytest.raises(InvalidInputError, match="UTF-16"):
        import_bank_file(bank_service, "b", io.BytesIO(PDQ.encode("utf-16")))
    assert bank_service.get_bank("b").entry_count == 0
