"""The ``md5`` signal type: MD5 (RFC 1321) of the file's bytes, as lower-case hex.

MD5 is broken for collision resistance, but it is still how NCMEC, Project VIC and many
platforms exchange exact-match lists, so Safehold reads and computes it.
"""

from __future__ import annotations

from typing import ClassVar

from safehold.signals.base import SIGNAL_TYPES
from safehold.signals.exact import CryptographicSignalType


@SIGNAL_TYPES.register("md5")
class Md5SignalType(CryptographicSignalType):
    """MD5 of the whole file: 32 hex digits; matches byte-identical files only."""

    name: ClassVar[str] = "md5"
    algorithm: ClassVar[str] = "md5"
    hex_length: ClassVar[int] = 32
    article: ClassVar[str] = "an"  # "an md5 hash": said "em-dee-five"
