"""Hasher-Matcher-Actioner 2.x compatible routes, so existing HMA clients work unchanged
apart from sending an API key.

Paths, parameters and bodies follow HMA's ``OpenMediaMatch`` blueprints (facebook/ThreatExchange,
``hasher-matcher-actioner/src/OpenMediaMatch``): ``/status``, hashing under ``/h``, matching
under ``/m``, curation under ``/c`` (:mod:`safehold.api.routes.hma_curation`). Differences
(names, scopes, status codes, what is not supported) are listed in ``docs/hma-compatibility.md``.

Who may call what: ``/status`` needs no key (HMA's load-balancer health check);
hashing, lookups and ``/m/compare`` take any matching key, and a ``client`` key gets only
``{"match": bool, "action": ...}`` where HMA would name banks and entries; index status needs a
curator or matcher key; curation needs a curator key. Every lookup is recorded as match events
(origin ``hma``; HMA's ``seed``, its content id, becomes the event's ``content_ref``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from safehold.api.deps import MatchCaller, ReaderKey, StateDep, is_trusted
from safehold.api.hma_content import (
    UPLOAD_BODY,
    fetch_and_hash,
    hash_bytes,
    read_upload,
    resolve_signal_type,
    select_signal_types,
    signal_strings,
)
from safehold.api.routes import hma_curation
from safehold.api.schemas.common import AUTH_RESPONSES, error_responses
from safehold.api.schemas.hma import HmaDecision, HmaIndexStatus
from safehold.api.state import ServiceState
from safehold.auth import ApiKey
from safehold.errors import InvalidInputError, PermissionDeniedError
from safehold.scanning.records import MatchInfo
from safehold.signals import SIGNAL_TYPES, Signal
from safehold.signals.vpdq_frames import compare as vpdq_compare
from safehold.storage.tables import SOURCE_LENGTH

router = APIRouter(tags=["hma"])

#: Seconds without a successful index refresh after which ``/status`` says ``INDEX-STALE``
#: (HMA's default ``INDEX_CACHE_MAX_STALE_SEC``, ``blueprints/matching.py``).
STALE_AFTER_S = 65.0

_BANKS = Query(None, description="comma-separated bank names: only matches in these banks")
_SEED = Query(None, max_length=SOURCE_LENGTH, description="the content's id (content_ref)")
_TYPES = Query(None, description="comma-separated signal types to compute")
_CONTENT_TYPE = Query(None, description="photo or video")

MatchesByBank = dict[str, list[dict[str, Any]]]


@router.get("/status", response_class=PlainTextResponse, summary="HMA health check (no key)")
def status(state: StateDep) -> PlainTextResponse:
    """``I-AM-ALIVE`` (200) when the index is loaded and refreshing, else ``INDEX-STALE``
    (503), as HMA answers its load balancer."""
    try:
        now = state.matcher.status()
    except Exception:  # a health check reports, it does not fail
        return PlainTextResponse("INDEX-STALE", 503)
    age = now.seconds_since_refresh
    if not now.ready or (age is not None and age > STALE_AFTER_S):
        return PlainTextResponse("INDEX-STALE", 503)
    return PlainTextResponse("I-AM-ALIVE", 200)


# -- hashing -----------------------------------------------------------------------------


_URL_ERRORS = {**AUTH_RESPONSES, **error_responses(413, 415, 422, 502)}
_UPLOAD_ERRORS = {**AUTH_RESPONSES, **error_responses(400, 413, 415, 422)}
_LOOKUP_ERRORS = {**AUTH_RESPONSES, **error_responses(413, 415, 422, 502, 503)}


@router.get("/h/hash", summary="Hash content fetched from a URL", responses=_URL_ERRORS)
def hash_url(
    state: StateDep,
    _key: MatchCaller,
    url: str,
    content_type: str | None = _CONTENT_TYPE,
    types: str | None = _TYPES,
) -> dict[str, str]:
    """``{signal type: hash}`` of the content at ``url``."""
    hashed = fetch_and_hash(state, url, select_signal_types(types, content_type), content_type)
    return signal_strings(hashed)


@router.post(
    "/h/hash",
    summary="Hash an uploaded file",
    openapi_extra=UPLOAD_BODY,
    responses=_UPLOAD_ERRORS,
)
async def hash_file(
    request: Request, state: StateDep, _key: MatchCaller, types: str | None = _TYPES
) -> dict[str, str]:
    """``{signal type: hash}`` of the one file of a multipart upload (field ``photo`` or
    ``video``)."""
    field, data = await read_upload(request, state.settings.max_upload_bytes)
    selected = select_signal_types(types, field)
    hashed = await run_in_threadpool(hash_bytes, state, data, selected, field)
    return signal_strings(hashed)


# -- matching ----------------------------------------------------------------------------


def _bank_filter(key: ApiKey, banks: str | None) -> set[str] | None:
    """Case-folded bank names of HMA's ``banks`` parameter (None: every bank).

    Raises:
        PermissionDeniedError: a ``client`` key names banks (whether a named bank matched
            would tell it which banks hold the content).
    """
    if banks is None:
        return None
    if not is_trusted(key):
        raise PermissionDeniedError("the banks parameter needs a matcher key")
    return {name.strip().lower() for name in banks.split(",") if name.strip()}


def _record(
    state: ServiceState,
    key: ApiKey,
    matches: list[MatchInfo],
    wanted: set[str] | None,
    seed: str | None,
) -> list[MatchInfo]:
    """Keep the matches in ``wanted`` banks and record them as match events."""
    if wanted is not None:
        matches = [m for m in matches if m.bank.lower() in wanted]
    if matches:
        state.actions.record_matches(
            matches, content_ref=seed or "", origin="hma", api_key_id=key.id
        )
    return matches


def _decision(state: ServiceState, matches: Sequence[MatchInfo]) -> dict[str, Any]:
    """The ``client`` form: match or not, and the strongest action of the matched banks."""
    action = state.matcher.action_for(matches)
    decision = HmaDecision.model_validate({"match": bool(matches), "action": action})
    return decision.model_dump()


def _by_bank(matches: Sequence[MatchInfo]) -> MatchesByBank:
    """HMA's ``{bank: [{"bank_content_id": id, "distance": "4"}, ...]}``."""
    out: MatchesByBank = {}
    for m in matches:
        out.setdefault(m.bank, []).append(
            {"bank_content_id": m.entry_id, "distance": str(m.distance)}
        )
    return out


