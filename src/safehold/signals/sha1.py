"""The ``sha1`` signal type: SHA-1 (FIPS 180-4) of the file's bytes, as lower-case hex.

SHA-1 is broken for collision resistance, but Project VIC (VICS ``SHA1``), the IWF hash list and
many forensic tools still exchange exact-match lists by it, so Safehold reads and computes it.
"""

from __future__ import annotations

from typing import ClassVar

from safehold.signals.base import SIGNAL_TYPES
from safehold.signals.exact import CryptographicSignalType


@SIGNAL_TYPES.register("sha1")
class Sha1SignalType(CryptographicSignalType):
    """SHA-1 of the whole file: 40 hex digits; matches byte-identical files only."""

    name: ClassVar[str] = "sha1"
    algorithm: ClassVar[str] = "sha1"
    hex_length: ClassVar[int] = 40
