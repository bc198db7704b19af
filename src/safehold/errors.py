"""One exception tree for all of Safehold.

Every error Safehold raises on purpose derives from :class:`SafeholdError`. Each class carries a
stable ``code`` (used in JSON output and API error bodies) and the HTTP status the service maps it
to, so callers can branch on type, not on message text::

    SafeholdError                  code=error          500
    ├── ConfigurationError         code=configuration  503
    ├── AuthenticationError        code=unauthenticated 401  missing, unknown or revoked API key
    ├── PermissionDeniedError      code=forbidden      403   the key's scopes do not allow the route
    ├── RateLimitedError           code=rate_limited   429   carries ``retry_after`` (seconds)
    ├── NotFoundError              code=not_found      404
    ├── ConflictError              code=conflict       409
    ├── InvalidInputError          code=invalid_input  422
    │   ├── InvalidSignalError     code=invalid_signal 422   a hash string that does not parse
    │   ├── FormatError            code=format_error   422   a bank file row that does not parse
    │   └── UnsafeUrlError         code=unsafe_url     422   a URL fetch refused (scheme, address)
    ├── FetchError                 code=fetch_failed   502   a URL fetch failed upstream
    ├── ContentError               code=content_error  422   a media file that cannot be hashed
    │   ├── UnsupportedContentError code=unsupported   415
    │   ├── CorruptContentError    code=corrupt        422
    │   ├── EmptyContentError      code=empty          422
    │   ├── ContentTooLargeError   code=too_large      413   decompression bombs, huge dimensions
    │   └── ContentTimeoutError    code=timeout        422   hashing ran past its time bound
    └── StorageError               code=storage        503
        └── DatabaseNotMigratedError code=not_migrated 503

Messages never contain bank hashes: hash lists are confidential.
"""

from __future__ import annotations


class SafeholdError(Exception):
    """Base of every deliberate Safehold error."""

    code: str = "error"
    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        """Return ``{"type": code, "message": message}`` for JSON output."""
        return {"type": self.code, "message": self.message}


class ConfigurationError(SafeholdError):
    """A setting is missing, malformed or unsafe.

    In the HTTP service this is the server's fault, not the caller's, and the caller cannot fix
    it: 503 with the reason (for example a federation key file that does not parse).
    """

    code = "configuration"
    http_status = 503


class NotFoundError(SafeholdError):
    """A named bank, entry or file does not exist."""

    code = "not_found"
    http_status = 404


class ConflictError(SafeholdError):
    """The request clashes with existing state (e.g. a bank name already taken)."""

    code = "conflict"
    http_status = 409


class InvalidInputError(SafeholdError):
    """A caller-supplied value is malformed."""

    code = "invalid_input"
    http_status = 422


class InvalidSignalError(InvalidInputError):
    """A hash string does not parse for its signal type."""

    code = "invalid_signal"


class FormatError(InvalidInputError):
    """A row of a bank file does not parse; ``line`` is 1-based when known."""

    code = "format_error"

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message if line is None else f"line {line}: {message}")
        self.line = line


class UnsafeUrlError(InvalidInputError):
    """A URL to fetch is refused: not http(s), or it resolves to a non-public address."""

    code = "unsafe_url"


class FetchError(SafeholdError):
    """Fetching a URL failed upstream (connection, status, size or time limit)."""

    code = "fetch_failed"
    http_status = 502


class AuthenticationError(SafeholdError):
    """No API key, or an unknown or revoked one."""

    code = "unauthenticated"
    http_status = 401


class PermissionDeniedError(SafeholdError):
    """The API key is valid but its scopes do not allow this route."""

    code = "forbidden"
    http_status = 403


class RateLimitedError(SafeholdError):
    """The API key used up its request budget; retry after ``retry_after`` seconds."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ContentError(SafeholdError):
    """A media file cannot be hashed."""

    code = "content_error"
    http_status = 422


class UnsupportedContentError(ContentError):
    """The file is not a format any signal type handles."""

    code = "unsupported"
    http_status = 415


class CorruptContentError(ContentError):
    """The file claims a supported format but cannot be decoded."""

    code = "corrupt"


class EmptyContentError(ContentError):
    """The file has zero bytes, or a video has no decodable frames."""

    code = "empty"


class ContentTooLargeError(ContentError):
    """The file exceeds a size, pixel-count or duration bound (decompression bombs included)."""

    code = "too_large"
    http_status = 413


class ContentTimeoutError(ContentError):
    """Hashing the file ran past its time bound."""

    code = "timeout"


class StorageError(SafeholdError):
    """The database cannot be reached or used."""

    code = "storage"
    http_status = 503


class DatabaseNotMigratedError(StorageError):
    """The database schema is older than this code; run ``safehold db upgrade``."""

    code = "not_migrated"
