"""What one service worker process keeps between requests.

Each uvicorn worker builds one :class:`ServiceState` at start-up (``app.create_app``'s
lifespan) and keeps it on ``app.state.safehold``. The matcher's index loads in a background
thread (``/readyz`` answers 503 until it is ready) and then follows the bank change log; the
webhook deliverer runs in another thread. The grooming engine (``conversations``) is built on
the first conversation request. Match events are recorded through
:class:`~safehold.api.metrics.CountingActionService`, which also counts them for ``/metrics``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import Engine

from safehold.actions import ActionService
from safehold.api.conversation_engine import ConversationEngine
from safehold.api.metrics import CountingActionService
from safehold.auth import KeyService, RateLimiter
from safehold.banks.service import BankService
from safehold.exchanges import ExchangeService
from safehold.fetching import UrlFetcher
from safehold.livestreams.alerts import AlertRecorder
from safehold.livestreams.pool import MonitorPool
from safehold.livestreams.store import StreamStore
from safehold.matching import LiveMatcher
from safehold.settings import Settings


@dataclass(eq=False)
class ServiceState:
    """The services a worker's requests share.

    Attributes:
        workers: worker processes of this server (rate limits are split between them).
        stop: set at shutdown; background threads watch it.
    """

    settings: Settings
    engine: Engine
    banks: BankService
    keys: KeyService
    limiter: RateLimiter
    matcher: LiveMatcher
    actions: ActionService
    fetcher: UrlFetcher
    exchanges: ExchangeService
    streams: StreamStore
    conversations: ConversationEngine
    workers: int = 1
    started_at: float = field(default_factory=time.time)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings, engine: Engine, *, workers: int = 1) -> ServiceState:
        """Make every service on ``engine`` (nothing is loaded yet)."""
        banks = BankService(engine)
        return cls(
            settings=settings,
            engine=engine,
            banks=banks,
            keys=KeyService(engine),
            limiter=RateLimiter(settings.api_rate_limit, settings.api_rate_burst),
            matcher=LiveMatcher(banks, settings, index_dir=settings.data_dir / "index"),
            actions=CountingActionService(engine, settings),
            fetcher=UrlFetcher(settings),
            exchanges=ExchangeService(engine, settings),
            streams=StreamStore(engine),
            conversations=ConversationEngine(settings, engine),
            workers=workers,
        )


def stream_pool(state: ServiceState) -> MonitorPool:
    """A live-stream monitor pool on the worker's matcher, actions and stream tables."""
    recorder = AlertRecorder(state.actions, state.streams, state.settings)
    return MonitorPool(state.streams, recorder, state.matcher.match, state.settings)
