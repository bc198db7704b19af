"""API-key management (admin scope): list, create (secret shown once) and revoke keys.

The first admin key comes from the command line (``safehold key create --scope admin``),
since every route here needs one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.concurrency import run_in_threadpool

from safehold.api.deps import AdminKey, StateDep
from safehold.api.schemas.common import AUTH_RESPONSES
from safehold.api.schemas.keys import KeyCreate, KeyCreated, KeyPublic
from safehold.auth.keys import MAX_KEY_ID

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=AUTH_RESPONSES)


@router.get("", summary="List API keys")
async def list_keys(
    state: StateDep, _key: AdminKey, include_revoked: bool = False
) -> list[KeyPublic]:
    """Every key's public record, oldest first."""
    keys = await run_in_threadpool(state.keys.list_keys, include_revoked=include_revoked)
    return [KeyPublic.of(k) for k in keys]


@router.post("", status_code=201, summary="Create an API key (the secret is shown once)")
async def create_key(body: KeyCreate, state: StateDep, _key: AdminKey) -> KeyCreated:
    """Create a key; store the returned ``secret`` now, it cannot be shown again."""
    created = await run_in_threadpool(
        state.keys.create_key, body.name, body.scopes, rate_limit=body.rate_limit
    )
    return KeyCreated(**KeyPublic.of(created.key).model_dump(), secret=created.secret)


@router.delete("/{key_id}", summary="Revoke an API key")
async def revoke_key(
    key_id: Annotated[int, Path(ge=1, le=MAX_KEY_ID)], state: StateDep, _key: AdminKey
) -> KeyPublic:
    """Revoke a key; every worker refuses it within a second. Idempotent."""
    return KeyPublic.of(await run_in_threadpool(state.keys.revoke, key_id))
