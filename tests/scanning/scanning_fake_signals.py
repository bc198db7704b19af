"""Fake signal types for worker-pool tests, imported only inside worker processes.

Not a test module and not fixtures: a plug-in module that tests name in
``WorkerConfig.plugin_modules`` (tests/scanning is on ``sys.path`` under pytest, and worker
processes inherit it). It is never imported in the pytest process, so the fake type never
joins the registry that other tests see.

``test-behave`` hashes photos and videos by file name prefix:

- ``sleep-*``: sleeps for a minute (the per-file timeout must stop it), unless a file
  ``release`` lies beside it (so a test can let a re-run pass);
- ``crash-*``: the worker kills itself with SIGSEGV (a decoder crash);
- ``hog-*``: allocates 8 GiB (the worker memory bound must turn it into ``MemoryError``);
- ``boom-*``: raises an unexpected ``RuntimeError``;
- ``eagain-*``: fails as a video decoder does when it cannot start a thread under the memory
  bound (``EAGAIN``, wrapped in ``CorruptContentError`` with ``from None``);
- anything else: returns the file name as the signal value.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from collections.abc import Sequence

from safehold.errors import CorruptContentError
from safehold.signals.base import (
    SIGNAL_TYPES,
    Content,
    ContentType,
    Signal,
    SignalIndex,
    SignalType,
)


@SIGNAL_TYPES.register("test-behave")
class BehaveSignal(SignalType):
    """Misbehaves on purpose, by file name."""

    name = "test-behave"
    content_types = frozenset({ContentType.PHOTO, ContentType.VIDEO})

    @classmethod
    def validate_signal(cls, value: str) -> str:
        return value

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        return int(a != b)

    @classmethod
    def build_index(cls, entries: Sequence[tuple[int, str]]) -> SignalIndex:
        raise NotImplementedError

    def _compute(self, content: Content) -> Signal:
        name = content.path.name
        if name.startswith("sleep-"):
            if not content.path.with_name("release").exists():
                time.sleep(60)
        elif name.startswith("crash-"):
            os.kill(os.getpid(), signal.SIGSEGV)
        elif name.startswith("hog-"):
            hog = bytearray(8 * 1024**3)
            return Signal(self.name, str(len(hog)))
        elif name.startswith("boom-"):
            raise RuntimeError("boom")
        elif name.startswith("eagain-"):
            try:
                raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
            except OSError:
                raise CorruptContentError(
                    "corrupt video: Resource temporarily unavailable"
                ) from None
        return Signal(self.name, name)
