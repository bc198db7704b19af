"""Per-file errors only a scan can meet, as leaves of the :mod:`safehold.errors` tree.

::

    ContentError                    code=content_error
    ├── UnreadableContentError      code=unreadable   permission denied, I/O error, not a file
    └── WorkerCrashedError          code=crashed      the worker hashing the file died

They are defined here (not in ``errors.py``) because nothing outside scanning raises them; the
codes are part of the scan record format documented in ``docs/scanning.md``.
"""

from __future__ import annotations

from safehold.errors import ContentError


class UnreadableContentError(ContentError):
    """The path cannot be read: permission denied, an I/O error, or not a regular file."""

    code = "unreadable"


class WorkerCrashedError(ContentError):
    """The worker process hashing the file died (a decoder crash or the kernel's OOM killer)."""

    code = "crashed"
