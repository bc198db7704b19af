"""API keys and per-key rate limits for the HTTP service (domain code: no FastAPI here)."""

from safehold.auth.keys import ApiKey, CreatedKey, KeyService
from safehold.auth.ratelimit import RateLimiter
from safehold.auth.scopes import SCOPES, TRUSTED_SCOPES, parse_scopes

__all__ = [
    "SCOPES",
    "TRUSTED_SCOPES",
    "ApiKey",
    "CreatedKey",
    "KeyService",
    "RateLimiter",
    "parse_scopes",
]
