"""``GET /v1/index/status``: this worker's match index (admin, curator and matcher keys).

Each worker process holds its own index, so the answer describes the worker that served the
request: loaded or not, the bank change it reflects, entries per signal type, whether it came
from its snapshot or was rebuilt, how long since it last caught up, and the last load/refresh
failure. Counts only: no bank names, no hashes. It never queries the database.
"""

from __future__ import annotations

from fastapi import APIRouter

from safehold.api.deps import ReaderKey, StateDep
from safehold.api.schemas.common import AUTH_RESPONSES
from safehold.api.schemas.matching import IndexStatusPublic

router = APIRouter(prefix="/v1/index", tags=["matching"], responses=AUTH_RESPONSES)


@router.get("/status", summary="This worker's match index")
def index_status(state: StateDep, _key: ReaderKey) -> IndexStatusPublic:
    """Readiness, change sequence, entry counts by signal type, origin, freshness, last error."""
    return IndexStatusPublic.of(state.matcher.status())
