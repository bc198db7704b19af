"""Poller survives failures; failure descriptions never quote a foreign message."""

from __future__ import annotations

import threading

import pytest

from safehold.errors import StorageError
from safehold.matching import polling
from safehold.matching.polling import Poller, describe_failure


def test_failures_are_retried_and_never_end_the_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(polling, "ERROR_RETRY_S", 0.001)
    calls: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def step() -> None:
        calls.append(1)
        if len(calls) <= 2:
            raise StorageError("database error: the server is restarting")
        if len(calls) == 4:
            done.set()

    poller = Poller(step, errors.append)
    poller.start(0.001)
    poller.start(0.001)  # a no-op while it runs
    assert done.wait(10)
    assert poller.running
    poller.stop()
    assert not poller.running
    assert [type(e) for e in errors] == [StorageError, StorageError]


def test_descriptions() -> None:
    assert describe_failure(StorageError("database error: gone")) == "storage: database error: gone"
    try:
        int("f8f8f0cee0f4a84f06370a22038f63f0", 10)
    except ValueError as exc:
        text = describe_failure(exc)
    assert text.startswith("unexpected ValueError at ")
    assert "f8f8" not in text
