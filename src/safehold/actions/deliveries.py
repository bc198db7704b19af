"""The delivery side of ``ActionService``: list outbox rows and re-queue dead letters.

A mixin (like ``banks.bank_methods``) so the service module stays readable; the deliverer
itself is :mod:`safehold.actions.webhooks`.
"""

from __future__ import annotations

from sqlalchemy import Engine, update

from safehold.actions.models import DELIVERY_STATUSES, Delivery
from safehold.actions.rows import deliveries_query, to_delivery
from safehold.banks.rows import db_errors
from safehold.errors import ConflictError, InvalidInputError, NotFoundError
from safehold.storage.tables import outbox, utcnow

MAX_PAGE = 1000  # rows per page of list_events / list_deliveries
MAX_DB_ID = 2**63 - 1  # BIGINT ids: events, deliveries


def check_page(after_id: int, limit: int) -> None:
    """Check paging arguments: ``0 <= after_id <= 2**63-1`` and ``1 <= limit <= 1000``.

    Raises:
        InvalidInputError: either is out of range.
    """
    if not 0 <= after_id <= MAX_DB_ID:
        raise InvalidInputError(f"after_id must be between 0 and {MAX_DB_ID}")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE}")


class DeliveryMethods:
    """Outbox reads and dead-letter retries (needs ``self.engine``)."""

    engine: Engine

    # -- deliveries ------------------------------------------------------------------------

    def list_deliveries(
        self, status: str | None = None, *, after_id: int = 0, limit: int = 100
    ) -> list[Delivery]:
        """Return outbox rows with ``id > after_id`` (of one ``status`` when given), oldest
        first; ``status="dead"`` lists the dead letters.

        Raises:
            InvalidInputError: unknown status, or ``after_id``/``limit`` out of range.
        """
        check_page(after_id, limit)
        if status is not None and status not in DELIVERY_STATUSES:
            raise InvalidInputError(f"status must be one of {', '.join(DELIVERY_STATUSES)}")
        query = deliveries_query().where(outbox.c.id > after_id)
        if status is not None:
            query = query.where(outbox.c.status == status)
        with db_errors(), self.engine.connect() as c:
            rows = c.execute(query.order_by(outbox.c.id).limit(limit)).all()
        return [to_delivery(row) for row in rows]

    def get_delivery(self, delivery_id: int) -> Delivery:
        """Return one outbox row.

        Raises:
            NotFoundError: no such delivery.
        """
        with db_errors(), self.engine.connect() as c:
            row = (
                c.execute(deliveries_query().where(outbox.c.id == delivery_id)).first()
                if 0 < delivery_id <= MAX_DB_ID
                else None
            )
        if row is None:
            raise NotFoundError(f"no delivery with id {delivery_id}")
        return to_delivery(row)

    def retry_dead(self, delivery_id: int) -> Delivery:
        """Put a dead delivery back in the queue: ``pending``, attempts 0, due now.

        Raises:
            NotFoundError: no such delivery.
            ConflictError: the delivery is not dead.
        """
        self.get_delivery(delivery_id)
        with db_errors(), self.engine.begin() as c:
            changed = c.execute(
                update(outbox)
                .where(outbox.c.id == delivery_id, outbox.c.status == "dead")
                .values(
                    status="pending",
                    attempts=0,
                    next_attempt_at=utcnow(),
                    claimed_until=None,
                    claimed_by=None,
                )
            ).rowcount
        if changed != 1:
            raise ConflictError(f"delivery {delivery_id} is not dead; only dead ones are retried")
        return self.get_delivery(delivery_id)
