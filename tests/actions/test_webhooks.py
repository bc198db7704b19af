"""Webhook delivery through the outbox, against a real loopback receiver, on SQLite and
PostgreSQL: signatures, retries with backoff, dead letters, competing deliverers, and a
deliverer killed mid-delivery (the delivery happens exactly once after restart)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from safehold.actions import ActionService, Deliverer, verify_signature
from safehold.actions.webhooks import backoff_delay
from safehold.scanning.records import MatchInfo
from safehold.settings import Settings
from safehold.storage.tables import outbox, utcnow

BANK = "Known-Hashes"
ENTRY_VALUE = hashlib.sha256(b"benign test content").hexdigest()  # as in conftest.py


def _record(actions: ActionService, entry_id: int, ref: str = "upload-1") -> int:
    (event_id,) = actions.record_matches(
        [MatchInfo(BANK, entry_id, "sha256", 0, "vics:1", "test")],
        content_ref=ref,
        origin="api",
        api_key_id=None,
    )
    return event_id


def _rows(engine: Engine) -> list[Any]:
    with engine.connect() as c:
        return list(c.execute(select(outbox).order_by(outbox.c.id)))


def _wait_for(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_backoff_delay_bounds() -> None:
    for attempts, ceiling in [(1, 2.0), (2, 4.0), (5, 32.0), (12, 3600.0), (500, 3600.0)]:
        for _ in range(50):
            assert ceiling / 2 <= backoff_delay(attempts, 2.0) <= ceiling


def test_a_delivery_is_signed_and_marked_delivered(
    actions: ActionService, engine: Engine, entry_id: int, receiver: Any, clock: Any
) -> None:
    _action, secret = actions.create_action(BANK, receiver.url)
    event_id = _record(actions, entry_id)
    deliverer = Deliverer(engine, actions.settings, clock=clock)
    assert deliverer.run_once() == 1
    assert deliverer.run_once() == 0
    deliverer.close()

    (row,) = _rows(engine)
    assert (row.status, row.attempts, row.claimed_until) == ("delivered", 1, None)
    assert row.delivered_at is not None
    ((delivery_id, headers, body),) = receiver.requests
    assert delivery_id == str(row.id)
    assert headers["Content-Type"] == "application/json"
    assert headers["Safehold-Timestamp"] == str(int(clock.now.timestamp()))
    now = clock.now.timestamp()
    timestamp, signature = headers["Safehold-Timestamp"], headers["Safehold-Signature"]
    assert verify_signature(secret, body, timestamp, signature, now=now)
    assert not verify_signature(secret, body.replace(b"upload-1", b"upload-2"), timestamp,
                                signature, now=now)  # fmt: skip
    assert body == row.payload.encode()
    sent = json.loads(body)
    assert (sent["event_id"], sent["bank"], sent["entry_id"], sent["content_ref"]) == (
        event_id,
        BANK,
        entry_id,
        "upload-1",
    )
    assert ENTRY_VALUE not in body.decode()  # never the bank's hash value
    assert receiver.processed == [str(row.id)]


def test_failures_back_off_then_go_dead_and_can_be_retried(
    actions: ActionService, engine: Engine, entry_id: int, receiver: Any, clock: Any
) -> None:
    actions.create_action(BANK, receiver.url, max_attempts=3)
    _record(actions, entry_id)
    receiver.statuses = [500, 503, 500]
    deliverer = Deliverer(engine, actions.settings, clock=clock)  # backoff base 10 s

    assert deliverer.run_once() == 1
    (row,) = _rows(engine)
    wait = row.next_attempt_at.replace(tzinfo=None) - clock.now.replace(tzinfo=None)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 500")
    assert 5.0 <= wait.total_seconds() <= 10.0
    assert deliverer.run_once() == 0  # not due yet

    clock.advance(10)
    assert deliverer.run_once() == 1
    (row,) = _rows(engine)
    wait = row.next_attempt_at.replace(tzinfo=None) - clock.now.replace(tzinfo=None)
    assert (row.status, row.attempts, row.last_error) == ("pending", 2, "HTTP 503")
    assert 10.0 <= wait.total_seconds() <= 20.0

    clock.advance(20)
    assert deliverer.run_once() == 1
    (row,) = _rows(engine)
    assert (row.status, row.attempts, row.last_error) == ("dead", 3, "HTTP 500")
    clock.advance(7200)
    assert deliverer.run_once() == 0  # dead letters stay put
    (dead,) = actions.list_deliveries("dead")
    assert dead.id == row.id
    assert [r[0] for r in receiver.requests] == [str(row.id)] * 3
    assert receiver.processed == []

    actions.retry_dead(row.id)
    clock.advance(1)
    assert deliverer.run_once() == 1
    assert _rows(engine)[0].status == "delivered"
    assert receiver.processed == [str(row.id)]
    deliverer.close()


def test_the_target_address_is_checked_at_delivery(
    actions: ActionService, engine: Engine, entry_id: int, receiver: Any, clock: Any
) -> None:
    actions.create_action(BANK, receiver.url)  # allowed when made...
    _record(actions, entry_id)
    strict = actions.settings.model_copy(update={"fetch_allow_networks": []})
    deliverer = Deliverer(engine, strict, clock=clock)  # ...refused by this deliverer
    assert deliverer.run_once() == 1
    deliverer.close()
    (row,) = _rows(engine)
    assert row.status == "pending"
    port = receiver.port
    assert row.last_error == f"refused http://127.0.0.1:{port}: 127.0.0.1 is a loopback address"
    assert "token=abc" not in row.last_error
    assert receiver.requests == []


def test_a_disabled_action_holds_its_deliveries(
    actions: ActionService, engine: Engine, entry_id: int, receiver: Any, clock: Any
) -> None:
    action, _ = actions.create_action(BANK, receiver.url)
    _record(actions, entry_id)
    actions.set_action_enabled(action.id, False)
    deliverer = Deliverer(engine, actions.settings, clock=clock)
    assert deliverer.run_once() == 0
    actions.set_action_enabled(action.id, True)
    assert deliverer.run_once() == 1
    deliverer.close()
    assert len(receiver.requests) == 1


def test_an_expired_lease_is_taken_over(
    actions: ActionService, engine: Engine, entry_id: int, receiver: Any, clock: Any
) -> None:
    actions.create_action(BANK, receiver.url)
    _record(actions, entry_id)
    crashed = Deliverer(engine, actions.settings, clock=clock, worker_id="crashed")
    (row,) = _rows(engine)
    assert crashed._claim(row.id) is not None  # claimed, then never finished
    other = Deliverer(engine, actions.settings, clock=clock, worker_id="other")
    assert other.run_once() == 0  # the lease holds
    clock.advance(actions.settings.webhook_lease_seconds + 1)
    assert other.run_once() == 1
    (row,) = _rows(engine)
    assert (row.status, row.attempts, row.claimed_by) == ("delivered", 2, "other")
    crashed.close()
    other.close()


def test_competing_deliverers_send_each_delivery_once(
    actions: ActionService, engine: Engine, entry_id: int, receiver: Any
) -> None:
    actions.create_action(BANK, receiver.url)
    for n in range(24):
        _record(actions, entry_id, ref=f"upload-{n}")
    deliverers = [Deliverer(engine, actions.settings, worker_id=f"w{i}") for i in range(4)]
    start = threading.Barrier(len(deliverers))
    errors: list[BaseException] = []

    def work(deliverer: Deliverer) -> None:
        try:
            start.wait()
            while deliverer.run_once():
                pass
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(d,)) for d in deliverers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    rows = _rows(engine)
    assert {r.status for r in rows} == {"delivered"}
    assert {r.attempts for r in rows} == {1}
    ids = [r[0] for r in receiver.requests]
    assert sorted(ids, key=int) == [str(r.id) for r in rows]  # each exactly once
    for d in deliverers:
        d.close()


def _deliver_process(env: dict[str, str]) -> subprocess.Popen[bytes]:
    safehold = Path(sys.executable).with_name("safehold")
    return subprocess.Popen(
        [str(safehold), "actions", "deliver", "--poll", "0.05"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_a_killed_deliverer_delivers_exactly_once_after_restart(
    actions: ActionService,
    engine: Engine,
    entry_id: int,
    receiver: Any,
    action_settings: Settings,
) -> None:
    actions.create_action(BANK, receiver.url)
    _record(actions, entry_id)
    (row,) = _rows(engine)
    receiver.block_first = True
    env = {**os.environ, "SAFEHOLD_WEBHOOK_LEASE_SECONDS": "1"}

    first = _deliver_process(env)
    try:
        deadline = time.monotonic() + 60
        while not receiver.arrived.wait(0.1):
            if first.poll() is not None:  # exited early: show why
                raise AssertionError(first.communicate()[1].decode())
            assert time.monotonic() < deadline, "the deliverer never called the receiver"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    receiver.release.set()  # the receiver finishes processing; its answer goes nowhere
    _wait_for(lambda: receiver.processed == [str(row.id)])
    (row,) = _rows(engine)
    assert (row.status, row.attempts) == ("pending", 1)

    second = _deliver_process(env)
    try:
        _wait_for(lambda: _rows(engine)[0].status == "delivered")
    finally:
        second.send_signal(signal.SIGTERM)
        _out, err = second.communicate(timeout=15)
    assert second.returncode == 0, err.decode()

    (row,) = _rows(engine)  # no second outbox row
    assert (row.status, row.attempts) == ("delivered", 2)
    assert [r[0] for r in receiver.requests] == [str(row.id)] * 2  # same id on the retry
    assert receiver.processed == [str(row.id)]  # processed exactly once
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(outbox)).scalar_one() == 1
    assert utcnow() >= row.delivered_at.replace(tzinfo=utcnow().tzinfo)
