"""URL lists: ``POST /v1/urls/check`` checks up to 100 URLs against the banks' URL lists.

The same keys as ``/v1/match`` may call it (``admin``, ``matcher``, ``client``): trusted keys
get each URL's canonical form and matches (bank, entry id, kind of entry, list version,
category); a ``client`` key gets only ``{"match", "action"}`` per URL and may not name banks.
A URL that does not parse gets ``{"error": {...}}`` in its place and the others are checked;
an unknown or disabled bank, or an index still loading, fails the whole request. Every match is
recorded as a match event (with its webhook deliveries) before the answer is sent; the URLs
themselves are never stored or logged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fastapi import APIRouter

from safehold.api.deps import MatchCaller, StateDep, is_trusted
from safehold.api.schemas.common import AUTH_RESPONSES, ErrorDetail, error_responses
from safehold.api.schemas.matching import BatchError
from safehold.api.schemas.urls import (
    ClientUrlCheckBatchResult,
    ClientUrlCheckResult,
    UrlCheckBatchResult,
    UrlCheckRequest,
    UrlCheckResult,
    UrlMatchPublic,
)
from safehold.errors import PermissionDeniedError
from safehold.matching.url_check import UrlCheck, check_urls
from safehold.scanning.records import MatchInfo
from safehold.signals.base import Signal
from safehold.signals.url import URL

router = APIRouter(prefix="/v1/urls", tags=["urls"], responses=AUTH_RESPONSES)


@router.post(
    "/check",
    summary="Check up to 100 URLs against the URL lists",
    response_model=UrlCheckBatchResult | ClientUrlCheckBatchResult,
    responses=error_responses(404, 409, 415, 422, 503),
)
def check(
    body: UrlCheckRequest, state: StateDep, key: MatchCaller
) -> UrlCheckBatchResult | ClientUrlCheckBatchResult:
    """One result per URL, in order: host, path-prefix and exact matches by Safe Browsing's
    canonicalisation; trusted keys get the matches, ``client`` keys the decision."""
    trusted = is_trusted(key)
    if body.banks and not trusted:
        raise PermissionDeniedError("naming banks needs a matcher or admin key")
    matcher = state.matcher

    def match(signal: Signal) -> list[MatchInfo]:
        return matcher.match({URL: signal}, bank_names=body.banks)

    checks = check_urls(body.urls, match, state.engine)
    found = [m.match for c in checks for m in c.matches]
    if found:
        state.actions.record_matches(
            found, content_ref=body.content_ref, origin="api", api_key_id=key.id
        )
    results = [_result(matcher.action_for, c, trusted) for c in checks]
    if trusted:
        full = [r for r in results if not isinstance(r, ClientUrlCheckResult)]
        return UrlCheckBatchResult(results=full, change_seq=matcher.change_seq)
    short = [r for r in results if not isinstance(r, UrlCheckResult)]
    return ClientUrlCheckBatchResult(results=short)


def _result(
    action_for: Callable[[Sequence[MatchInfo]], str], check: UrlCheck, trusted: bool
) -> UrlCheckResult | ClientUrlCheckResult | BatchError:
    """The answer for one checked URL, shaped for the caller's key."""
    if check.error is not None:
        return BatchError(error=ErrorDetail(type=check.error.code, message=check.error.message))
    action = action_for([m.match for m in check.matches])
    if not trusted:
        return ClientUrlCheckResult(match=bool(check.matches), action=action)
    return UrlCheckResult(
        canonical=check.canonical or "",
        match=bool(check.matches),
        action=action,
        matches=[UrlMatchPublic.of(m) for m in check.matches],
    )
