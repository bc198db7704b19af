"""Conversations the HTTP service monitors: scored, appended to, read and forgotten.

Several service workers may receive messages of the same conversation, so its monitor state
lives in the database (``conversations``: the JSON of :mod:`.monitor_state`;
``conversation_messages``: the ids of the messages read, to refuse duplicates). **Message
texts are never stored**; the state keeps indicators, message ids and the matched words that
explain them. :meth:`ConversationService.delete` removes all of it, and a conversation not
appended to for ``SAFEHOLD_GROOMING_RETENTION_DAYS`` is removed by the next append, score or
read in any worker (at most one sweep a minute per worker).

Appending detects indicators first (the detector's time holds no lock), then, in one
transaction, locks the conversation's row by bumping its ``version`` (a row lock on
PostgreSQL, the write lock on SQLite), checks the message ids, updates the monitor and writes
it back. Two workers appending to one conversation therefore apply one batch after the other;
two creating it at once retry once after the loser's insert fails.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from safehold.errors import ConflictError, InvalidInputError, NotFoundError, StorageError
from safehold.grooming.config import GroomingConfig
from safehold.grooming.model import Conversation, Message, Participant, check_id
from safehold.grooming.monitor_state import dump_monitor, load_monitor
from safehold.grooming.risk import ConversationRisk
from safehold.grooming.scoring import ConversationMonitor
from safehold.storage.tables import conversation_messages, conversations

#: Most messages one append may carry (each is one parameter of a duplicate check).
MAX_APPEND = 1000
#: Seconds between two retention sweeps of one worker.
PURGE_INTERVAL = 60.0
_CREATE_ATTEMPTS = 3


@dataclass(frozen=True)
class Assessment:
    """A conversation's risk and its early warnings.

    Attributes:
        risk: the current risk.
        warnings: every warning raised so far, oldest first, as
            ``{"message_id", "message_index", "action", "score"}``.
        warning: the warning raised by the messages of this call (append only), else None.
    """

    risk: ConversationRisk
    warnings: list[dict[str, Any]] = field(default_factory=list)
    warning: dict[str, Any] | None = None


class ConversationService:
    """Score whole conversations and keep streaming ones in the database.

    Args:
        engine: a migrated Safehold database.
        config: detector, thresholds, skepticism and optional classifier (build once).
        retention_days: idle days after which a stored conversation is removed (None: never).
    """

    def __init__(
        self, engine: Engine, config: GroomingConfig, *, retention_days: float | None = None
    ) -> None:
        self.engine = engine
        self.config = config
        self.retention = timedelta(days=retention_days) if retention_days else None
        self._last_purge = 0.0
        self._purge_lock = threading.Lock()

    def _monitor(self, conversation_id: str) -> ConversationMonitor:
        return ConversationMonitor(
            conversation_id,
            detector=self.config.detector,
            thresholds=self.config.thresholds,
            skepticism=self.config.skepticism,
            classifier=self.config.classifier,
        )

    def score(self, conv: Conversation) -> Assessment:
        """Read a whole conversation message by message (nothing is stored).

        Returns the final risk (the same as ``score_conversation``) and the warnings a live
        monitor would have raised along the way.
        """
        monitor = self._monitor(conv.id)
        monitor.update_participants(conv.participants.values())
        hits = self.config.detector.detect([m.text for m in conv.messages])
        risk, _ = monitor.append_detected(conv.messages, hits)
        return Assessment(risk, list(monitor.warning_log))

    def append(
        self,
        conversation_id: str,
        messages: Sequence[Message],
        participants: Sequence[Participant] = (),
    ) -> Assessment:
        """Append messages to a stored conversation (created on its first append).

        ``participants`` add to or replace what is known about them (declared age, role...).

        Raises:
            InvalidInputError: no messages, more than :data:`MAX_APPEND`, a message id twice
                in the batch, a bad id or a text too long.
            ConflictError: a message id was already appended to this conversation.
            StorageError: the database failed, or the stored state is unreadable.
        """
        Conversation(conversation_id, tuple(messages))  # validates ids and duplicates
        if not messages:
            raise InvalidInputError("append at least one message")
        if len(messages) > MAX_APPEND:
            raise InvalidInputError(f"append at most {MAX_APPEND} messages per call")
        hits = self.config.detector.detect([m.text for m in messages])
        self._maybe_purge()
        for attempt in range(_CREATE_ATTEMPTS):
            try:
                with self.engine.begin() as connection:
                    return self._append_locked(
                        connection, conversation_id, messages, participants, hits
                    )
            except IntegrityError:  # another worker created it first
                if attempt == _CREATE_ATTEMPTS - 1:
                    raise StorageError(
                        f"conversation {conversation_id!r}: could not be created"
                    ) from None
        raise AssertionError("unreachable")

    def _append_locked(
        self,
        connection: Connection,
        conversation_id: str,
        messages: Sequence[Message],
        participants: Sequence[Participant],
        hits: list[list[Any]],
    ) -> Assessment:
        now = datetime.now(UTC)
        bumped = connection.execute(
            update(conversations)
            .where(conversations.c.external_id == conversation_id)
            .values(version=conversations.c.version + 1, updated_at=now)
        )
        if bumped.rowcount == 0:
            monitor = self._monitor(conversation_id)
            created = connection.execute(
                insert(conversations).values(
                    external_id=conversation_id,
                    state="{}",
                    version=1,
                    messages_read=0,
                    score=0.0,
                    action="none",
                    created_at=now,
                    updated_at=now,
                )
            ).inserted_primary_key
            assert created is not None
            row_id = created[0]
        else:
            row_id, state = connection.execute(
                select(conversations.c.id, conversations.c.state).where(
                    conversations.c.external_id == conversation_id
                )
            ).one()
            monitor = self._load(conversation_id, state)
            ids = [m.id for m in messages]
            seen = connection.scalars(
                select(conversation_messages.c.message_id).where(
                    conversation_messages.c.conversation_id == row_id,
                    conversation_messages.c.message_id.in_(ids),
                )
            ).all()
            if seen:
                shown = ", ".join(repr(i) for i in sorted(seen)[:5])
                raise ConflictError(
                    f"conversation {conversation_id!r}: messages already appended: {shown}"
                )
        connection.execute(
            insert(conversation_messages),
            [{"conversation_id": row_id, "message_id": m.id} for m in messages],
        )
        monitor.update_participants(participants)
        before = len(monitor.warning_log)
        risk, _ = monitor.append_detected(messages, hits)
        connection.execute(
            update(conversations)
            .where(conversations.c.id == row_id)
            .values(
                state=json.dumps(dump_monitor(monitor), separators=(",", ":")),
                messages_read=risk.messages_read,
                score=risk.score,
                action=risk.action,
            )
        )
        log = list(monitor.warning_log)
        return Assessment(risk, log, log[-1] if len(log) > before else None)

    def get(self, conversation_id: str) -> Assessment:
        """The stored conversation's current risk and warnings.

        Raises:
            NotFoundError: no such conversation (never appended to, deleted or expired).
            InvalidInputError: a malformed conversation id.
        """
        check_id("conversation id", conversation_id)
        self._maybe_purge()
        with self.engine.connect() as connection:
            state = connection.scalar(
                select(conversations.c.state).where(conversations.c.external_id == conversation_id)
            )
        if state is None:
            raise NotFoundError(f"conversation {conversation_id!r} not found")
        monitor = self._load(conversation_id, state)
        return Assessment(monitor.risk, list(monitor.warning_log))

    def delete(self, conversation_id: str) -> None:
        """Forget a conversation: its state and its message ids.

        Raises:
            NotFoundError: no such conversation.
            InvalidInputError: a malformed conversation id.
        """
        check_id("conversation id", conversation_id)
        with self.engine.begin() as connection:
            row_id = connection.scalar(
                select(conversations.c.id).where(conversations.c.external_id == conversation_id)
            )
            if row_id is None:
                raise NotFoundError(f"conversation {conversation_id!r} not found")
            connection.execute(
                delete(conversation_messages).where(
                    conversation_messages.c.conversation_id == row_id
                )
            )
            connection.execute(delete(conversations).where(conversations.c.id == row_id))

    def purge(self, now: datetime | None = None) -> int:
        """Remove conversations idle for longer than the retention; returns how many."""
        if self.retention is None:
            return 0
        cutoff = (now or datetime.now(UTC)) - self.retention
        stale = select(conversations.c.id).where(conversations.c.updated_at < cutoff)
        with self.engine.begin() as connection:
            connection.execute(
                delete(conversation_messages).where(
                    conversation_messages.c.conversation_id.in_(stale)
                )
            )
            result = connection.execute(
                delete(conversations).where(conversations.c.updated_at < cutoff)
            )
        return int(result.rowcount)

    def _maybe_purge(self) -> None:
        if self.retention is None:
            return
        with self._purge_lock:
            if time.monotonic() - self._last_purge < PURGE_INTERVAL:
                return
            self._last_purge = time.monotonic()
        self.purge()

    def _load(self, conversation_id: str, state: str) -> ConversationMonitor:
        try:
            data = json.loads(state)
        except ValueError:
            raise StorageError(f"conversation {conversation_id!r}: unreadable state") from None
        if not data:  # created by an append whose transaction is still open elsewhere
            return self._monitor(conversation_id)
        return load_monitor(
            conversation_id,
            data,
            detector=self.config.detector,
            thresholds=self.config.thresholds,
            skepticism=self.config.skepticism,
            classifier=self.config.classifier,
        )
