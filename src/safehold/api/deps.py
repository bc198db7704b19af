"""Request dependencies: the worker's state and the caller's API key with its scopes.

Routes declare who may call them with one of the ``Annotated`` aliases below; the alias
authenticates the key (``Authorization: Bearer <key>`` or ``X-API-Key: <key>``), applies the
key's rate limit and checks its scopes, so a route body never runs for a caller it does not
allow. ``admin`` passes every check.

| alias | scopes allowed |
| --- | --- |
| ``AdminKey`` | admin |
| ``CuratorKey`` | admin, curator |
| ``ReaderKey`` | admin, curator, matcher (index status) |
| ``MatcherKey`` | admin, matcher (trusted matching detail) |
| ``MatchCaller`` | admin, matcher, client (hash and match; clients get the decision only) |
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from safehold.api.state import ServiceState
from safehold.auth import TRUSTED_SCOPES, ApiKey
from safehold.errors import PermissionDeniedError


async def get_state(request: Request) -> ServiceState:
    """The worker's :class:`ServiceState`."""
    state: ServiceState = request.app.state.safehold
    return state


StateDep = Annotated[ServiceState, Depends(get_state)]

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the API key")


#: ``request.state`` attribute holding the caller's key once authenticated.
KEY_STATE = "api_key"


async def current_key(
    request: Request,
    state: StateDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> ApiKey:
    """The caller's live API key, after its rate limit.

    Raises:
        AuthenticationError: no key, or an unknown or revoked one (401).
        RateLimitedError: the key's budget is used up (429 with ``Retry-After``).
    """
    secret = bearer.credentials if bearer is not None else header
    # Async all the way: a cached key is checked on the event loop (sync dependencies would
    # each cost a thread-pool hop per request); only a cache miss queries the database.
    key = state.keys.peek(secret)
    if key is None:
        key = await run_in_threadpool(state.keys.authenticate, secret)
    state.limiter.check(key.id, key.rate_limit)
    setattr(request.state, KEY_STATE, key)
    return key


def _check_scopes(key: ApiKey, allowed: frozenset[str]) -> ApiKey:
    if not key.scopes & allowed:
        raise PermissionDeniedError(
            f"this route needs one of the scopes {', '.join(sorted(allowed))}; "
            f"the key has {', '.join(sorted(key.scopes))}"
        )
    return key


class _Require:
    """The dependency :func:`require` returns; ``allowed`` names the scopes it passes."""

    def __init__(self, scopes: tuple[str, ...]) -> None:
        self.allowed = frozenset(scopes) | {"admin"}

    async def __call__(self, key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
        return _check_scopes(key, self.allowed)


def require(*scopes: str) -> Callable[[ApiKey], Awaitable[ApiKey]]:
    """A dependency passing keys that hold ``admin`` or any of ``scopes``.

    Raises:
        PermissionDeniedError: the key holds none of them (403).
    """
    return _Require(scopes)


def route_scopes(route: object) -> frozenset[str] | None:
    """The scopes a route's key dependency allows, or None for a route that needs no key."""
    dependant = getattr(route, "dependant", None)
    pending = list(getattr(dependant, "dependencies", ()))
    while pending:
        dep = pending.pop()
        if isinstance(dep.call, _Require):
            return dep.call.allowed
        pending.extend(dep.dependencies)
    return None


def authorize_before_validation(request: Request) -> None:
    """Authenticate a request whose body failed to parse before its key was checked.

    FastAPI reads and decodes the body before it resolves dependencies, so a malformed body
    would be refused (422 or 400) before the key: a caller without a valid key would learn
    about the route's input. The error handlers call this first, so such a caller gets 401 or
    403 as for any other request. Does nothing for routes without a key or when the key was
    already checked. Blocking (one indexed query at most): run it in a thread.

    Raises:
        AuthenticationError: no key, or an unknown or revoked one.
        PermissionDeniedError: the key's scopes do not allow the route.
    """
    if getattr(request.state, KEY_STATE, None) is not None:
        return
    allowed = route_scopes(request.scope.get("route"))
    if allowed is None:
        return
    state: ServiceState = request.app.state.safehold
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        secret: str | None = credentials.strip()
    else:
        secret = request.headers.get("x-api-key")
    _check_scopes(state.keys.authenticate(secret), allowed)


def is_trusted(key: ApiKey) -> bool:
    """Whether ``key`` sees full match detail (admin or matcher scope)."""
    return bool(key.scopes & TRUSTED_SCOPES)


AdminKey = Annotated[ApiKey, Depends(require("admin"))]
CuratorKey = Annotated[ApiKey, Depends(require("curator"))]
ReaderKey = Annotated[ApiKey, Depends(require("curator", "matcher"))]
MatcherKey = Annotated[ApiKey, Depends(require("matcher"))]
MatchCaller = Annotated[ApiKey, Depends(require("matcher", "client"))]
