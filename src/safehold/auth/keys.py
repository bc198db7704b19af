"""API keys: made once, shown once, stored only as a SHA-256 digest, revocable.

A key reads ``shk_<prefix>_<secret>``: ``prefix`` (8 random base-32 characters) is public and
names the key in listings and logs; ``secret`` is 32 random bytes (URL-safe base 64). The
database keeps only the SHA-256 digest of the whole key: a 256-bit random secret needs no slow
password hash (the practice of GitHub's and Stripe's tokens), and a look-up by digest is one
indexed query.

Verified keys are cached in process memory for at most ``cache_seconds`` (1 s by default), so
a revocation made through any worker takes effect everywhere within that time while a busy
service does not query the database on every request.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select, update

from safehold.auth.scopes import parse_scopes
from safehold.errors import AuthenticationError, InvalidInputError, NotFoundError
from safehold.storage.tables import NAME_LENGTH, api_keys, utcnow

KEY_PREFIX = "shk_"
#: Length of a key's public prefix: ``shk_`` and 8 base-32 characters (5 random bytes).
PREFIX_LENGTH = len(KEY_PREFIX) + 8
#: Largest key id (``api_keys.id`` is a 32-bit integer column).
MAX_KEY_ID = 2**31 - 1
#: How often ``last_used_at`` is written for a key in use (seconds).
LAST_USED_EVERY = 60.0


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key's public record (never the secret).

    Attributes:
        prefix: the public start of the key, ``shk_XXXXXXXX``.
        scopes: subset of ``admin curator matcher client peer``.
        rate_limit: requests per second, or None for the service default.
    """

    id: int
    name: str
    prefix: str
    scopes: frozenset[str]
    rate_limit: float | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        """Whether the key was revoked."""
        return self.revoked_at is not None


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """A new key: its record and the full secret key string, which is never shown again."""

    key: ApiKey
    secret: str


def digest(secret: str) -> bytes:
    """SHA-256 of the whole key string (UTF-8): what the database stores."""
    return hashlib.sha256(secret.encode("utf-8")).digest()


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _to_key(row: object) -> ApiKey:
    r = row._mapping  # type: ignore[attr-defined]
    return ApiKey(
        id=r["id"],
        name=r["name"],
        prefix=r["prefix"],
        scopes=frozenset(r["scopes"].split()),
        rate_limit=r["rate_limit"],
        created_at=_utc(r["created_at"]) or utcnow(),
        last_used_at=_utc(r["last_used_at"]),
        revoked_at=_utc(r["revoked_at"]),
    )


