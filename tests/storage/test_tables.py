"""Constraints the schema enforces on every backend, and the value digest."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.exc import IntegrityError

from safehold.storage.tables import bank_entries, banks, utcnow, value_digest


def test_value_digest_is_sha256_of_utf8() -> None:
    # FIPS 180-2 test vector for SHA-256("abc").
    assert value_digest("abc").hex() == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert value_digest("é") == hashlib.sha256("é".encode()).digest()


def _bank(engine: Engine) -> int:
    now = utcnow()
    with engine.begin() as c:
        row = c.execute(
            insert(banks).values(
                name="b", description="", source="", enabled=True,
                created_at=now, updated_at=now, thresholds={},
            )
        )  # fmt: skip
        return int(row.inserted_primary_key[0])


def _entry(bank_id: int, overrides: dict[str, object] | None = None) -> dict[str, object]:
    row: dict[str, object] = {
        "bank_id": bank_id,
        "signal_type": "md5",
        "value": "0" * 32,
        "value_digest": value_digest("0" * 32),
        "quality": None,
        "category_scheme": None,
        "category_code": None,
        "source": "",
        "note": "",
        "added_at": utcnow(),
        "enabled": True,
        "change_seq": 1,
    }
    row.update(overrides or {})
    return row


@pytest.mark.parametrize(
    "overrides",
    [
        {"category_scheme": "vics", "category_code": None},
        {"category_scheme": None, "category_code": "1"},
        {"quality": 101},
    ],
    ids=["scheme-without-code", "code-without-scheme", "quality-over-100"],
)
def test_constraints_reject_bad_rows(engine: Engine, overrides: dict[str, object]) -> None:
    bank_id = _bank(engine)
    with pytest.raises(IntegrityError), engine.begin() as c:
        c.execute(insert(bank_entries).values(**_entry(bank_id, overrides)))


def test_same_value_twice_in_a_bank_is_rejected(engine: Engine) -> None:
    bank_id = _bank(engine)
    with engine.begin() as c:
        c.execute(insert(bank_entries).values(**_entry(bank_id)))
    with pytest.raises(IntegrityError), engine.begin() as c:
        c.execute(insert(bank_entries).values(**_entry(bank_id, {"note": "again"})))


def test_entries_have_no_foreign_key_to_their_bank(engine: Engine) -> None:
    # Revision 0007 dropped it (a per-row trigger on PostgreSQL bulk loads); writers check the
    # bank under the change-log lock instead (tests/banks: "deleted meanwhile").
    from sqlalchemy import inspect

    assert inspect(engine).get_foreign_keys("bank_entries") == []
