"""The federation feed: the changes of the banks this server shares, signed, page by page.

``GET /v1/federation/feed?after=<checkpoint>&limit=N`` answers one page of
:class:`~safehold.exchanges.federation_feed.FederationFeed` signed with the publisher key
(``SAFEHOLD_FEDERATION_KEY`` or ``SAFEHOLD_FEDERATION_KEY_FILE``). Only keys with the ``peer``
scope (or ``admin``) may read it: a peer sees the hashes of shared banks and nothing else.
A server without a publisher key answers 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from safehold.api.deps import StateDep, require
from safehold.api.schemas.common import AUTH_RESPONSES, error_responses
from safehold.api.schemas.federation import FederationPagePublic
from safehold.api.state import ServiceState
from safehold.auth import ApiKey
from safehold.errors import NotFoundError
from safehold.exchanges.federation_feed import DEFAULT_PAGE, MAX_PAGE, FederationFeed
from safehold.exchanges.federation_protocol import FeedPosition, publisher_key, sign_page

router = APIRouter(tags=["federation"], responses=AUTH_RESPONSES)

#: A federation peer: reads the feed of shared banks (or an admin).
PeerKey = Annotated[ApiKey, Depends(require("peer"))]


def _signed_page(state: ServiceState, after: FeedPosition, limit: int) -> dict[str, str]:
    settings = state.settings
    if settings.federation_key is None and settings.federation_key_file is None:
        raise NotFoundError("this server publishes no federation feed")
    key = publisher_key(settings)
    page = FederationFeed(state.engine).page(after, limit)
    return sign_page(page.as_page(settings.federation_publisher), key)


@router.get(
    "/v1/federation/feed",
    summary="A signed page of the changes of the banks shared with peers",
    responses=error_responses(404, 422),
)
async def federation_feed(
    state: StateDep,
    _key: PeerKey,
    after: Annotated[
        str, Query(max_length=41, description="the last page's checkpoint; empty: the start")
    ] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="most changes")] = DEFAULT_PAGE,
) -> FederationPagePublic:
    """Changes after ``after`` (adds, updates, withdrawals), the next checkpoint and whether
    more follow, as canonical JSON text signed with Ed25519 (404: not a publisher)."""
    position = FeedPosition.parse(after)
    envelope = await run_in_threadpool(_signed_page, state, position, limit)
    return FederationPagePublic(**envelope)