class KeyService:
    """Create, verify, list and revoke API keys in one database.

    Args:
        engine: an engine on a migrated database.
        cache_seconds: how long a verified key is trusted without asking the database.

    Every method may also raise :class:`~safehold.errors.StorageError`.
    """

    def __init__(self, engine: Engine, *, cache_seconds: float = 1.0) -> None:
        self.engine = engine
        self.cache_seconds = cache_seconds
        self._cache: dict[bytes, tuple[ApiKey | None, float]] = {}
        self._last_used: dict[int, float] = {}
        self._lock = threading.Lock()

    def create_key(
        self, name: str, scopes: Iterable[str] | str, *, rate_limit: float | None = None
    ) -> CreatedKey:
        """Make a key; the returned ``secret`` is the only time the key is seen.

        Raises:
            InvalidInputError: empty or over-long name, unknown scope, rate limit <= 0.
        """
        name = name.strip()
        if not name or len(name) > NAME_LENGTH:
            raise InvalidInputError(f"key name must be 1-{NAME_LENGTH} characters")
        scope_set = parse_scopes(scopes)
        if rate_limit is not None and not rate_limit > 0:
            raise InvalidInputError("rate limit must be a positive number of requests per second")
        prefix = KEY_PREFIX + base64.b32encode(secrets.token_bytes(5)).decode("ascii").lower()
        secret = f"{prefix}_{secrets.token_urlsafe(32)}"
        with self.engine.begin() as c:
            new_id = c.execute(
                insert(api_keys).values(
                    name=name,
                    prefix=prefix,
                    key_digest=digest(secret),
                    scopes=" ".join(sorted(scope_set)),
                    rate_limit=rate_limit,
                    created_at=utcnow(),
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            row = c.execute(select(api_keys).where(api_keys.c.id == new_id)).one()
        return CreatedKey(_to_key(row), secret)

    def authenticate(self, secret: str | None) -> ApiKey:
        """The live key whose secret is ``secret``.

        Raises:
            AuthenticationError: no key given, or unknown or revoked (one message for both,
                so a caller cannot tell a revoked key from a made-up one).
        """
        if not secret:
            raise AuthenticationError(
                "an API key is required: send `Authorization: Bearer <key>` or `X-API-Key`"
            )
        key_digest = digest(secret.strip())
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key_digest)
        if cached is not None and now - cached[1] < self.cache_seconds:
            key = cached[0]
        else:
            with self.engine.connect() as c:
                row = c.execute(select(api_keys).where(api_keys.c.key_digest == key_digest)).first()
            key = _to_key(row) if row is not None else None
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[key_digest] = (key, now)
        if key is None or key.revoked:
            raise AuthenticationError("the API key is not valid (unknown or revoked)")
        self._touch(key.id, now)
        return key

    def peek(self, secret: str | None) -> ApiKey | None:
        """The live key for ``secret`` when the answer needs no database access, else None.

        Never blocks on I/O, so an async caller can try it on the event loop and fall back to
        :meth:`authenticate` in a thread when it returns None (cache stale, key unknown or
        revoked, or ``last_used_at`` due to be written).
        """
        if not secret:
            return None
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest(secret.strip()))
            if cached is None or now - cached[1] >= self.cache_seconds:
                return None
            key = cached[0]
            if key is None or key.revoked:
                return None
            if now - self._last_used.get(key.id, -LAST_USED_EVERY) >= LAST_USED_EVERY:
                return None
        return key

    def _touch(self, key_id: int, now: float) -> None:
        """Write ``last_used_at`` at most once per :data:`LAST_USED_EVERY` per process."""
        with self._lock:
            if now - self._last_used.get(key_id, -LAST_USED_EVERY) < LAST_USED_EVERY:
                return
            self._last_used[key_id] = now
        with self.engine.begin() as c:
            c.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=utcnow()))

    def list_keys(self, *, include_revoked: bool = False) -> list[ApiKey]:
        """Every key, oldest first (revoked ones only when asked)."""
        query = select(api_keys).order_by(api_keys.c.id)
        if not include_revoked:
            query = query.where(api_keys.c.revoked_at.is_(None))
        with self.engine.connect() as c:
            return [_to_key(r) for r in c.execute(query)]

    def get_key(self, key_id: int) -> ApiKey:
        """The key with id ``key_id``.

        Raises:
            NotFoundError: no such key.
        """
        if not 1 <= key_id <= MAX_KEY_ID:  # out of the column's range: no such key
            raise NotFoundError(f"no API key with id {key_id}")
        with self.engine.connect() as c:
            row = c.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        if row is None:
            raise NotFoundError(f"no API key with id {key_id}")
        return _to_key(row)

    def find_key(self, id_or_prefix: str) -> ApiKey:
        """The key named by its id (``"3"``) or public prefix (``"shk_abcd1234"``).

        A whole key string is accepted too and named by its prefix (its secret part is not
        compared: use :meth:`authenticate` for that).

        Raises:
            NotFoundError: no such key.
        """
        text = id_or_prefix.strip()
        if text.isascii() and text.isdigit():
            return self.get_key(int(text))
        if text.lower().startswith(KEY_PREFIX) and len(text) > PREFIX_LENGTH:
            text = text[:PREFIX_LENGTH]  # a whole key was given: its public part names it
        with self.engine.connect() as c:
            row = c.execute(select(api_keys).where(api_keys.c.prefix == text.lower())).first()
        if row is None:
            raise NotFoundError(f"no API key {text!r} (give its id or its shk_ prefix)")
        return _to_key(row)

    def revoke(self, key_id: int) -> ApiKey:
        """Revoke a key (idempotent); every worker refuses it within ``cache_seconds``.

        Raises:
            NotFoundError: no such key.
        """
        key = self.get_key(key_id)
        if key.revoked:
            return key
        with self.engine.begin() as c:
            c.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=utcnow()))
        with self._lock:
            self._cache = {
                d: v for d, v in self._cache.items() if v[0] is None or v[0].id != key_id
            }
        return self.get_key(key_id)
