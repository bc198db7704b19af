"""Banks: list, create, show, change, delete, summarise, and bulk-import hash lists.

Every route needs the ``curator`` (or ``admin``) scope: bank names and contents are
confidential, so ``matcher`` and ``client`` keys never reach them. Each write goes through
:class:`~safehold.banks.service.BankService`, which records it in the change log; every
worker's matcher picks it up from there. Bank names are matched ignoring case.

The bulk import streams the request body into a spooled temporary file (memory up to
:data:`SPOOL_MEMORY_BYTES`, then disk under ``TMPDIR``) and parses it in a worker thread with
the streaming readers of ``safehold.banks.formats``, so a body of millions of rows never sits
in memory; ``SAFEHOLD_MAX_UPLOAD_BYTES`` does not apply to it, ``SAFEHOLD_MAX_IMPORT_BYTES``
does (413, checked after the key: at once for a ``Content-Length`` over it, else as the body
passes it). A photo or video sent as the body is refused with a pointer to the route that
hashes media.
"""

from __future__ import annotations

import tempfile
from typing import IO, Annotated, BinaryIO, Literal, cast

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from safehold.api.deps import CuratorKey, StateDep
from safehold.api.schemas.banks import (
    BankCreate,
    BankPublic,
    BankSummaryPublic,
    BankUpdate,
    ImportResult,
)
from safehold.api.schemas.common import AUTH_RESPONSES, ErrorBody
from safehold.api.state import ServiceState
from safehold.auth.keys import ApiKey
from safehold.banks.formats.reading import HEAD_BYTES, csv_file_format
from safehold.banks.importing import import_bank_file
from safehold.banks.models import Category
from safehold.banks.service import BankService
from safehold.banks.validation import validate_text
from safehold.errors import (
    ConflictError,
    ContentTooLargeError,
    InvalidInputError,
    PermissionDeniedError,
    SafeholdError,
)
from safehold.signals.content import SNIFF_BYTES, sniff
from safehold.storage.tables import CATEGORY_PART_LENGTH, NAME_LENGTH, SOURCE_LENGTH

router = APIRouter(tags=["banks"], responses=AUTH_RESPONSES)

BankName = Annotated[str, Path(min_length=1, max_length=NAME_LENGTH)]

#: Bytes of an import body kept in memory before the spool moves to a temporary file.
SPOOL_MEMORY_BYTES = 1024 * 1024

_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "description": "the bank file, UTF-8: CSV or IWF-style CSV (text/csv), a plain list "
        "(text/plain) or VICS JSON (application/json); the format is detected unless given",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "text/plain": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "string"}},
        },
    }
}


_category = Category.parse_optional


def _create(banks: BankService, body: BankCreate) -> BankPublic:
    bank = banks.create_bank(
        body.name,
        description=body.description,
        source=body.source,
        thresholds=body.thresholds,
        category=_category(body.category),
        match_action=body.match_action,
    )
    if not body.enabled:
        bank = banks.update_bank(bank.name, enabled=False)
    return BankPublic.of(bank)


def _update(banks: BankService, name: str, body: BankUpdate, key: ApiKey) -> BankPublic:
    given = body.model_fields_set
    if body.shared is not None and "admin" not in key.scopes:
        # Sharing publishes the bank's hashes to every peer key: an administrator's decision.
        raise PermissionDeniedError("changing shared needs the admin scope")
    clear = "category" in given and body.category is None
    bank = banks.update_bank(
        name,
        description=body.description,
        source=body.source,
        thresholds=body.thresholds,
        enabled=body.enabled,
        category=_category(body.category),
        clear_category=clear,
        match_action=body.match_action,
        shared=body.shared,
    )
    return BankPublic.of(bank)


@router.get("/v1/banks", summary="List banks")
async def list_banks(state: StateDep, _key: CuratorKey) -> list[BankPublic]:
    """Every bank, sorted by name, with its entry count."""
    return [BankPublic.of(b) for b in await run_in_threadpool(state.banks.list_banks)]


@router.post("/v1/banks", status_code=201, summary="Create a bank")
async def create_bank(body: BankCreate, state: StateDep, _key: CuratorKey) -> BankPublic:
    """A new, empty bank; 409 when a bank of that name exists (ignoring case)."""
    return await run_in_threadpool(_create, state.banks, body)


@router.get("/v1/banks/{bank_name}", summary="Show a bank")
async def get_bank(bank_name: BankName, state: StateDep, _key: CuratorKey) -> BankPublic:
    """The bank with its entry count."""
    return BankPublic.of(await run_in_threadpool(state.banks.get_bank, bank_name))


@router.patch("/v1/banks/{bank_name}", summary="Change a bank")
async def update_bank(
    bank_name: BankName, body: BankUpdate, state: StateDep, key: CuratorKey
) -> BankPublic:
    """Change the given fields (absent fields stay; ``category: null`` removes it); 403 when
    a key without the admin scope changes ``shared``."""
    return await run_in_threadpool(_update, state.banks, bank_name, body, key)


def delete_bank_unless_fed(state: ServiceState, bank_name: str, force: bool) -> None:
    """Delete a bank, refusing while exchanges fetch into it unless ``force``.

    Raises:
        NotFoundError: no such bank.
        ConflictError: exchanges feed the bank and ``force`` is false.
    """
    fed = state.exchanges.exchanges_of_bank(bank_name)
    if fed and not force:
        names = ", ".join(e.name for e in fed)
        raise ConflictError(
            f"bank {bank_name} is fed by the exchanges {names}: remove them first, or delete "
            "with force=true (they are deleted with the bank, credentials and checkpoints too)"
        )
    state.banks.delete_bank(bank_name)  # its exchanges go with it (foreign key)


