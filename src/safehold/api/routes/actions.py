"""Actions on match (webhooks per bank), the match-event log and webhook deliveries.

All routes need the ``curator`` (or ``admin``) scope: webhook receivers are configured by a
bank's curators and see bank details; untrusted ``client`` keys never reach these routes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from safehold.actions.deliveries import MAX_DB_ID, MAX_PAGE
from safehold.actions.service import MAX_ACTION_ID
from safehold.api.deps import CuratorKey, StateDep
from safehold.api.schemas.actions import (
    ActionCreate,
    ActionCreated,
    ActionPublic,
    ActionUpdate,
    DeliveryPage,
    DeliveryPublic,
    DeliveryStatus,
    MatchEventPage,
    MatchEventPublic,
)
from safehold.api.schemas.common import AUTH_RESPONSES
from safehold.storage.tables import NAME_LENGTH

router = APIRouter(tags=["actions"], responses=AUTH_RESPONSES)

BankName = Annotated[str, Path(min_length=1, max_length=NAME_LENGTH)]
ActionId = Annotated[int, Path(ge=1, le=MAX_ACTION_ID)]
AfterId = Annotated[int, Query(ge=0, le=MAX_DB_ID, description="last id of the previous page")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]


@router.get("/v1/banks/{bank_name}/actions", summary="List a bank's actions")
async def list_actions(
    bank_name: BankName, state: StateDep, _key: CuratorKey
) -> list[ActionPublic]:
    """The bank's webhooks, oldest first, without their secrets."""
    actions = await run_in_threadpool(state.actions.list_actions, bank_name)
    return [ActionPublic.of(a) for a in actions]


@router.post(
    "/v1/banks/{bank_name}/actions",
    status_code=201,
    summary="Add a webhook to a bank (the signing secret is shown once)",
)
async def create_action(
    bank_name: BankName, body: ActionCreate, state: StateDep, _key: CuratorKey
) -> ActionCreated:
    """Every later match in the bank is POSTed to ``url``, signed with the returned
    ``secret`` (``Safehold-Signature: v1=<HMAC-SHA256 hex>``; see docs/service.md). Store the
    secret now: it cannot be shown again. A URL naming a non-public address is refused (422)."""
    action, secret = await run_in_threadpool(
        state.actions.create_action, bank_name, body.url, max_attempts=body.max_attempts
    )
    return ActionCreated(**ActionPublic.of(action).model_dump(), secret=secret)


@router.patch("/v1/banks/{bank_name}/actions/{action_id}", summary="Enable or disable an action")
async def update_action(
    bank_name: BankName, action_id: ActionId, body: ActionUpdate, state: StateDep, _key: CuratorKey
) -> ActionPublic:
    """A disabled action queues nothing for new matches; its queued deliveries wait."""
    action = await run_in_threadpool(
        state.actions.set_action_enabled, action_id, body.enabled, bank_name=bank_name
    )
    return ActionPublic.of(action)


@router.delete(
    "/v1/banks/{bank_name}/actions/{action_id}", status_code=204, summary="Delete an action"
)
async def delete_action(
    bank_name: BankName, action_id: ActionId, state: StateDep, _key: CuratorKey
) -> Response:
    """Delete the action and its queued deliveries."""
    await run_in_threadpool(state.actions.delete_action, action_id, bank_name=bank_name)
    return Response(status_code=204)


@router.get("/v1/match-events", summary="List match events")
async def list_match_events(
    state: StateDep,
    _key: CuratorKey,
    bank: Annotated[str | None, Query(min_length=1, max_length=NAME_LENGTH)] = None,
    after_id: AfterId = 0,
    limit: Limit = 100,
) -> MatchEventPage:
    """Recorded matches with ``id > after_id``, oldest first (of one bank when given)."""
    events = await run_in_threadpool(
        state.actions.list_events, bank_name=bank, after_id=after_id, limit=limit
    )
    return MatchEventPage(
        items=[MatchEventPublic.of(e) for e in events],
        next_after_id=events[-1].id if len(events) == limit else None,
    )


@router.get("/v1/deliveries", summary="List webhook deliveries (status=dead: dead letters)")
async def list_deliveries(
    state: StateDep,
    _key: CuratorKey,
    status: DeliveryStatus | None = None,
    after_id: AfterId = 0,
    limit: Limit = 100,
) -> DeliveryPage:
    """Outbox rows with ``id > after_id``, oldest first (of one status when given)."""
    rows = await run_in_threadpool(
        state.actions.list_deliveries, status, after_id=after_id, limit=limit
    )
    return DeliveryPage(
        items=[DeliveryPublic.of(d) for d in rows],
        next_after_id=rows[-1].id if len(rows) == limit else None,
    )


@router.post("/v1/deliveries/{delivery_id}/retry", summary="Queue a dead delivery again")
async def retry_delivery(
    delivery_id: Annotated[int, Path(ge=1, le=MAX_DB_ID)], state: StateDep, _key: CuratorKey
) -> DeliveryPublic:
    """Put a dead delivery back in the queue (attempts from zero); 409 unless it is dead."""
    return DeliveryPublic.of(await run_in_threadpool(state.actions.retry_dead, delivery_id))
