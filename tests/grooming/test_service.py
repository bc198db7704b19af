"""ConversationService: stored streaming state on real SQLite and PostgreSQL, retention.

The reference is the in-process engine (``ConversationMonitor``, ``score_conversation``): the
stored path must give the same risks and warnings at the same messages.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from safehold.errors import ConflictError, InvalidInputError, NotFoundError
from safehold.grooming import ConversationMonitor, score_conversation
from safehold.grooming.config import GroomingConfig
from safehold.grooming.monitor_state import dump_monitor, load_monitor
from safehold.grooming.risk import RiskThresholds
from safehold.grooming.service import ConversationService
from safehold.grooming.synthetic import SyntheticOptions, generate
from safehold.settings import Settings
from safehold.storage.tables import conversation_messages, conversations


@pytest.fixture
def service(engine: Engine, db_settings: Settings) -> ConversationService:
    return ConversationService(engine, GroomingConfig.from_settings(db_settings), retention_days=30)


def test_stored_monitor_matches_the_in_process_one(service: ConversationService) -> None:
    """Synthetic dev conversations, one message per append, through the database."""
    for conv in generate("dev", SyntheticOptions(3, 3, seed=11)):
        reference = ConversationMonitor(conv.id, participants=conv.participants)
        for message in conv.messages:
            expected, warning = reference.append([message])
            found = service.append(conv.id, [message], list(conv.participants.values()))
            assert found.risk == expected
            assert (found.warning or {}).get("message_id") == (
                warning.message_id if warning else None
            )
        assert service.get(conv.id).risk == score_conversation(conv)
        assert [w["message_id"] for w in service.get(conv.id).warnings] == [
            w.message_id for w in reference.warnings
        ]


def test_state_round_trip_keeps_everything(pattern_detector: object) -> None:
    conv = generate("train", SyntheticOptions(1, 0, seed=5))[0]
    monitor = ConversationMonitor(conv.id, participants=conv.participants)
    half = len(conv.messages) // 2
    monitor.append(conv.messages[:half])
    state = dump_monitor(monitor)
    again = load_monitor(
        conv.id, state, detector=monitor.detector, thresholds=RiskThresholds(), skepticism=2
    )
    assert again.risk == monitor.risk
    assert dump_monitor(again) == state
    assert again.append(conv.messages[half:]) == monitor.append(conv.messages[half:])
    assert not any(m.text in str(state) for m in conv.messages if len(m.text) > 12)


def test_duplicates_and_bad_batches(service: ConversationService) -> None:
    conv = generate("dev", SyntheticOptions(1, 0, seed=3))[0]
    service.append(conv.id, conv.messages[:3])
    with pytest.raises(ConflictError, match="m2"):
        service.append(conv.id, conv.messages[1:4])
    assert service.get(conv.id).risk.messages_read == 3
    with pytest.raises(InvalidInputError):
        service.append(conv.id, [conv.messages[4], conv.messages[4]])
    with pytest.raises(InvalidInputError):
        service.append(conv.id, [])
    with pytest.raises(NotFoundError):
        service.get("unknown")


def test_retention_removes_idle_conversations(service: ConversationService, engine: Engine) -> None:
    conv = generate("dev", SyntheticOptions(1, 0, seed=3))[0]
    service.append("old", conv.messages[:2])
    service.append("new", conv.messages[:2])
    with engine.begin() as c:
        c.execute(
            conversations.update()
            .where(conversations.c.external_id == "old")
            .values(updated_at=datetime.now(UTC) - timedelta(days=31))
        )
    assert service.purge() == 1
    with pytest.raises(NotFoundError):
        service.get("old")
    assert service.get("new").risk.messages_read == 2
    with engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(conversation_messages)) == 2
    service.delete("new")
    with engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(conversation_messages)) == 0
