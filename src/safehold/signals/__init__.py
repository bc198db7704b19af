"""Signal types: turn content into signals (hashes) and compare two signals.

Importing this package registers the built-in signal types (``md5``, ``sha256``, ``pdq``,
``vpdq``) in :data:`safehold.signals.base.SIGNAL_TYPES`.
"""

from safehold.signals import md5, pdq, sha256, vpdq  # noqa: F401  (registration side effect)
from safehold.signals.base import (
    SIGNAL_TYPES,
    Content,
    ContentType,
    HashOptions,
    Signal,
    SignalIndex,
    SignalType,
    get_signal_type,
)

__all__ = [
    "SIGNAL_TYPES",
    "Content",
    "ContentType",
    "HashOptions",
    "Signal",
    "SignalIndex",
    "SignalType",
    "get_signal_type",
]
