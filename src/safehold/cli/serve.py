"""``safehold serve``: run the HTTP service (uvicorn, several worker processes).

The database is checked first, so an unmigrated PostgreSQL database gives the usual
``error: ... run `safehold db upgrade``` line and exit status 2 instead of a failing worker;
so do grooming settings that could not score a conversation
(:func:`safehold.api.conversation_engine.check_grooming_settings`: an unknown detector, a
model file that is missing or not a classifier).
Each worker builds the app with :func:`safehold.api.app.create_app_from_env` and learns the
number of workers from :data:`safehold.api.app.WORKERS_ENV` (rate limits are split between
them). ``PROMETHEUS_MULTIPROC_DIR`` points at a fresh temporary folder for the life of the
server, so ``/metrics`` on any worker adds up the counters of all of them.

Heavy modules (the app, prometheus_client) are imported only after the environment is set:
prometheus_client decides at import whether it writes to ``PROMETHEUS_MULTIPROC_DIR``.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from types import FrameType

import typer

from safehold.cli.common import display_text, handle_errors, load_settings
from safehold.errors import InvalidInputError
from safehold.settings import Settings
from safehold.storage.engine import open_database

#: Environment variable prometheus_client reads for its multiprocess mode.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
APP_FACTORY = "safehold.api.app:create_app_from_env"
#: :data:`safehold.api.app.WORKERS_ENV`, repeated so this module need not import the app
#: (``tests/cli/test_serve.py`` checks that the two agree).
WORKERS_ENV = "SAFEHOLD_SERVE_WORKER_COUNT"


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}"


def _stop(signum: int, frame: FrameType | None) -> None:
    """SIGTERM after uvicorn's graceful shutdown: leave through ``finally`` with status 0.

    A single-process uvicorn re-raises the signal it caught once it has shut down, to give the
    previous handler its turn; the default handler would kill the process before the metrics
    folder is removed.
    """
    raise SystemExit(0)


def _check_database(settings: Settings) -> int:
    """Open (and for SQLite create) the database; return the number of live API keys.

    Raises:
        DatabaseNotMigratedError: a server database needs ``safehold db upgrade``.
        StorageError: the database cannot be reached.
    """
    from safehold.auth import KeyService

    engine = open_database(settings)
    try:
        return len(KeyService(engine).list_keys())
    finally:
        engine.dispose()


def _check_grooming(settings: Settings) -> None:
    """Refuse grooming settings with which no conversation could be scored.

    Raises:
        GroomingSettingsError: naming the ``SAFEHOLD_GROOMING_*`` setting at fault.
    """
    from safehold.api.conversation_engine import check_grooming_settings

    check_grooming_settings(settings)


def serve(
    host: str | None = typer.Option(
        None, "--host", help="Address to listen on [default: SAFEHOLD_SERVE_HOST, 127.0.0.1]."
    ),
    port: int | None = typer.Option(
        None, "--port", help="TCP port [default: SAFEHOLD_SERVE_PORT, 8000].", min=1, max=65535
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        help="Worker processes [default: SAFEHOLD_SERVE_WORKERS, 2].",
        min=1,
        max=64,
    ),
    access_log: bool = typer.Option(
        True, "--access-log/--no-access-log", help="Log one line per request to stdout."
    ),
) -> None:
    """Run the HTTP service: matching, banks, keys, metrics (see docs/service.md).

    Stops cleanly on Ctrl-C or SIGTERM. Exit status: 0 after a clean stop; 2 when the
    database cannot be used (e.g. PostgreSQL needs `safehold db upgrade`) or a
    SAFEHOLD_GROOMING_* setting is unusable (unknown detector, unreadable model file).
    """
    with handle_errors():
        settings = load_settings()
        if host is not None and not host.strip():
            raise InvalidInputError("--host must not be empty")
        live_keys = _check_database(settings)
        _check_grooming(settings)
    host = host or settings.serve_host
    port = port or settings.serve_port
    workers = workers or settings.serve_workers

    typer.echo(
        f"Safehold serving on {display_text(_url(host, port), markup=False)} "
        f"({workers} worker{'s' if workers != 1 else ''}); API docs at /docs; Ctrl-C stops it",
        err=True,
    )
    if live_keys == 0:
        typer.echo(
            "No API key exists yet: every route except /healthz and /readyz needs one. Create "
            "the first with:\n    safehold key create admin --scope admin",
            err=True,
        )
    metrics_dir = tempfile.mkdtemp(prefix="safehold-metrics-")
    previous = {name: os.environ.get(name) for name in (MULTIPROC_ENV, WORKERS_ENV)}
    os.environ[MULTIPROC_ENV] = metrics_dir
    os.environ[WORKERS_ENV] = str(workers)
    previous_handler = signal.signal(signal.SIGTERM, _stop)
    try:
        import uvicorn

        from safehold.api.access_log import log_config

        uvicorn.run(
            APP_FACTORY,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=access_log,
            log_config=log_config(),  # query strings (hashes, URLs) never reach the log
            timeout_graceful_shutdown=10,
        )
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(metrics_dir, ignore_errors=True)