@router.get(
    "/m/raw_lookup",
    summary="Look up one hash: matching entry ids",
    responses={**AUTH_RESPONSES, **error_responses(422, 503)},
)
def raw_lookup(
    state: StateDep,
    key: MatchCaller,
    signal_type: str,
    signal: str,
    include_distance: bool = False,
    banks: str | None = _BANKS,
    seed: str | None = _SEED,
) -> dict[str, Any]:
    """``{"matches": [entry id, ...]}``, or ``[{"bank_content_id", "distance"}, ...]`` with
    ``include_distance``."""
    wanted = _bank_filter(key, banks)
    found = state.matcher.match_value(resolve_signal_type(signal_type), signal)
    matches = _record(state, key, found, wanted, seed)
    if not is_trusted(key):
        return _decision(state, matches)
    if include_distance:
        return {
            "matches": [
                {"bank_content_id": m.entry_id, "distance": str(m.distance)} for m in matches
            ]
        }
    return {"matches": [m.entry_id for m in matches]}


@router.get(
    "/m/lookup",
    summary="Look up a hash, or content by URL: matches by bank",
    responses=_LOOKUP_ERRORS,
)
def lookup(
    state: StateDep,
    key: MatchCaller,
    url: str | None = None,
    content_type: str | None = _CONTENT_TYPE,
    types: str | None = _TYPES,
    signal: str | None = None,
    signal_type: str | None = None,
    banks: str | None = _BANKS,
    seed: str | None = _SEED,
    bypass_coinflip: bool = False,
) -> dict[str, Any]:
    """With ``signal_type`` and ``signal``: ``{bank: [matches]}``. With ``url``:
    ``{signal type: {bank: [matches]}}`` for every type computed (only the inner object
    when ``signal_type`` is given too). ``bypass_coinflip`` changes nothing: Safehold
    matches an enabled bank always."""
    wanted = _bank_filter(key, banks)
    if url:
        hashed = fetch_and_hash(state, url, select_signal_types(types, content_type), content_type)
        return _lookup_hashed(state, key, hashed.signals, wanted, seed, signal_type)
    if not signal or not signal_type:
        raise InvalidInputError("either url or both signal and signal_type are required")
    found = state.matcher.match_value(resolve_signal_type(signal_type), signal)
    matches = _record(state, key, found, wanted, seed)
    return _by_bank(matches) if is_trusted(key) else _decision(state, matches)


