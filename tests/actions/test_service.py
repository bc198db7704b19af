"""ActionService on real SQLite and PostgreSQL: match events with their outbox rows in one
transaction, actions and their secrets, dead letters."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, func, select

from safehold.actions import ActionService
from safehold.banks.service import BankService
from safehold.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    SafeholdError,
    UnsafeUrlError,
)
from safehold.scanning.records import MatchInfo
from safehold.storage.tables import match_events, outbox

BANK = "Known-Hashes"
HOOK = "http://127.0.0.1:9/hook"


def _match(entry_id: int, bank: str = BANK, distance: int = 0) -> MatchInfo:
    return MatchInfo(bank, entry_id, "sha256", distance, "vics:1", "test")


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_record_matches_writes_events_and_outbox_rows(
    actions: ActionService, engine: Engine, entry_id: int
) -> None:
    first, _ = actions.create_action(BANK, HOOK)
    second, _ = actions.create_action(BANK, "http://127.0.0.1:10/other")
    ids = actions.record_matches(
        [_match(entry_id, bank="known-hashes", distance=3)],
        content_ref="upload-17",
        origin="api",
        api_key_id=5,
    )
    assert len(ids) == 1
    (event,) = actions.list_events()
    assert (event.id, event.bank_name, event.entry_id, event.distance) == (
        ids[0],
        BANK,
        entry_id,
        3,
    )
    assert (event.category, event.content_ref, event.origin, event.api_key_id) == (
        "vics:1",
        "upload-17",
        "api",
        5,
    )
    deliveries = actions.list_deliveries()
    assert sorted(d.action_id for d in deliveries) == sorted([first.id, second.id])
    assert {d.status for d in deliveries} == {"pending"}
    with engine.connect() as c:
        payloads = [json.loads(p) for p in c.execute(select(outbox.c.payload)).scalars()]
    assert payloads[0] == {
        "type": "match",
        "event_id": ids[0],
        "created_at": event.created_at.isoformat(),
        "action_id": payloads[0]["action_id"],
        "bank": BANK,
        "entry_id": entry_id,
        "signal_type": "sha256",
        "distance": 3,
        "category": "vics:1",
        "content_ref": "upload-17",
        "origin": "api",
    }


def test_disabled_actions_and_other_banks_queue_nothing(
    actions: ActionService, bank_service: BankService, entry_id: int
) -> None:
    action, _ = actions.create_action(BANK, HOOK)
    actions.set_action_enabled(action.id, False)
    bank_service.create_bank("other")
    actions.create_action("other", HOOK)
    ids = actions.record_matches([_match(entry_id)], content_ref="", origin="scan", api_key_id=None)
    assert len(ids) == 1
    assert actions.list_deliveries() == []


def test_matches_of_a_deleted_bank_are_skipped(
    actions: ActionService, engine: Engine, entry_id: int
) -> None:
    ids = actions.record_matches(
        [_match(entry_id, bank="gone"), _match(entry_id)],
        content_ref="",
        origin="api",
        api_key_id=None,
    )
    assert len(ids) == 1
    assert _count(engine, match_events) == 1


def test_events_and_outbox_rows_commit_together(
    actions: ActionService, engine: Engine, entry_id: int
) -> None:
    actions.create_action(BANK, HOOK)
    # The second match cannot be stored (entry id beyond 64 bits): the first match's event
    # and outbox row, already inserted in the same transaction, must be rolled back.
    with pytest.raises((SafeholdError, OverflowError)):
        actions.record_matches(
            [_match(entry_id), _match(2**64)], content_ref="", origin="api", api_key_id=None
        )
    assert _count(engine, match_events) == 0
    assert _count(engine, outbox) == 0


def test_record_matches_checks_its_arguments(actions: ActionService, entry_id: int) -> None:
    with pytest.raises(InvalidInputError, match="content_ref"):
        actions.record_matches(
            [_match(entry_id)], content_ref="x" * 201, origin="api", api_key_id=None
        )
    with pytest.raises(InvalidInputError, match="origin"):
        actions.record_matches([_match(entry_id)], content_ref="", origin="", api_key_id=None)
    assert actions.record_matches([], content_ref="", origin="api", api_key_id=None) == []


def test_events_are_paged_by_id_and_filtered_by_bank(
    actions: ActionService, bank_service: BankService, entry_id: int
) -> None:
    bank_service.create_bank("other")
    ids = []
    for n in range(5):
        ids += actions.record_matches(
            [_match(entry_id), _match(entry_id, bank="other")],
            content_ref=f"c{n}",
            origin="api",
            api_key_id=None,
        )
    page1 = actions.list_events(limit=4)
    page2 = actions.list_events(after_id=page1[-1].id, limit=4)
    page3 = actions.list_events(after_id=page2[-1].id, limit=4)
    assert [e.id for e in page1 + page2 + page3] == sorted(ids)
    assert len(page3) == 2
    assert {e.bank_name for e in actions.list_events(bank_name="OTHER")} == {"other"}
    assert len(actions.list_events(bank_name="other")) == 5
    with pytest.raises(NotFoundError):
        actions.list_events(bank_name="nope")
    with pytest.raises(InvalidInputError):
        actions.list_events(limit=0)
    with pytest.raises(InvalidInputError):
        actions.list_events(after_id=-1)


def test_events_outlive_their_bank(
    actions: ActionService, bank_service: BankService, entry_id: int
) -> None:
    actions.record_matches([_match(entry_id)], content_ref="", origin="api", api_key_id=None)
    bank_service.delete_bank(BANK)
    (event,) = actions.list_events()
    assert (event.bank_name, event.category, event.entry_id) == (None, None, entry_id)


def test_create_action_returns_its_secret_once(actions: ActionService, entry_id: int) -> None:
    action, secret = actions.create_action(BANK.lower(), HOOK, max_attempts=3)
    assert len(secret) == 43  # 32 random bytes, URL-safe base64 without padding
    assert (action.bank_name, action.url, action.max_attempts, action.enabled) == (
        BANK,
        HOOK,
        3,
        True,
    )
    _, other = actions.create_action(BANK, HOOK)
    assert other != secret
    listed = actions.list_actions(BANK)
    assert [a.id for a in listed] == [action.id, action.id + 1]
    assert secret not in repr(listed)
    assert actions.list_actions(BANK)[1].max_attempts == actions.settings.webhook_max_attempts


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://10.0.0.1/hook", UnsafeUrlError),
        ("http://169.254.169.254/", UnsafeUrlError),
        ("file:///etc/passwd", UnsafeUrlError),
        ("http://user:pw@example.org/", UnsafeUrlError),
        ("not a url", UnsafeUrlError),
    ],
)
def test_create_action_refuses_unsafe_urls(
    actions: ActionService, entry_id: int, url: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        actions.create_action(BANK, url)
    assert actions.list_actions(BANK) == []


def test_create_action_errors(actions: ActionService, entry_id: int) -> None:
    with pytest.raises(NotFoundError, match="no bank named 'nope'"):
        actions.create_action("nope", HOOK)
    with pytest.raises(InvalidInputError, match="max_attempts"):
        actions.create_action(BANK, HOOK, max_attempts=0)
    with pytest.raises(InvalidInputError, match="max_attempts"):
        actions.create_action(BANK, HOOK, max_attempts=101)


def test_enable_disable_and_delete(
    actions: ActionService, bank_service: BankService, entry_id: int
) -> None:
    action, _ = actions.create_action(BANK, HOOK)
    assert actions.set_action_enabled(action.id, False).enabled is False
    assert actions.set_action_enabled(action.id, True, bank_name="known-hashes").enabled is True
    bank_service.create_bank("other")
    with pytest.raises(NotFoundError, match="in bank 'other'"):
        actions.delete_action(action.id, bank_name="other")
    actions.record_matches([_match(entry_id)], content_ref="", origin="api", api_key_id=None)
    actions.delete_action(action.id, bank_name=BANK)
    assert actions.list_actions(BANK) == []
    assert actions.list_deliveries() == []  # its queued delivery went with it
    with pytest.raises(NotFoundError):
        actions.delete_action(action.id)
    with pytest.raises(NotFoundError):
        actions.get_action(2**70)


def test_deliveries_by_status_and_retry_dead(
    actions: ActionService, engine: Engine, entry_id: int
) -> None:
    actions.create_action(BANK, HOOK)
    actions.record_matches([_match(entry_id)], content_ref="", origin="api", api_key_id=None)
    (delivery,) = actions.list_deliveries("pending")
    assert actions.list_deliveries("dead") == []
    with pytest.raises(ConflictError, match="not dead"):
        actions.retry_dead(delivery.id)
    with engine.begin() as c:
        c.execute(outbox.update().values(status="dead", attempts=8, last_error="HTTP 500"))
    (dead,) = actions.list_deliveries("dead")
    assert (dead.id, dead.attempts, dead.last_error) == (delivery.id, 8, "HTTP 500")
    again = actions.retry_dead(delivery.id)
    assert (again.status, again.attempts) == ("pending", 0)
    with pytest.raises(NotFoundError):
        actions.retry_dead(delivery.id + 100)
    with pytest.raises(InvalidInputError, match="status"):
        actions.list_deliveries("lost")
