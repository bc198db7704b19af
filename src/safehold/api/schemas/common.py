"""Shapes shared by every area: the error body."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    """One reason a request was refused (``type`` is the stable code of ``safehold.errors``).

    ``details`` (validation errors: the failing fields) is left out of the JSON when there are
    none, never sent as ``null``.
    """

    type: str
    message: str
    details: list[dict[str, object]] | None = Field(
        default=None, exclude_if=lambda value: value is None
    )


class ErrorBody(BaseModel):
    """Every 4xx/5xx body: ``{"error": {"type": ..., "message": ...}}``."""

    error: ErrorDetail


#: ``responses=`` for routes that need a key: documents the error bodies in OpenAPI.
AUTH_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "missing, unknown or revoked API key"},
    403: {"model": ErrorBody, "description": "the key's scopes do not allow this route"},
    429: {"model": ErrorBody, "description": "rate limit exceeded (see Retry-After)"},
}

_DESCRIPTIONS = {
    400: "a body that cannot be parsed (multipart without a boundary, two file parts)",
    404: "no such bank, entry or other named item",
    409: "the name or value is taken",
    413: "the body or content is over a size, pixel or duration bound",
    415: "a content type the route does not read (JSON routes need application/json)",
    422: "bad input, or content that cannot be hashed",
    502: "the URL could not be fetched",
    503: "the index is not loaded yet, or the database failed",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """``responses=`` documenting the error bodies of ``statuses`` (keys of a fixed table of
    descriptions: 400, 404, 409, 413, 415, 422, 502, 503) in OpenAPI.

    Raises:
        KeyError: a status without a description here.
    """
    return {s: {"model": ErrorBody, "description": _DESCRIPTIONS[s]} for s in statuses}
