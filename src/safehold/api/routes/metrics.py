"""``GET /metrics``: Prometheus metrics for operators (admin, curator or matcher key).

The metrics themselves are defined in :mod:`safehold.api.metrics`. Like every route but the
health checks it needs a key: configure the scraper with ``authorization: {credentials: <key>}``
(Bearer) in its ``scrape_config``.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from safehold.api import metrics
from safehold.api.deps import ReaderKey, StateDep
from safehold.api.schemas.common import AUTH_RESPONSES

router = APIRouter(tags=["metrics"], responses=AUTH_RESPONSES)


@router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "the metrics"}},
)
def get_metrics(state: StateDep, _key: ReaderKey) -> Response:
    """Requests, latency, match events, index state and outbox backlog (docs/service.md)."""
    body, content_type = metrics.render(state)
    return Response(content=body, media_type=content_type)
