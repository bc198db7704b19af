"""HMA 2.x curation routes (``/c/...``, curator scope): banks, bank content and the signal and
content type lists, over Safehold's :class:`~safehold.banks.service.BankService`.

Shapes follow HMA's ``OpenMediaMatch/blueprints/curation.py`` (facebook/ThreatExchange). An HMA
*bank content* is a Safehold *bank entry* (one signal): content hashed into several signal
types becomes several entries, and the response's ``id`` is the first of them (all are in
``entry_ids``). Adding a signal the bank already holds returns the existing entry. Renaming
banks, partial matching ratios and timed disabling are refused with a 422 that says so; the
full list of differences is in ``docs/hma-compatibility.md``.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from starlette.concurrency import run_in_threadpool

from safehold.api.deps import CuratorKey, StateDep
from safehold.api.hma_content import (
    content_type_names,
    fetch_and_hash,
    hash_bytes,
    metadata_note,
    read_upload,
    resolve_signal_type,
    select_signal_types,
)
from safehold.api.routes.banks import delete_bank_unless_fed
from safehold.api.schemas.common import AUTH_RESPONSES, error_responses
from safehold.api.schemas.hma import (
    HmaBank,
    HmaBankCreate,
    HmaBankUpdate,
    HmaContent,
    HmaContentAdded,
    HmaContentTypeConfig,
    HmaContentUpdate,
    HmaDeleted,
    HmaMessage,
    HmaSignalTypeConfig,
    HmaSignalTypeIndex,
    enabled_from_disable_until,
)
from safehold.api.state import ServiceState
from safehold.banks.models import Bank, BankEntry, NewEntry
from safehold.banks.validation import signal_type_class
from safehold.errors import ConflictError, ContentError, InvalidInputError, NotFoundError
from safehold.matching import HashedContent
from safehold.signals import SIGNAL_TYPES
from safehold.signals.exact import CryptographicSignalType

router = APIRouter(prefix="/c", tags=["hma"], responses={**AUTH_RESPONSES, **error_responses(422)})
_IN_BANK = error_responses(404)


# -- banks -------------------------------------------------------------------------------


@router.get("/banks", summary="List banks (HMA)")
def list_banks(state: StateDep, _key: CuratorKey) -> list[HmaBank]:
    """Every bank as ``{"name", "matching_enabled_ratio"}``, by name."""
    return [HmaBank.of(b) for b in state.banks.list_banks()]


@router.post(
    "/banks", status_code=201, summary="Create a bank (HMA)", responses=error_responses(409, 415)
)
def create_bank(body: HmaBankCreate, state: StateDep, _key: CuratorKey) -> HmaBank:
    """Create a bank (Safehold's name rules; HMA's UPPER_SNAKE names are valid ones)."""
    enabled = body.wanted_enabled()  # validates first: a refused request creates nothing
    bank = state.banks.create_bank(body.name)
    if not enabled:
        bank = state.banks.update_bank(bank.name, enabled=False)
    return HmaBank.of(bank)


@router.get("/bank/{bank_name}", summary="Show a bank (HMA)", responses=_IN_BANK)
def get_bank(bank_name: str, state: StateDep, _key: CuratorKey) -> HmaBank:
    """One bank (names are matched ignoring case)."""
    return HmaBank.of(state.banks.get_bank(bank_name))


@router.put("/bank/{bank_name}", summary="Enable or disable a bank (HMA)", responses=_IN_BANK)
def update_bank(bank_name: str, body: HmaBankUpdate, state: StateDep, _key: CuratorKey) -> HmaBank:
    """Change ``enabled_ratio`` (0 or 1) or ``enabled``; a ``name`` must be the current one."""
    bank = state.banks.get_bank(bank_name)
    if body.name is not None and body.name.casefold() != bank.name.casefold():
        raise InvalidInputError("renaming a bank is not supported; create a new bank instead")
    enabled = body.wanted_enabled()
    if enabled is not None and enabled != bank.enabled:
        bank = state.banks.update_bank(bank.name, enabled=enabled)
    return HmaBank.of(bank)


@router.delete("/bank/{bank_name}", summary="Delete a bank and its entries (HMA)")
def delete_bank(bank_name: str, state: StateDep, _key: CuratorKey) -> HmaMessage:
    """Delete the bank; like HMA, deleting a bank that does not exist succeeds. Refused (409)
    while exchanges fetch into the bank (the ``/v1`` route has ``force``)."""
    with contextlib.suppress(NotFoundError):
        delete_bank_unless_fed(state, bank_name, force=False)
    return HmaMessage(message="Done")


# -- bank content --------------------------------------------------------------------------


def _entry_in_bank(state: ServiceState, bank_name: str, content_id: int) -> tuple[Bank, BankEntry]:
    """The bank and one of its entries.

    Raises:
        NotFoundError: no such bank, or no entry ``content_id`` in it.
    """
    bank = state.banks.get_bank(bank_name)
    try:
        entry = state.banks.get_entry(content_id)
    except NotFoundError:
        entry = None
    if entry is None or entry.bank_id != bank.id:
        raise NotFoundError(f"no content {content_id} in bank {bank.name!r}")
    return bank, entry


def _content_body(content: HmaContent) -> dict[str, Any]:
    body = content.model_dump()
    if content.signals is None:  # HMA leaves the key out unless signals were asked for
        body.pop("signals")
    return body


@router.get(
    "/bank/{bank_name}/content/{content_id}", summary="Show bank content (HMA)", responses=_IN_BANK
)
def get_content(
    bank_name: str,
    content_id: int,
    state: StateDep,
    _key: CuratorKey,
    include_signals: bool = False,
    signal_type: str | None = None,
) -> dict[str, Any]:
    """One entry as HMA content; ``include_signals=true`` (or ``signal_type=<its type>``, the
    older HMA form) adds ``{"signals": {type: hash}}``."""
    wanted = resolve_signal_type(signal_type) if signal_type else None
    bank, entry = _entry_in_bank(state, bank_name, content_id)
    with_signal = include_signals or wanted == entry.signal_type
    content = HmaContent.of(entry, bank, with_signal=with_signal)
    if wanted is not None and not with_signal:
        content.signals = {}
    return _content_body(content)


@router.put(
    "/bank/{bank_name}/content/{content_id}",
    summary="Enable or disable content (HMA)",
    responses=_IN_BANK,
)
def update_content(
    bank_name: str,
    content_id: int,
    body: HmaContentUpdate,
    state: StateDep,
    _key: CuratorKey,
) -> dict[str, Any]:
    """Set ``disable_until_ts``: 0 disables, 1 (or a past time) enables."""
    bank, entry = _entry_in_bank(state, bank_name, content_id)
    if body.disable_until_ts is not None:
        enabled = enabled_from_disable_until(body.disable_until_ts)
        if enabled != entry.enabled:
            entry = state.banks.update_entry(entry.id, enabled=enabled)
    return _content_body(HmaContent.of(entry, bank))


@router.delete(
    "/bank/{bank_name}/content/{content_id}",
    summary="Delete bank content (HMA)",
    responses=_IN_BANK,
)
def delete_content(
    bank_name: str, content_id: int, state: StateDep, _key: CuratorKey
) -> HmaDeleted:
    """``{"deleted": 1}``, or 0 when the bank holds no such entry."""
    return HmaDeleted(deleted=state.banks.delete_entries([content_id], bank_name=bank_name))


def _add_signals(
    state: ServiceState,
    bank_name: str,
    signals: dict[str, tuple[str, int | None]],
    note: str = "",
) -> HmaContentAdded:
    """Add ``{type: (value, quality)}`` as entries (all validated before any is added).

    Raises:
        NotFoundError: no such bank. InvalidInputError / InvalidSignalError: bad input.
    """
    if not signals:
        raise InvalidInputError("no signals given")
    bank = state.banks.get_bank(bank_name)
    canonical: dict[str, tuple[str, int | None]] = {}
    for given, (value, quality) in signals.items():
        name = resolve_signal_type(given)
        if name in canonical:
            raise InvalidInputError(f"signal type {name} given twice")
        canonical[name] = (signal_type_class(name).validate_signal(value), quality)
    ids: dict[str, int] = {}
    for name, (value, quality) in canonical.items():
        try:
            entry = state.banks.add_entry(bank.name, NewEntry(name, value, quality, note=note))
        except ConflictError:  # already in this bank: HMA clients expect success
            held = state.banks.find_entries(name, value, matchable_only=False)
            found = next((e for e in held if e.bank_id == bank.id), None)
            if found is None:  # deleted meanwhile
                raise
            entry = found
        ids[name] = entry.id
    return HmaContentAdded(
        id=next(iter(ids.values())),
        signals={name: value for name, (value, _) in canonical.items()},
        entry_ids=ids,
    )


def _add_hashed(
    state: ServiceState, bank_name: str, hashed: HashedContent, note: str
) -> HmaContentAdded:
    """Add hashed content's signals, leaving out perceptual hashes too low in quality to
    match (as ``safehold bank add-media`` does).

    Raises:
        ContentError: every signal was too low in quality (422).
    """
    kept: dict[str, tuple[str, int | None]] = {}
    for name, signal in sorted(hashed.signals.items()):
        cls = SIGNAL_TYPES.get(name)
        floor = state.settings.pdq_min_quality if name == "pdq" else None
        if cls.is_matchable(signal, floor):
            kept[name] = (signal.value, signal.quality)
    if not kept:
        raise ContentError("the content's hashes are too low in quality to match reliably")
    return _add_signals(state, bank_name, kept, note)


@router.post(
    "/bank/{bank_name}/content",
    summary="Add content by URL or upload (HMA)",
    responses=error_responses(400, 404, 413, 415, 502),
)
async def add_content(
    bank_name: str,
    request: Request,
    state: StateDep,
    _key: CuratorKey,
    url: str | None = None,
    content_type: str | None = None,
    types: str | None = None,
) -> HmaContentAdded:
    """Hash the content at ``url`` (or the one uploaded file, field ``photo``/``video``) and
    add its signals; ``{"metadata": {...}}`` in a JSON body is kept in the entries' note."""
    await run_in_threadpool(state.banks.get_bank, bank_name)  # 404 before any fetch
    note = await metadata_note(request)
    if url:
        selected = select_signal_types(types, content_type)
        hashed = await run_in_threadpool(fetch_and_hash, state, url, selected, content_type)
    elif request.headers.get("content-type", "").startswith("multipart/form-data"):
        field, data = await read_upload(request, state.settings.max_upload_bytes)
        selected = select_signal_types(types, field)
        hashed = await run_in_threadpool(hash_bytes, state, data, selected, field)
    else:
        raise InvalidInputError("neither url nor a multipart file upload was received")
    return await run_in_threadpool(_add_hashed, state, bank_name, hashed, note)


