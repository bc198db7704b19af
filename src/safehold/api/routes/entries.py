"""Bank entries: page through a bank's entries, add one, show, change or delete entries.

Every route needs the ``curator`` (or ``admin``) scope: entries carry their hash values here
(curators curate hashes), which ``matcher`` and ``client`` keys never see. Each change is
recorded in the bank change log, from which every worker's index follows it. Bulk loads go
through ``POST /v1/banks/{bank_name}/import`` (``routes/banks.py``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from safehold.api.deps import CuratorKey, StateDep
from safehold.api.schemas.banks import (
    MAX_ID,
    MAX_PAGE,
    EntriesDeleted,
    EntryCreate,
    EntryIds,
    EntryPage,
    EntryPublic,
    EntryUpdate,
)
from safehold.api.schemas.common import AUTH_RESPONSES
from safehold.banks.models import Category, NewEntry
from safehold.banks.service import BankService
from safehold.storage.tables import NAME_LENGTH

router = APIRouter(tags=["entries"], responses=AUTH_RESPONSES)

BankName = Annotated[str, Path(min_length=1, max_length=NAME_LENGTH)]
EntryId = Annotated[int, Path(ge=1, le=MAX_ID)]


_category = Category.parse_optional


def _page(
    banks: BankService, name: str, signal_type: str | None, after_id: int, limit: int
) -> EntryPage:
    entries = banks.list_entries(name, signal_type=signal_type, after_id=after_id, limit=limit)
    full = len(entries) == limit
    return EntryPage(
        entries=[EntryPublic.of(e) for e in entries],
        next_after_id=entries[-1].id if full else None,
    )


def _add(banks: BankService, name: str, body: EntryCreate) -> EntryPublic:
    entry = NewEntry(
        signal_type=body.signal_type,
        value=body.value,
        quality=body.quality,
        category=_category(body.category),
        source=body.source,
        note=body.note,
    )
    return EntryPublic.of(banks.add_entry(name, entry))


def _update(banks: BankService, entry_id: int, body: EntryUpdate) -> EntryPublic:
    clear = "category" in body.model_fields_set and body.category is None
    entry = banks.update_entry(
        entry_id,
        category=_category(body.category),
        clear_category=clear,
        note=body.note,
        enabled=body.enabled,
    )
    return EntryPublic.of(entry)


@router.get("/v1/banks/{bank_name}/entries", summary="Page through a bank's entries")
async def list_entries(
    bank_name: BankName,
    state: StateDep,
    _key: CuratorKey,
    signal_type: Annotated[str | None, Query(max_length=32)] = None,
    after_id: Annotated[
        int, Query(ge=0, le=MAX_ID, description="next_after_id of the previous page")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> EntryPage:
    """Entries (enabled and disabled) with their hash values, in id order."""
    return await run_in_threadpool(_page, state.banks, bank_name, signal_type, after_id, limit)


@router.post("/v1/banks/{bank_name}/entries", status_code=201, summary="Add one entry")
async def add_entry(
    bank_name: BankName, body: EntryCreate, state: StateDep, _key: CuratorKey
) -> EntryPublic:
    """The stored entry with its id (the bank's category when none is given); 409 when the
    bank already holds the value."""
    return await run_in_threadpool(_add, state.banks, bank_name, body)


@router.post("/v1/banks/{bank_name}/entries/delete", summary="Delete entries of a bank")
async def delete_entries(
    bank_name: BankName, body: EntryIds, state: StateDep, _key: CuratorKey
) -> EntriesDeleted:
    """Deletes the listed entries of this bank in one change (other ids are skipped)."""
    deleted = await run_in_threadpool(state.banks.delete_entries, body.ids, bank_name=bank_name)
    return EntriesDeleted(deleted=deleted)


@router.get("/v1/entries/{entry_id}", summary="Show an entry")
async def get_entry(entry_id: EntryId, state: StateDep, _key: CuratorKey) -> EntryPublic:
    """The entry with its hash value."""
    return EntryPublic.of(await run_in_threadpool(state.banks.get_entry, entry_id))


@router.patch("/v1/entries/{entry_id}", summary="Change an entry")
async def update_entry(
    entry_id: EntryId, body: EntryUpdate, state: StateDep, _key: CuratorKey
) -> EntryPublic:
    """Change its category, note or enabled flag (absent fields stay)."""
    return await run_in_threadpool(_update, state.banks, entry_id, body)


@router.delete("/v1/entries/{entry_id}", status_code=204, summary="Delete an entry")
async def delete_entry(entry_id: EntryId, state: StateDep, _key: CuratorKey) -> Response:
    """Deletes it for good (PATCH ``enabled: false`` keeps it); indexes drop it."""
    await run_in_threadpool(state.banks.delete_entry, entry_id)
    return Response(status_code=204)
