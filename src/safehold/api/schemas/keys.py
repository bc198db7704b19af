"""Shapes of the API-key routes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from safehold.auth import ApiKey

Scope = Literal["admin", "curator", "matcher", "client"]


class KeyCreate(BaseModel):
    """A new key's name, scopes and optional rate limit (requests per second)."""

    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(min_length=1)
    rate_limit: float | None = Field(default=None, gt=0, le=1_000_000)


class KeyPublic(BaseModel):
    """A key's public record: never its secret."""

    id: int
    name: str
    prefix: str
    scopes: list[str]
    rate_limit: float | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> KeyPublic:
        """From the domain record."""
        return cls(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            scopes=sorted(key.scopes),
            rate_limit=key.rate_limit,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


class KeyCreated(KeyPublic):
    """A new key with its secret: shown in this response only, never again."""

    secret: str
