"""The FastAPI application: routers, error mapping and the worker's start-up and shut-down.

``create_app(settings)`` is what tests use; ``create_app_from_env`` is the factory uvicorn
calls in each worker process of ``safehold serve`` (settings from ``SAFEHOLD_*``).

Start-up opens the database and refuses to start on an unmigrated server database
(:class:`~safehold.errors.DatabaseNotMigratedError`, with the ``safehold db upgrade`` hint); the
embedded SQLite default is created and migrated as everywhere else. The grooming settings are
checked (``api/conversation_engine.py``: a bad one is logged and keeps ``/readyz`` at 503;
``safehold serve`` refuses to start on it). The index then loads in a
background thread and follows the bank change log (``index_poll_seconds``); the webhook
deliverer runs in another thread, and the exchange fetcher (``exchange_fetcher``,
docs/exchanges.md) in a third. Shut-down stops them.

Two pure ASGI middlewares wrap every request: :class:`~safehold.api.metrics.
RequestMetricsMiddleware` (outermost: counts and times every response, refusals included) and
:class:`~safehold.api.body_limit.BodyLimitMiddleware` (413 for bodies over
``max_upload_bytes`` before they are read).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from safehold import __version__
from safehold.actions import start_deliverer
from safehold.api.body_limit import BodyLimitMiddleware
from safehold.api.errors import install_error_handlers
from safehold.api.metrics import RequestMetricsMiddleware
from safehold.api.routes import (
    actions,
    banks,
    conversations,
    entries,
    exchanges,
    federation,
    health,
    hma,
    index_status,
    keys,
    matching,
    metrics,
    streams,
    urls,
)
from safehold.api.state import ServiceState, stream_pool
from safehold.exchanges import start_exchange_fetcher
from safehold.livestreams.pool import start_monitor_pool
from safehold.settings import Settings, get_settings
from safehold.storage.engine import open_database

log = logging.getLogger(__name__)

#: Environment variable ``safehold serve`` sets for its workers: how many there are.
WORKERS_ENV = "SAFEHOLD_SERVE_WORKER_COUNT"

#: Paths whose request bodies are streamed to disk and not held to ``max_upload_bytes``
#: (bulk bank imports of millions of rows).
UNLIMITED_BODY_PATHS = (r"/v1/banks/[^/]+/import",)


def _load_index(state: ServiceState) -> None:
    """Load the index, then follow the change log until shut-down.

    A failed first load (database down, say) is logged and left to the polling thread, which
    loads before it refreshes and retries until it succeeds; ``/readyz`` stays 503 meanwhile.
    """
    try:
        state.matcher.load()
    except Exception:
        log.exception("the index failed to load; /readyz stays 503 while it is retried")
    if not state.stop.is_set():
        state.matcher.start_polling(state.settings.index_poll_seconds)


def create_app(
    settings: Settings | None = None, *, workers: int = 1, background: bool = True
) -> FastAPI:
    """Build the application.

    Args:
        settings: defaults to :func:`safehold.settings.get_settings`.
        workers: worker processes sharing the load (rate limits are divided by it).
        background: start the index loader and the webhook deliverer (tests of routes that
            need neither may pass False; the index is then loaded on first use).
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = open_database(settings)  # DatabaseNotMigratedError: refuse to start
        state = ServiceState.build(settings, engine, workers=workers)
        app.state.safehold = state
        # Bad grooming settings: logged, /readyz 503 and conversation routes 503 (``safehold
        # serve`` refuses to start on them before any worker runs).
        state.conversations.check()
        if background:
            loader = threading.Thread(
                target=_load_index, args=(state,), name="safehold-index", daemon=True
            )
            loader.start()
            state.threads.append(loader)
            state.threads.append(start_deliverer(state.actions, state.stop))
            if settings.stream_monitor_in_service:
                state.threads.append(start_monitor_pool(stream_pool(state), state.stop))
            if settings.exchange_fetcher:
                state.threads.append(
                    start_exchange_fetcher(state.exchanges, state.banks, state.stop)
                )
        try:
            yield
        finally:
            state.stop.set()
            # The loader thread first: it starts the matcher's polling unless ``stop`` is
            # set, so once it has ended no polling can start after the matcher is stopped.
            for thread in state.threads:
                thread.join(timeout=5)
            state.matcher.stop()
            engine.dispose()

    app = FastAPI(
        title="Safehold",
        version=__version__,
        summary="Match content against hash lists of known child sexual abuse material.",
        description=(
            "Every route except /healthz, /readyz, HMA's /status and the API reference "
            "(/docs, /redoc, /openapi.json) needs an API key "
            "(`Authorization: Bearer <key>` or `X-API-Key: <key>`). See docs/service.md."
        ),
        lifespan=lifespan,
    )
    install_error_handlers(app)
    # Added last = outermost: the metrics see every response, 413s included.
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_upload_bytes, exempt=UNLIMITED_BODY_PATHS
    )
    app.add_middleware(RequestMetricsMiddleware)
    for module in (health, keys, metrics, matching, index_status, banks, entries, actions, hma):
        app.include_router(module.router)
    app.include_router(conversations.router)
    app.include_router(urls.router)
    app.include_router(exchanges.router)
    app.include_router(federation.router)
    app.include_router(streams.router)
    return app


def create_app_from_env() -> FastAPI:
    """The factory uvicorn calls in each ``safehold serve`` worker (:data:`WORKERS_ENV`)."""
    try:
        workers = max(1, int(os.environ.get(WORKERS_ENV, "1")))
    except ValueError:
        workers = 1
    return create_app(workers=workers)
