"""One mapping from errors to HTTP responses, so every refusal has the same JSON shape.

* :class:`~safehold.errors.SafeholdError` -> its ``http_status`` and
  ``{"error": {"type": code, "message": message}}`` (429 adds ``Retry-After``, 401 adds
  ``WWW-Authenticate``).
* FastAPI's request validation -> 422 with ``type: invalid_input`` and the failing fields'
  locations and messages. The submitted values are not echoed back. A body sent to a JSON
  route with another content type (or none) -> 415 ``unsupported`` ("send application/json"):
  FastAPI reads such a body as bytes, which would fail validation with a misleading 422.
  A body that does not parse is refused before the key is checked by FastAPI; the handlers
  check the key first (:func:`~safehold.api.deps.authorize_before_validation`), so a caller
  without a valid key always gets 401/403, never a hint about the route's input.
* Starlette's HTTP errors (unknown route 404, wrong method 405, ...) -> the same shape.
* A database error that escaped the domain's own mapping (``banks.rows.db_errors``) -> 422
  for values the database cannot hold (``DataError``), 409 for a constraint
  (``IntegrityError``), 503 otherwise; never a 500, and never the row values.
* Anything else -> 500 ``internal``; the traceback is logged, the body says nothing more.

Messages come from the exception tree, which never carries bank hash values.
"""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from safehold.api.deps import authorize_before_validation
from safehold.errors import AuthenticationError, RateLimitedError, SafeholdError

log = logging.getLogger(__name__)

_STATUS_TYPES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    411: "length_required",
    413: "too_large",
    415: "unsupported",
    422: "invalid_input",
}


def error_response(
    status: int,
    kind: str,
    message: str,
    *,
    details: list[dict[str, object]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A JSON error body with the shared shape."""
    body: dict[str, object] = {"type": kind, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _safehold_response(exc: SafeholdError) -> JSONResponse:
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    if isinstance(exc, AuthenticationError):
        headers["WWW-Authenticate"] = "Bearer"
    if exc.http_status >= 500:
        log.error("request failed: %s (%s)", exc.message, exc.code)
    return error_response(exc.http_status, exc.code, exc.message, headers=headers or None)


async def _safehold_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SafeholdError)
    return _safehold_response(exc)


async def _refuse_unauthorized(request: Request) -> JSONResponse | None:
    """401/403 for a request refused before its key was checked, else None."""
    try:
        await run_in_threadpool(authorize_before_validation, request)
    except SafeholdError as exc:
        return _safehold_response(exc)
    return None


def _is_json(content_type: str) -> bool:
    """Whether a ``Content-Type`` value is JSON (``application/json``, ``application/*+json``),
    as FastAPI decides it before parsing a body."""
    kind = content_type.partition(";")[0].strip().lower()
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


def _json_body_not_json(request: Request, exc: RequestValidationError) -> bool:
    """Whether the request failed because a JSON route's body came with another content type."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None:
        return False
    if _is_json(request.headers.get("content-type", "")):
        return False
    # "missing": no body at all (an empty one), which the usual 422 describes.
    body_errors = [e for e in exc.errors() if tuple(e.get("loc", ()))[:1] == ("body",)]
    if not any(e.get("type") != "missing" for e in body_errors):
        return False
    # A form route reads multipart bodies itself; only JSON bodies are read as bytes.
    return type(route.body_field.field_info).__name__ not in {"Form", "File"}


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    refused = await _refuse_unauthorized(request)
    if refused is not None:
        return refused
    if _json_body_not_json(request, exc):
        return error_response(
            415,
            "unsupported",
            "send the body as JSON with the header Content-Type: application/json",
        )
    details: list[dict[str, object]] = [
        {"loc": list(e.get("loc", ())), "message": str(e.get("msg", ""))} for e in exc.errors()
    ]
    first = details[0] if details else {"loc": [], "message": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])  # type: ignore[attr-defined]
    message = f"{where}: {first['message']}" if where else str(first["message"])
    return error_response(422, "invalid_input", message, details=details)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:  # a body FastAPI could not parse (e.g. broken multipart)
        refused = await _refuse_unauthorized(request)
        if refused is not None:
            return refused
    kind = _STATUS_TYPES.get(exc.status_code, "error")
    return error_response(
        exc.status_code, kind, str(exc.detail), headers=dict(exc.headers or {}) or None
    )


async def _database_error(_request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, DataError):
        return error_response(
            422, "invalid_input", "a value cannot be stored or compared by the database"
        )
    if isinstance(exc, IntegrityError):
        return error_response(409, "conflict", "the change clashes with existing data")
    log.error("database error handling a request: %s", type(exc).__name__)
    return error_response(503, "storage", "the database failed; try again")


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error handling a request", exc_info=exc)
    return error_response(500, "internal", "internal error; the server log has the details")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above on ``app``."""
    app.add_exception_handler(SafeholdError, _safehold_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