@router.post("/bank/{bank_name}/signal", summary="Add hashes directly (HMA)", responses=_IN_BANK)
def add_signal(
    bank_name: str,
    body: Annotated[dict[str, str], Body(examples=[{"pdq": "<64 hex digits>"}])],
    state: StateDep,
    _key: CuratorKey,
) -> HmaContentAdded:
    """Add ``{signal type: hash}`` (e.g. the output of ``/h/hash``) as entries."""
    return _add_signals(state, bank_name, {k: (v, None) for k, v in body.items()})


# -- configuration -------------------------------------------------------------------------


@router.get("/signal_type", summary="Signal types (HMA)")
def signal_types(_key: CuratorKey) -> list[HmaSignalTypeConfig]:
    """Every Safehold signal type, always enabled (``enabled_ratio`` 1.0)."""
    return [HmaSignalTypeConfig(name=n, enabled_ratio=1.0) for n in SIGNAL_TYPES.names()]


@router.get("/signal_type/index", summary="Index build state per signal type (HMA)")
def signal_type_index(
    state: StateDep, _key: CuratorKey, signal_type: str | None = None
) -> dict[str, HmaSignalTypeIndex]:
    """Matchable entries in the database and in this worker's index, and the change
    sequence each has reached.

    Byte-exact types (md5, sha256) are looked up in the database itself, so their index is
    the database: ``index_size`` is the count just made (the worker's own count of them lags
    up to a minute, see ``/m/index/status``). ``index_out_of_date`` is true whenever the index
    is behind the change log or the two sizes differ, so the flag never contradicts them.
    """
    names = [resolve_signal_type(signal_type)] if signal_type else SIGNAL_TYPES.names()
    now = state.matcher.status()
    newest = state.banks.change_sequence()
    built_to = now.change_seq if now.ready else -1
    answer: dict[str, HmaSignalTypeIndex] = {}
    for name in names:
        db_size = sum(state.banks.count_matchable(name).values())
        in_database = now.ready and issubclass(SIGNAL_TYPES.get(name), CryptographicSignalType)
        index_size = db_size if in_database else now.entries.get(name, 0)
        answer[name] = HmaSignalTypeIndex(
            db_size=db_size,
            index_size=index_size,
            index_out_of_date=built_to < newest or index_size != db_size,
            newest_db_item=newest,
            index_built_to=built_to,
        )
    return answer


@router.get("/content_type", summary="Content types (HMA)")
def content_types(_key: CuratorKey) -> list[HmaContentTypeConfig]:
    """The content types Safehold hashes, always enabled."""
    return [HmaContentTypeConfig(name=n, enabled=True) for n in content_type_names()]