@router.post(
    "/m/lookup",
    summary="Look up an uploaded file: matches by signal type and bank",
    openapi_extra=UPLOAD_BODY,
    responses={**_UPLOAD_ERRORS, **error_responses(503)},
)
async def lookup_file(
    request: Request,
    state: StateDep,
    key: MatchCaller,
    types: str | None = _TYPES,
    banks: str | None = _BANKS,
    seed: str | None = _SEED,
    bypass_coinflip: bool = False,
) -> dict[str, Any]:
    """``{signal type: {bank: [matches]}}`` for the one file of a multipart upload."""
    wanted = _bank_filter(key, banks)
    field, data = await read_upload(request, state.settings.max_upload_bytes)
    selected = select_signal_types(types, field)
    hashed = await run_in_threadpool(hash_bytes, state, data, selected, field)
    return await run_in_threadpool(_lookup_hashed, state, key, hashed.signals, wanted, seed, None)


def _lookup_hashed(
    state: ServiceState,
    key: ApiKey,
    signals: dict[str, Signal],
    wanted: set[str] | None,
    seed: str | None,
    only_type: str | None,
) -> dict[str, Any]:
    """Match hashed content; HMA's per-signal-type result (or the ``client`` decision)."""
    only = resolve_signal_type(only_type) if only_type else None
    if only is not None:
        signals = {n: s for n, s in signals.items() if n == only}
    matches = _record(state, key, state.matcher.match(signals), wanted, seed)
    if not is_trusted(key):
        return _decision(state, matches)
    result: dict[str, MatchesByBank] = {
        name: _by_bank([m for m in matches if m.signal_type == name]) for name in sorted(signals)
    }
    return result.get(only, {}) if only is not None else result


@router.get(
    "/m/index/status",
    summary="Index status per signal type",
    responses={**AUTH_RESPONSES, **error_responses(422)},
)
def index_status(
    state: StateDep, _key: ReaderKey, signal_type: str | None = None
) -> dict[str, HmaIndexStatus]:
    """``{signal type: {"present", "built_to", "size"}}``; ``built_to`` is the bank change
    sequence applied (-1 before the index is loaded)."""
    names = [resolve_signal_type(signal_type)] if signal_type else SIGNAL_TYPES.names()
    now = state.matcher.status()
    return {
        name: HmaIndexStatus(
            present=now.ready,
            built_to=now.change_seq if now.ready else -1,
            size=now.entries.get(name, 0),
        )
        for name in names
    }


@router.post(
    "/m/compare",
    summary="Compare pairs of hashes",
    responses={**AUTH_RESPONSES, **error_responses(415, 422)},
)
def compare(
    state: StateDep,
    _key: MatchCaller,
    body: Annotated[dict[str, list[str]], Body(examples=[{"pdq": ["<hash a>", "<hash b>"]}])],
) -> dict[str, list[Any]]:
    """``{signal type: [match, {"distance": bits}]}`` for each ``{signal type: [a, b]}``
    (vPDQ: ``{"query_match_percent", "compared_match_percent"}``), at the default
    thresholds."""
    out: dict[str, list[Any]] = {}
    for given, pair in body.items():
        if len(pair) != 2:
            raise InvalidInputError(f"give exactly 2 hashes to compare for {given}")
        cls = SIGNAL_TYPES.get(resolve_signal_type(given))
        a, b = (cls.validate_signal(v) for v in pair)
        settings = state.settings
        if cls.name == "vpdq":
            got = vpdq_compare(a, b, frame_threshold=settings.vpdq_frame_threshold)
            query, compared = float(got.query_match_percent), float(got.bank_match_percent)
            match = (
                query >= settings.vpdq_query_match_percent
                and compared >= settings.vpdq_bank_match_percent
            )
            info = {"query_match_percent": query, "compared_match_percent": compared}
            out[given] = [match, info]
            continue
        threshold = settings.pdq_threshold if cls.name == "pdq" else cls.default_threshold
        distance = int(cls.distance(a, b))
        out[given] = [distance <= threshold, {"distance": distance}]
    return out


router.include_router(hma_curation.router)
