"""Shapes shared by every area: the error body."""

from __future__ import annotations

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    """One reason a request was refused (``type`` is the stable code of ``safehold.errors``)."""

    type: str
    message: str
    details: list[dict[str, object]] | None = None


class ErrorBody(BaseModel):
    """Every 4xx/5xx body: ``{"error": {"type": ..., "message": ...}}``."""

    error: ErrorDetail


#: ``responses=`` for routes that need a key: documents the error bodies in OpenAPI.
AUTH_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "missing, unknown or revoked API key"},
    403: {"model": ErrorBody, "description": "the key's scopes do not allow this route"},
    429: {"model": ErrorBody, "description": "rate limit exceeded (see Retry-After)"},
}
