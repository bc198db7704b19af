"""Errors of the index package, in Safehold's exception tree (``safehold.errors``).

``SnapshotError`` tells the caller to rebuild the index from storage: a snapshot that fails
any check is never used. ``IndexNotReadyError`` is what a service answers while its index is
(re)building, so that a missing index never reads as "no match".
"""

from __future__ import annotations

from safehold.errors import SafeholdError, StorageError


class SnapshotError(StorageError):
    """An index snapshot is missing, corrupt, truncated, of another version, or stale.

    Attributes:
        reason: a short machine-readable cause (``missing``, ``magic``, ``version``,
            ``header``, ``truncated``, ``checksum``, ``mismatch``, ``stale``).
    """

    code = "snapshot"

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class IndexNotReadyError(SafeholdError):
    """The index is not loaded yet (or failed to load and is being rebuilt); retry later."""

    code = "index_not_ready"
    http_status = 503
