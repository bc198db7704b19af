"""Access-log redaction: uvicorn's access log without query strings.

Query strings carry what must never reach a log: HMA's lookup routes take hashes
(``/m/raw_lookup?signal=<hash>``, and a matching hash is a bank hash) and URLs
(``/m/lookup?url=...``, whose path or query may hold tokens). ``safehold serve`` installs
:class:`RedactQueryFilter` on uvicorn's access logger, so a line reads
``"GET /m/raw_lookup?<redacted> HTTP/1.1" 200``: the route and status stay for operators.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

#: Placeholder for a removed query string.
REDACTED = "?<redacted>"


def redact_query(path: str) -> str:
    """``path`` with its query string (if any) replaced by :data:`REDACTED`."""
    base, sep, _query = path.partition("?")
    return base + REDACTED if sep else base


class RedactQueryFilter(logging.Filter):
    """Replace the query string of uvicorn access-log records (``args[2]`` is the full path:
    ``(client, method, full_path, http_version, status)``, uvicorn's documented format)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's path; never drops a record."""
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_query(args[2]), *args[3:])
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's default logging configuration with :class:`RedactQueryFilter` on the access
    handler (pass as ``uvicorn.run(log_config=...)``)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_query"] = {"()": f"{__name__}.RedactQueryFilter"}
    config["handlers"]["access"].setdefault("filters", []).append("redact_query")
    return config
