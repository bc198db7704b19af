"""Refuse request bodies over ``max_upload_bytes`` before reading them (413).

A request whose ``Content-Length`` is over the limit is answered 413 at once, before the body is
read or the key is checked (nothing is spent on it). A body sent without a length (chunked) is
counted as it arrives and refused as soon as it passes the limit. Routes that stream large bodies
to disk on purpose (bulk bank imports) are exempted by the app.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from safehold.api.errors import error_response


def _too_large(limit: int) -> str:
    return f"the request body is over the limit of {limit:,} bytes (SAFEHOLD_MAX_UPLOAD_BYTES)"


class BodyLimitMiddleware:
    """Pure ASGI middleware enforcing a request body limit.

    Args:
        app: the wrapped application.
        max_bytes: the largest body accepted (bytes).
        exempt: paths (regular expressions, matched in full) whose bodies are not limited.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._exempt: Callable[[str], re.Match[str] | None] | None = (
            re.compile("|".join(f"(?:{p})" for p in exempt)).fullmatch if exempt else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 413 for a declared length over the limit; else count the body as it comes."""
        if scope["type"] != "http" or (self._exempt and self._exempt(scope["path"])):
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None and length > self.max_bytes:
            response = error_response(413, "too_large", _too_large(self.max_bytes))
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # FastAPI re-raises HTTPException from body parsing; the app's handler
                    # turns it into the JSON 413.
                    raise HTTPException(413, _too_large(self.max_bytes))
            return message

        await self.app(scope, counting_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
