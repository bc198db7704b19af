"""Exchanges and their fetch status (admin scope: settings name sources and accounts).

Read-only: exchanges are configured with ``safehold exchange`` (credentials never travel
through the API). Status is what ``safehold exchange status`` shows.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.concurrency import run_in_threadpool

from safehold.api.deps import AdminKey, StateDep
from safehold.api.schemas.common import AUTH_RESPONSES, error_responses
from safehold.api.schemas.exchanges import ExchangePublic
from safehold.storage.tables import NAME_LENGTH, utcnow

router = APIRouter(tags=["exchanges"], responses=AUTH_RESPONSES)

ExchangeName = Annotated[str, Path(min_length=1, max_length=NAME_LENGTH)]


@router.get("/v1/exchanges", summary="List exchanges with their fetch status")
async def list_exchanges(state: StateDep, _key: AdminKey) -> list[ExchangePublic]:
    """Every exchange by name: kind, bank, schedule, last success, lag, errors and counts."""
    statuses = await run_in_threadpool(state.exchanges.statuses)
    now = utcnow()
    return [ExchangePublic.of(s, now) for s in statuses]


@router.get(
    "/v1/exchanges/{exchange_name}",
    summary="One exchange's fetch status",
    responses=error_responses(404),
)
async def get_exchange(
    exchange_name: ExchangeName, state: StateDep, _key: AdminKey
) -> ExchangePublic:
    """The exchange's status (404 when there is no such exchange)."""
    statuses = await run_in_threadpool(state.exchanges.statuses, exchange_name)
    return ExchangePublic.of(statuses[0], utcnow())
