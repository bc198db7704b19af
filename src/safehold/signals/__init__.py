"""Signal types: turn content into signals (hashes) and compare two signals.

Importing this package registers the built-in signal types (``md5``, ``sha1``, ``sha256``, ``pdq``,
``vpdq``, ``url``) in :data:`safehold.signals.base.SIGNAL_TYPES`.
"""

from safehold.signals import (  # noqa: F401  (registration side effect)
    md5,
    pdq,
    sha1,
    sha256,
    url,
    vpdq,
)
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