@router.delete(
    "/v1/banks/{bank_name}",
    status_code=204,
    summary="Delete a bank and its entries",
    responses={409: {"model": ErrorBody, "description": "exchanges feed the bank"}},
)
async def delete_bank(
    bank_name: BankName,
    state: StateDep,
    _key: CuratorKey,
    force: Annotated[
        bool, Query(description="also delete the exchanges that fetch into the bank")
    ] = False,
) -> Response:
    """Deletes the bank, its entries and its actions for good (PATCH ``enabled: false``
    keeps them); every worker's index drops the entries. Refused (409) while exchanges fetch
    into the bank, unless ``force=true`` (then they are deleted with it)."""
    await run_in_threadpool(delete_bank_unless_fed, state, bank_name, force)
    return Response(status_code=204)


@router.get("/v1/banks/{bank_name}/summary", summary="Entry counts of a bank")
async def summarize_bank(
    bank_name: BankName, state: StateDep, _key: CuratorKey
) -> BankSummaryPublic:
    """Entry counts by signal type, and by signal type and category (no hash values)."""
    summary = await run_in_threadpool(state.banks.summarize_bank, bank_name)
    return BankSummaryPublic.of(summary)


@router.post(
    "/v1/banks/{bank_name}/import",
    summary="Bulk-import a bank file (CSV, plain list, IWF-style CSV or VICS JSON)",
    openapi_extra=_IMPORT_BODY,
    responses={
        404: {"model": ErrorBody, "description": "no such bank"},
        413: {"model": ErrorBody, "description": "over SAFEHOLD_MAX_IMPORT_BYTES"},
        422: {"model": ErrorBody, "description": "bad parameters, a UTF-16 file, or media"},
    },
)
async def import_entries(
    bank_name: BankName,
    request: Request,
    state: StateDep,
    _key: CuratorKey,
    fmt: Annotated[
        Literal["csv", "plain", "iwf", "vics"] | None,
        Query(
            alias="format",
            description="default: detected from the body (a text/csv body is csv or iwf)",
        ),
    ] = None,
    signal_type: Annotated[
        str | None, Query(max_length=32, description="for rows that name none, e.g. pdq")
    ] = None,
    category: Annotated[
        str | None,
        Query(
            max_length=2 * CATEGORY_PART_LENGTH + 1,
            description="scheme:code for rows without one (else the bank's)",
        ),
    ] = None,
    source: Annotated[str, Query(max_length=SOURCE_LENGTH)] = "",
    category_scheme: Annotated[
        str | None,
        Query(
            max_length=CATEGORY_PART_LENGTH,
            description="scheme of bare category codes (iwf: default iwf; vics: the file's)",
        ),
    ] = None,
) -> ImportResult:
    """Reads the body as ``safehold bank import`` reads a file (docs/banks.md): bad rows are
    reported by line number (the first 100; ``error_count`` counts all) and skipped, the
    rest is added in transactions of 500,000 (each stored in key order); duplicates are
    counted, not errors. A body with no row at all is a 422, as ``safehold bank import``
    exits 1 on it."""
    await run_in_threadpool(state.banks.get_bank, bank_name)  # 404 before reading the body
    cat = _category(category)
    validate_text("source", source, SOURCE_LENGTH)  # one 422, not an error on every row
    csv_body = request.headers.get("content-type", "").startswith("text/csv")
    limit = state.settings.max_import_bytes
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise ContentTooLargeError(_too_large(limit))
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115
    try:
        size = await _spool_body(request, spool, limit)
        spool.seek(0)
        head = spool.read(HEAD_BYTES)
        _refuse_media(head[:SNIFF_BYTES], bank_name)
        read_as = csv_file_format(head) if fmt is None and csv_body else fmt
        spool.seek(0)
        report = await run_in_threadpool(
            import_bank_file,
            state.banks,
            bank_name,
            cast(BinaryIO, spool),
            fmt=read_as,
            signal_type=signal_type,
            category=cat,
            source=source,
            category_scheme=category_scheme,
            vpdq_seconds_per_frame=state.settings.vpdq_seconds_per_frame,
        )
    finally:
        spool.close()
    if report.added + report.duplicates + report.error_count == 0:
        raise InvalidInputError("nothing could be read from the upload: it holds no rows")
    return ImportResult.of(report, size)


def _too_large(limit: int) -> str:
    return f"the bank file is over the limit of {limit:,} bytes (SAFEHOLD_MAX_IMPORT_BYTES)"


def _refuse_media(head: bytes, bank_name: str) -> None:
    """Refuse a body that starts like a photo or video: the route reads hash lists.

    Raises:
        InvalidInputError: ``head`` (the body's first bytes) is of a format Safehold hashes.
    """
    try:
        content_type, name = sniff(head)
    except SafeholdError:
        return
    raise InvalidInputError(
        f"the body looks like a {content_type.value} ({name}), not a hash list; to add the "
        f"hashes of media send it to POST /c/bank/{bank_name}/content"
    )


async def _spool_body(request: Request, spool: IO[bytes], limit: int) -> int:
    """Copy the request body into ``spool`` in pieces of about :data:`SPOOL_MEMORY_BYTES`
    (written from a worker thread: the file may be on disk); return its size in bytes.

    Raises:
        ContentTooLargeError: the body passed ``limit`` bytes (reading stops there).
    """
    size = 0
    pending = bytearray()
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ContentTooLargeError(_too_large(limit))
        pending += chunk
        if len(pending) >= SPOOL_MEMORY_BYTES:
            await run_in_threadpool(spool.write, bytes(pending))
            pending.clear()
    if pending:
        await run_in_threadpool(spool.write, bytes(pending))
    return size
