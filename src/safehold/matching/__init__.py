"""Matching for the HTTP service: a live matcher per worker process and content hashing.

* :class:`LiveMatcher` (:mod:`.live`): loads the PDQ index once, follows bank changes made by
  any process within a poll interval, matches signals or hash strings with the scan's
  threshold rules, and says the strongest bank action for untrusted callers.
* :func:`hash_upload` (:mod:`.hashing`): bytes or a file to signals with the scan's recipe.

Domain code: no FastAPI here (the routes are in ``safehold.api.routes.matching``).
"""

from safehold.matching.banks import ACTIONS, strongest_action
from safehold.matching.hashing import HashedContent, hash_upload
from safehold.matching.live import LiveMatcher
from safehold.matching.status import IndexStatus

__all__ = [
    "ACTIONS",
    "HashedContent",
    "IndexStatus",
    "LiveMatcher",
    "hash_upload",
    "strongest_action",
]
