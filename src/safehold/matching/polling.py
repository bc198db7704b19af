"""The daemon thread that keeps a live matcher current, and how its failures are described.

:class:`Poller` calls one function every ``interval_s`` seconds until stopped; an exception
is handed to ``on_error`` and the call is retried after :data:`ERROR_RETRY_S` seconds, so a
database restart never ends the thread. :func:`describe_failure` turns an exception into a
line safe to log and to show in ``GET /v1/index/status``: Safehold's own messages carry no
hash values by design; any other exception's message could quote a value, so only its type
and the place it was raised are given.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from safehold.errors import SafeholdError

#: Seconds between tries after a failed one (the database is down or restarting).
ERROR_RETRY_S = 2.0


def describe_failure(exc: BaseException) -> str:
    """``"storage: database error: ..."`` for Safehold errors, else type and place only."""
    if isinstance(exc, SafeholdError):
        return f"{exc.code}: {exc.message}"
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = f" at {tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else ""
    return f"unexpected {type(exc).__name__}{where}"


class Poller:
    """Run ``step`` now and then every ``interval_s`` seconds in a daemon thread.

    Args:
        step: the work of one poll; its exceptions go to ``on_error``.
        on_error: called with each exception (it must not raise).
        name: the thread's name.
    """

    def __init__(
        self,
        step: Callable[[], object],
        on_error: Callable[[BaseException], None],
        *,
        name: str = "safehold-index-poll",
    ) -> None:
        self.step = step
        self.on_error = on_error
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # start and stop may race (start-up vs shut-down)

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, interval_s: float) -> None:
        """Start the thread (a no-op while it runs)."""
        with self._lock:
            if self.running:
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(interval_s, self._stop), name=self.name, daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to end and wait up to ``timeout`` seconds for it."""
        with self._lock:
            self._stop.set()
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self, interval_s: float, stop: threading.Event) -> None:
        delay = 0.0
        while not stop.wait(delay):
            try:
                self.step()
                delay = interval_s
            except Exception as exc:  # the thread must survive any failure
                self.on_error(exc)
                delay = max(interval_s, ERROR_RETRY_S)
