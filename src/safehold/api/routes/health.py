"""Liveness and readiness, the only routes that need no API key.

``/healthz`` says the process answers; ``/readyz`` says it can match: the database answers and
the index is loaded (503 until then, so a load balancer keeps traffic away from a worker that
would otherwise answer "no match" for lack of an index), and conversations can be scored (503
while the grooming settings are known to be bad: ``api/conversation_engine.py``).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from safehold.api.deps import StateDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    """Always ``{"status": "ok"}`` while the worker runs."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the database answers and the index is loaded",
    responses={503: {"description": "not ready; the body says why"}},
)
def readyz(state: StateDep) -> JSONResponse:
    """200 ``{"status": "ready", ...}`` or 503 ``{"status": "not_ready", "reason": ...}``."""
    try:
        with state.engine.connect() as c:
            c.execute(text("SELECT 1"))
    except Exception:  # any database failure means not ready
        return JSONResponse({"status": "not_ready", "reason": "database unreachable"}, 503)
    status = state.matcher.status()
    if not status.ready:
        reason = "index loading" if status.last_error is None else "index failed to load"
        return JSONResponse({"status": "not_ready", "reason": reason}, 503)
    if state.conversations.error is not None:  # the reason (paths) is in the log only
        reason = "conversations cannot be scored: grooming settings invalid"
        return JSONResponse({"status": "not_ready", "reason": reason}, 503)
    return JSONResponse({"status": "ready", "change_seq": status.change_seq})
