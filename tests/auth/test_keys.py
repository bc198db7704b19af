"""KeyService on real SQLite and PostgreSQL: keys are stored as digests, verified, revoked."""

from __future__ import annotations

import hashlib
import time

import pytest
from sqlalchemy import Engine, select

from safehold.auth import KeyService
from safehold.auth.keys import KEY_PREFIX, PREFIX_LENGTH
from safehold.errors import AuthenticationError, InvalidInputError, NotFoundError
from safehold.storage.tables import api_keys


def test_create_stores_only_the_digest(engine: Engine) -> None:
    service = KeyService(engine)
    created = service.create_key("ingest pipeline", ["matcher", "client"], rate_limit=50)
    secret = created.secret
    assert secret.startswith(created.key.prefix + "_")
    assert created.key.prefix.startswith(KEY_PREFIX)
    assert len(created.key.prefix) == PREFIX_LENGTH
    assert len(secret) > 40
    with engine.connect() as c:
        row = c.execute(select(api_keys).where(api_keys.c.id == created.key.id)).one()
    assert bytes(row.key_digest) == hashlib.sha256(secret.encode()).digest()
    assert secret not in " ".join(str(v) for v in row)  # the secret itself is nowhere in the row
    secret_part = secret.removeprefix(created.key.prefix + "_")
    assert all(secret_part not in str(v) for v in row)
    assert row.scopes == "client matcher"
    assert row.rate_limit == 50
    assert created.key.scopes == frozenset({"matcher", "client"})


def test_authenticate_and_revoke(engine: Engine) -> None:
    service = KeyService(engine)
    created = service.create_key("admin", "admin")
    key = service.authenticate(created.secret)
    assert key.id == created.key.id
    assert key.scopes == frozenset({"admin"})
    assert service.authenticate(f"  {created.secret} ").id == key.id  # stray whitespace
    with pytest.raises(AuthenticationError, match="required"):
        service.authenticate(None)
    with pytest.raises(AuthenticationError, match="not valid"):
        service.authenticate(created.secret + "x")
    revoked = service.revoke(key.id)
    assert revoked.revoked
    assert revoked.revoked_at is not None
    with pytest.raises(AuthenticationError, match="not valid"):
        service.authenticate(created.secret)
    assert service.revoke(key.id).revoked_at == revoked.revoked_at  # idempotent


def test_revocation_by_another_process_applies_within_the_cache_time(engine: Engine) -> None:
    worker = KeyService(engine)  # a service worker
    cli = KeyService(engine)  # `safehold key revoke` in another process
    created = cli.create_key("short-lived", "matcher")
    assert worker.authenticate(created.secret).id == created.key.id  # now cached
    revoked_at = time.monotonic()
    cli.revoke(created.key.id)
    while True:
        try:
            worker.authenticate(created.secret)
        except AuthenticationError:
            break
        assert time.monotonic() - revoked_at <= worker.cache_seconds + 0.5
        time.sleep(0.02)


def test_last_used_is_recorded(engine: Engine) -> None:
    service = KeyService(engine)
    created = service.create_key("reader", "curator")
    assert service.get_key(created.key.id).last_used_at is None
    service.authenticate(created.secret)
    used = service.get_key(created.key.id).last_used_at
    assert used is not None
    assert used >= created.key.created_at


def test_list_find_and_errors(engine: Engine) -> None:
    service = KeyService(engine)
    first = service.create_key("first", "admin").key
    second = service.create_key("second", ["curator"]).key
    service.revoke(first.id)
    live_ids = [k.id for k in service.list_keys()]
    assert second.id in live_ids
    assert first.id not in live_ids
    all_ids = [k.id for k in service.list_keys(include_revoked=True)]
    assert all_ids.index(first.id) < all_ids.index(second.id)  # oldest first
    assert service.find_key(str(second.id)).id == second.id
    assert service.find_key(second.prefix.upper()).id == second.id
    assert service.find_key(second.prefix + "_whatever-follows").id == second.id
    with pytest.raises(NotFoundError):
        service.find_key("shk_zzzzzzzz")
    with pytest.raises(NotFoundError):
        service.get_key(10**9)
    with pytest.raises(NotFoundError):
        service.revoke(10**9)
    with pytest.raises(InvalidInputError, match="scope"):
        service.create_key("x", ["root"])
    with pytest.raises(InvalidInputError, match="at least one scope"):
        service.create_key("x", [])
    with pytest.raises(InvalidInputError, match="name"):
        service.create_key("  ", "admin")
    with pytest.raises(InvalidInputError, match="rate limit"):
        service.create_key("x", "admin", rate_limit=0)
