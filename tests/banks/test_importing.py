"""import_bank_file: a byte stream into a bank with a per-row report (real SQLite and
PostgreSQL through the ``bank_service`` fixture)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator

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


def test_import_items_takes_entries_with_provenance_in_small_batches(
    bank_service: BankService,
) -> None:
    # What an exchange does after a fetch: NewEntry objects (validated here), bad rows as
    # FormatError items, its own name as the source of entries without one.
    from safehold.banks.importing import ImportProgress, import_items
    from safehold.banks.models import NewEntry
    from safehold.errors import FormatError

    bank_service.create_bank("x")
    md5s = [f"{i:032x}" for i in range(1, 8)]
    items = [
        NewEntry("md5", md5s[0].upper(), category=Category("ncmec-industry", "A1")),
        FormatError("no signal value", 2),
        NewEntry("md5", md5s[1], source="ncmec"),
        NewEntry("md5", "abc"),  # invalid: reported, not stored
        *[NewEntry("md5", v) for v in md5s[2:]],
        NewEntry("md5", md5s[0]),  # a duplicate across batches
    ]
    seen: list[ImportProgress] = []
    report = import_items(bank_service, "x", items, source="exchange-a", progress=seen.append,
                          batch_rows=3)  # fmt: skip
    assert (report.added, report.duplicates, report.error_count) == (7, 1, 2)
    assert [e.line for e in report.errors] == [2, None]
    assert "abc" not in report.errors[1].message
    assert [(p.rows, p.added, p.bytes_read) for p in seen] == [(3, 3, None), (6, 6, None),
                                                              (8, 7, None)]  # fmt: skip
    stored = [(e.value, e.source) for e in bank_service.iter_entries("x")]
    sources = {v: "ncmec" if v == md5s[1] else "exchange-a" for v in md5s}
    # Three good rows per transaction, each transaction's rows in the unique key's order (the
    # SHA-256 of the value: ids follow it), the transactions in input order.
    by_key = [sorted(md5s[i : i + 3], key=lambda v: hashlib.sha256(v.encode()).digest())
              for i in (0, 3, 6)]  # fmt: skip
    assert stored == [(v, sources[v]) for chunk in by_key for v in chunk]
    ids = [e.id for e in bank_service.iter_entries("x")]
    assert ids == sorted(ids)  # ids follow the input


def test_a_reader_failure_reaches_the_caller_after_the_batches_before(
    bank_service: BankService,
) -> None:
    from safehold.banks.importing import import_items
    from safehold.banks.models import NewEntry
    from safehold.errors import StorageError

    bank_service.create_bank("x")

    def items() -> Iterator[NewEntry]:
        yield NewEntry("md5", "1" * 32)
        yield NewEntry("md5", "2" * 32)
        raise StorageError("the exchange connection dropped")

    with pytest.raises(StorageError, match="connection dropped"):
        import_items(bank_service, "x", items(), batch_rows=1)
    assert [e.value for e in bank_service.iter_entries("x")] == ["1" * 32, "2" * 32]


def test_a_bad_category_scheme_is_refused_before_any_row(bank_service: BankService) -> None:
    bank_service.create_bank("b")
    body = io.BytesIO(b'{"value": [{"MD5": "d35c785545392755e7e4164457657269"}]}')
    with pytest.raises(InvalidInputError, match="cannot contain ':'"):
        import_bank_file(bank_service, "b", body, category_scheme="vics:us")
    with pytest.raises(InvalidInputError, match="category scheme is 65 characters long"):
        import_bank_file(bank_service, "b", body, category_scheme="x" * 65)
    assert bank_service.get_bank("b").entry_count == 0
