"""Hashing and matching: ``/v1/hash``, ``/v1/match``, ``/v1/match/batch``, ``/v1/hash-and-match``.

Any matching key may call them (``admin``, ``matcher``, ``client``). Trusted keys (``admin``,
``matcher``) get every match with its bank, entry id, distance and category; a ``client`` key
gets only ``{"match", "action"}`` (the schemas in ``api/schemas/matching.py``) and may not
restrict matching to named banks (403), so it learns no bank name. Every match is recorded as a
match event (with the webhook deliveries of its bank's actions) before the answer is sent.

Content comes as ``multipart/form-data`` (the file in field ``file``; optional fields
``content_ref``, and ``banks`` and ``signal_types`` as comma-separated names) or as a JSON
body ``{"url": ...}`` fetched through :class:`~safehold.fetching.UrlFetcher` (public addresses
only). Hashing runs in the thread pool, as do matching and recording (a PDQ hash sent to
``/v1/match`` is searched on the event loop: see :data:`IN_LOOP_TYPES`); a match by hash that
hits no entry makes no database round trip beyond the key check (PDQ and vPDQ are in memory;
md5/sha256 are one indexed look-up).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from safehold.api.deps import MatchCaller, StateDep, is_trusted
from safehold.api.schemas.common import AUTH_RESPONSES, ErrorDetail, error_responses
from safehold.api.schemas.matching import (
    BatchError,
    ClientHashMatchResult,
    ClientMatchBatchResult,
    ClientMatchResult,
    ContentOptions,
    ContentUrl,
    HashMatchResult,
    HashResult,
    MatchBatch,
    MatchBatchResult,
    MatchPublic,
    MatchRequest,
    MatchResult,
    hashed_fields,
)
from safehold.api.state import ServiceState
from safehold.auth import ApiKey
from safehold.errors import (
    ContentTooLargeError,
    InvalidInputError,
    PermissionDeniedError,
    SafeholdError,
    UnsupportedContentError,
)
from safehold.matching import HashedContent, hash_upload
from safehold.scanning.records import MatchInfo

router = APIRouter(prefix="/v1", tags=["matching"], responses=AUTH_RESPONSES)

#: Signal types ``/v1/match`` matches on the event loop once the index is loaded: an in-memory
#: search of about 0.1 ms, cheaper than a hop to the thread pool (measured with
#: ``benchmarks/service_load.py``). md5/sha256 read the database and a vPDQ query can take
#: long, so they run in the thread pool, as does recording a match (a database write).
IN_LOOP_TYPES = frozenset({"pdq"})

_FORM_FIELDS = {
    "file": {"type": "string", "format": "binary"},
    "content_ref": {"type": "string", "maxLength": 200},
    "banks": {"type": "string", "description": "comma-separated bank names (trusted keys)"},
    "signal_types": {"type": "string", "description": "comma-separated signal types"},
}
#: The two ways to send content, documented in OpenAPI (the route reads the body itself).
CONTENT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "required": ["file"], "properties": _FORM_FIELDS}
            },
            "application/json": {"schema": ContentUrl.model_json_schema()},
        },
    }
}
_CONTENT_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"description": "the content is over a size, pixel or duration bound"},
    415: {"description": "not a photo or video format Safehold decodes"},
    422: {"description": "bad input, or content that cannot be hashed"},
    502: {"description": "the URL could not be fetched"},
}


def _names(text: str | None) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def _validation_message(exc: ValidationError) -> str:
    """The first failing field and reason, never the value given."""
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg"))


async def _read_content(request: Request, max_bytes: int) -> tuple[bytes | str, ContentOptions]:
    """The uploaded bytes or the URL to fetch, and the request's options.

    Raises:
        InvalidInputError: no file, or bad options (422). UnsupportedContentError: neither
            multipart nor JSON (415). ContentTooLargeError: the file is over ``max_bytes``.
    """
    kind = request.headers.get("content-type", "").lower()
    try:
        if kind.startswith("multipart/form-data"):
            async with request.form(max_files=1, max_fields=10) as form:
                upload = form.get("file")
                if not isinstance(upload, UploadFile):
                    raise InvalidInputError("send the content as the multipart file field 'file'")
                data = await upload.read(max_bytes + 1)
                fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
            if len(data) > max_bytes:
                raise ContentTooLargeError(f"the upload is over the bound of {max_bytes} bytes")
            options = ContentOptions(
                content_ref=fields.get("content_ref", ""),
                banks=_names(fields.get("banks")),
                signal_types=_names(fields.get("signal_types")),
            )
            return data, options
        if kind.startswith("application/json"):
            body = ContentUrl.model_validate_json(await request.body())
            return body.url, body
    except ValidationError as exc:
        raise InvalidInputError(_validation_message(exc)) from None
    raise UnsupportedContentError(
        "send the content as multipart/form-data (field 'file') or a JSON body {\"url\": ...}"
    )


def _check_banks(key: ApiKey, banks: list[str]) -> None:
    if banks and not is_trusted(key):
        raise PermissionDeniedError("naming banks needs a matcher or admin key")


def _hash(state: ServiceState, content: bytes | str, options: ContentOptions) -> HashedContent:
    """Fetch (a URL) and hash, in the thread pool."""
    if isinstance(content, str):
        content = state.fetcher.fetch(content, max_bytes=state.settings.max_upload_bytes)
    return hash_upload(content, state.settings, options.signal_types)


def _record(state: ServiceState, key: ApiKey, matches: list[MatchInfo], content_ref: str) -> None:
    """Record the matches as match events (and their webhook deliveries)."""
    if matches:
        state.actions.record_matches(
            matches, content_ref=content_ref, origin="api", api_key_id=key.id
        )


def _answer(state: ServiceState, key: ApiKey, matches: list[MatchInfo]) -> dict[str, Any]:
    """The decision fields of the answer for this key."""
    answer: dict[str, Any] = {
        "match": bool(matches),
        "action": state.matcher.action_for(matches),
    }
    if is_trusted(key):
        answer["matches"] = [MatchPublic.of(m) for m in matches]
        answer["change_seq"] = state.matcher.change_seq
    return answer


def _decide(
    state: ServiceState, key: ApiKey, matches: list[MatchInfo], content_ref: str
) -> dict[str, Any]:
    """Record the matches, then the answer's decision fields."""
    _record(state, key, matches, content_ref)
    return _answer(state, key, matches)


