"""The bulk loader's read-ahead thread: order, errors in order, and never a hang on stop."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator

import pytest

from safehold.banks.bulk_load import read_ahead


def test_items_arrive_in_order_and_an_error_after_them() -> None:
    def items() -> Iterator[int]:
        yield from range(5)
        raise ValueError("broken input")

    got: list[int] = []
    with pytest.raises(ValueError, match="broken input"):
        got.extend(read_ahead(items(), depth=2))
    assert got == [0, 1, 2, 3, 4]


def test_stopping_early_never_waits_for_a_blocked_reader() -> None:
    release = threading.Event()

    def items() -> Iterator[int]:
        yield 1
        release.wait(10)  # a reader blocked on a pipe that sends nothing more
        yield from itertools.count(2)

    started = time.monotonic()
    reader = read_ahead(items(), depth=1)
    assert next(reader) == 1
    reader.close()  # the caller stops (a database error, say)
    assert time.monotonic() - started < 5
    release.set()
