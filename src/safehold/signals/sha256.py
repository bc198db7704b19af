"""The ``sha256`` signal type: SHA-256 (FIPS 180-4) of the file's bytes, as lower-case hex."""

from __future__ import annotations

from typing import ClassVar

from safehold.signals.base import SIGNAL_TYPES
from safehold.signals.exact import CryptographicSignalType


@SIGNAL_TYPES.register("sha256")
class Sha256SignalType(CryptographicSignalType):
    """SHA-256 of the whole file: 64 hex digits; matches byte-identical files only."""

    name: ClassVar[str] = "sha256"
    algorithm: ClassVar[str] = "sha256"
    hex_length: ClassVar[int] = 64