def _match_one(state: ServiceState, key: ApiKey, item: MatchRequest) -> dict[str, Any]:
    _check_banks(key, item.banks)
    matches = state.matcher.match_value(
        item.signal_type, item.value, quality=item.quality, bank_names=item.banks
    )
    return _decide(state, key, matches, item.content_ref)


def _result(key: ApiKey, answer: dict[str, Any]) -> MatchResult | ClientMatchResult:
    return MatchResult(**answer) if is_trusted(key) else ClientMatchResult(**answer)


@router.post(
    "/hash",
    summary="Hash uploaded or fetched content",
    openapi_extra=CONTENT_BODY,
    responses=_CONTENT_ERRORS,
)
async def hash_content(request: Request, state: StateDep, key: MatchCaller) -> HashResult:
    """The signals of the content (every signal type that hashes it, or ``signal_types``)."""
    content, options = await _read_content(request, state.settings.max_upload_bytes)
    hashed = await run_in_threadpool(_hash, state, content, options)
    return HashResult.of(hashed)


@router.post(
    "/match",
    summary="Match one hash",
    response_model=MatchResult | ClientMatchResult,
    responses=error_responses(404, 415, 422, 503),
)
async def match_hash(
    body: MatchRequest, state: StateDep, key: MatchCaller
) -> MatchResult | ClientMatchResult:
    """Match one hash string; trusted keys get the matches, ``client`` keys the decision."""
    if body.signal_type not in IN_LOOP_TYPES or not state.matcher.ready:
        return _result(key, await run_in_threadpool(_match_one, state, key, body))
    _check_banks(key, body.banks)
    matches = state.matcher.match_value(
        body.signal_type, body.value, quality=body.quality, bank_names=body.banks
    )
    if matches:  # a database write (it may wait for SQLite's write lock): off the loop
        await run_in_threadpool(_record, state, key, matches, body.content_ref)
    return _result(key, _answer(state, key, matches))


@router.post(
    "/match/batch",
    summary="Match up to 100 hashes",
    response_model=MatchBatchResult | ClientMatchBatchResult,
    responses=error_responses(415, 422, 503),
)
def match_batch(
    body: MatchBatch, state: StateDep, key: MatchCaller
) -> MatchBatchResult | ClientMatchBatchResult:
    """One result per item, in order; an item that cannot be matched (a hash that does not
    parse, an unknown bank) gets ``{"error": {...}}`` and the others are still answered."""
    results: list[Any] = []
    for item in body.items:
        try:
            results.append(_result(key, _match_one(state, key, item)))
        except SafeholdError as exc:
            if exc.http_status >= 500:
                raise  # the index or the database is down: the whole batch fails
            results.append(BatchError(error=ErrorDetail(type=exc.code, message=exc.message)))
    if is_trusted(key):
        return MatchBatchResult(results=results)
    return ClientMatchBatchResult(results=results)


def _hash_and_match(
    state: ServiceState, key: ApiKey, content: bytes | str, options: ContentOptions
) -> HashMatchResult | ClientHashMatchResult:
    hashed = _hash(state, content, options)
    matches = state.matcher.match(hashed.signals, bank_names=options.banks)
    answer = _decide(state, key, matches, options.content_ref) | hashed_fields(hashed)
    if is_trusted(key):
        return HashMatchResult(**answer)
    return ClientHashMatchResult(**answer)


@router.post(
    "/hash-and-match",
    summary="Hash uploaded or fetched content and match it",
    openapi_extra=CONTENT_BODY,
    responses=_CONTENT_ERRORS,
    response_model=HashMatchResult | ClientHashMatchResult,
)
async def hash_and_match(
    request: Request, state: StateDep, key: MatchCaller
) -> HashMatchResult | ClientHashMatchResult:
    """The content's signals and the decision; trusted keys also get the matches."""
    content, options = await _read_content(request, state.settings.max_upload_bytes)
    _check_banks(key, options.banks)
    return await run_in_threadpool(_hash_and_match, state, key, content, options)
