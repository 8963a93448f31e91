"""The webhook workers' parts in-process (``worker.webhooks``): the dispatcher never passes
over an event a later commit puts behind its cursor, a stale job sends nothing, the address
rule holds at delivery, the schedule and ``Retry-After`` decide the next attempt, and an
endpoint failing long enough is disabled."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from uuid import UUID, uuid4

import pytest
import redis
from sqlalchemy import Engine, func, select, text, update

from deploy.processes import ROOT, stop, wait_until
from shared.config import Settings
from shared.tables import webhook_attempts, webhook_deliveries, webhook_endpoints
from shared.webhook_urls import PRIVATE, url_check
from tests.support.factories import event_row, tenant_id, webhook_endpoint
from tests.support.receiver import Receiver, Reply
from tests.support.stack import RedisServer
from worker.webhooks import deliveries
from worker.webhooks.__main__ import alive
from worker.webhooks.deliveries import deliveries_send, next_attempt
from worker.webhooks.dispatch import deliveries_sweep, events_dispatch
from worker.webhooks.http import Answer, Sender, retry_after_seconds


@pytest.fixture
def endpoint(db: Engine, receiver: Receiver) -> Iterator[UUID]:
    """An endpoint of the suite's tenant to ``receiver``, deleted (and the others of earlier
    tests out of the dispatcher's way) after the test."""
    with db.begin() as conn:
        conn.execute(
            update(webhook_endpoints).where(webhook_endpoints.c.deleted_at.is_(None)).values(deleted_at=text("now()"))
        )
    found, _ = webhook_endpoint(db, receiver.url)
    yield found
    with db.begin() as conn:
        conn.execute(update(webhook_endpoints).where(webhook_endpoints.c.id == found).values(deleted_at=text("now()")))


@pytest.fixture
def hooks(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings, webhook_allow_private_urls=True, webhook_retry_schedule=(1.0, 2.0), webhook_timeout=2.0
    )


def _dispatch(db: Engine) -> list[tuple[UUID, UUID]]:
    with db.begin() as conn:
        return events_dispatch(conn)


def _delivered_events(db: Engine, endpoint: UUID) -> set[UUID]:
    with db.connect() as conn:
        rows = conn.execute(select(webhook_deliveries.c.event_id).where(webhook_deliveries.c.endpoint_id == endpoint))
        return set(rows.scalars())


def test_an_event_committed_late_is_dispatched_after_the_cursor_moved_past_its_neighbours(
    db: Engine, endpoint: UUID
) -> None:
    tenant = tenant_id(db)
    slow = db.connect()
    slow_transaction = slow.begin()
    late = event_row(slow, tenant)  # its transaction began first, and has not committed
    with db.begin() as conn:
        early = event_row(conn, tenant)  # a later transaction, committed first
    _dispatch(db)
    assert early not in _delivered_events(db, endpoint)  # held back: an older transaction still runs
    slow_transaction.commit()
    slow.close()
    _dispatch(db)
    assert {late, early} <= _delivered_events(db, endpoint)  # neither passed over


def test_a_job_sends_only_what_its_claim_names_and_a_stale_duplicate_sends_nothing(
    db: Engine, endpoint: UUID, receiver: Receiver, local_redis: redis.Redis, hooks: Settings
) -> None:
    with db.begin() as conn:
        event = event_row(conn, tenant_id(db))
    [(found, claim)] = [c for c in _dispatch(db) if c[0] == endpoint]
    assert deliveries_send(engine=db, connection=local_redis, settings=hooks, endpoint_id=found, claim=claim) == 1
    assert deliveries_send(engine=db, connection=local_redis, settings=hooks, endpoint_id=found, claim=claim) == 0
    assert deliveries_send(engine=db, connection=local_redis, settings=hooks, endpoint_id=found, claim=uuid4()) == 0
    assert [r.webhook_id for r in receiver.requests] == [str(event)]


def test_a_job_renews_its_claim_while_it_sends_and_stops_once_the_sweep_has_taken_it(
    db: Engine,
    endpoint: UUID,
    receiver: Receiver,
    local_redis: redis.Redis,
    hooks: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(deliveries, "CLAIM_MARGIN", 0.0)  # renewed before every request
    with db.begin() as conn:
        for _ in range(4):
            event_row(conn, tenant_id(db))
    [(found, claim)] = [c for c in _dispatch(db) if c[0] == endpoint]
    ours = (webhook_deliveries.c.claim == claim) & (webhook_deliveries.c.state == "pending")
    seen: list[datetime] = []

    def note_claim() -> None:
        with db.connect() as conn:
            seen.append(conn.execute(select(func.min(webhook_deliveries.c.claimed_until)).where(ours)).scalar_one())

    def take_over() -> None:  # as the sweep does once a claim has lapsed
        note_claim()
        with db.begin() as conn:
            conn.execute(update(webhook_deliveries).where(ours).values(claim=uuid4()))

    receiver.script(Reply(before=note_claim), Reply(before=take_over))
    assert deliveries_send(engine=db, connection=local_redis, settings=hooks, endpoint_id=found, claim=claim) == 2
    assert len(receiver.requests) == 2  # the other two are the new claim's
    assert seen[0] < seen[1]  # renewed before the second request


def test_a_private_address_is_refused_at_delivery_even_if_it_was_allowed_when_registered(
    db: Engine, endpoint: UUID, receiver: Receiver, local_redis: redis.Redis, hooks: Settings
) -> None:
    with db.begin() as conn:
        event = event_row(conn, tenant_id(db))
    [(found, claim)] = [c for c in _dispatch(db) if c[0] == endpoint]
    strict = dataclasses.replace(hooks, webhook_allow_private_urls=False)
    deliveries_send(engine=db, connection=local_redis, settings=strict, endpoint_id=found, claim=claim)
    assert receiver.requests == []  # no request left the service
    with db.connect() as conn:
        attempt = conn.execute(select(webhook_attempts).where(webhook_attempts.c.event_id == event)).one()
    assert (attempt.status_code, attempt.error, attempt.next_attempt_at is not None) == (None, PRIVATE, True)


def test_the_schedule_and_retry_after_decide_the_next_attempt() -> None:
    at = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    refused = Answer(500, None, 3)
    assert next_attempt(1, refused, (5.0, 300.0), at) == at + timedelta(seconds=5)
    assert next_attempt(2, refused, (5.0, 300.0), at) == at + timedelta(seconds=300)
    assert next_attempt(3, refused, (5.0, 300.0), at) is None  # the schedule is over
    busy = Answer(429, None, 3, retry_after=42.0)
    assert next_attempt(1, busy, (5.0, 300.0), at) == at + timedelta(seconds=42)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("999999999") == 86400.0  # capped at a day
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    assert 100 < (retry_after_seconds(later) or 0) <= 120


def test_an_endpoint_failing_every_attempt_long_enough_is_disabled_and_its_deliveries_fail(
    db: Engine, endpoint: UUID, receiver: Receiver, local_redis: redis.Redis, hooks: Settings
) -> None:
    receiver.script(Reply(500), Reply(500))
    with db.begin() as conn:
        conn.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == endpoint)
            .values(failing_since=datetime.now(UTC) - timedelta(days=6))
        )
        event_row(conn, tenant_id(db))
        event_row(conn, tenant_id(db))
    [(found, claim)] = [c for c in _dispatch(db) if c[0] == endpoint]
    assert deliveries_send(engine=db, connection=local_redis, settings=hooks, endpoint_id=found, claim=claim) == 2
    with db.connect() as conn:
        row = conn.execute(select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint)).one()
        states = conn.execute(
            select(webhook_deliveries.c.state).where(webhook_deliveries.c.endpoint_id == endpoint)
        ).scalars()
        assert (row.status, set(states)) == ("disabled", {"failed"})
    assert row.disabled_reason.startswith("every attempt failed since")
    with db.begin() as conn:
        assert [e for e, _ in deliveries_sweep(conn) if e == endpoint] == []  # nothing left to send


def test_one_connection_carries_a_jobs_deliveries(
    db: Engine, endpoint: UUID, receiver: Receiver, local_redis: redis.Redis, hooks: Settings
) -> None:
    with db.begin() as conn:
        for _ in range(5):
            event_row(conn, tenant_id(db))
    [(found, claim)] = [c for c in _dispatch(db) if c[0] == endpoint]
    assert deliveries_send(engine=db, connection=local_redis, settings=hooks, endpoint_id=found, claim=claim) == 5
    assert len({r.peer for r in receiver.requests}) == 1  # kept alive: one connection, not five


def test_a_request_goes_out_whole_without_waiting_for_an_ack(receiver: Receiver) -> None:
    # Headers and body are two writes: with Nagle's algorithm on, the body would wait for the
    # headers' delayed ACK (40 ms per request on a kept-alive connection).
    sender = Sender(url_check(receiver.url, allow_private=True), timeout=2)
    try:
        assert sender.post(b"{}", {}).delivered
        assert sender.post(b"{}", {}).delivered
        assert sender._connection is not None
        assert sender._connection.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        sender.close()
    assert len({r.peer for r in receiver.requests}) == 1


def test_a_webhook_worker_started_while_redis_is_down_serves_once_it_answers() -> None:
    server = RedisServer(persistent=False)  # not started yet: its port refuses connections
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker.webhooks", "--log-level", "WARNING"],
        cwd=ROOT,
        env={**os.environ, "REDIS_URL": server.url, "WORKER_NAME": "hooks-wait"},
        stderr=subprocess.PIPE,
    )
    lines: list[bytes] = []
    assert proc.stderr is not None
    stderr = proc.stderr
    reader = threading.Thread(target=lambda: lines.extend(iter(stderr.readline, b"")), daemon=True)
    reader.start()
    try:
        wait_until(lambda: any(b"starts again" in line for line in lines), timeout=30, what="the worker waiting")
        server.start()
        connection = redis.Redis.from_url(server.url)
        wait_until(lambda: alive(connection, "hooks-wait"), timeout=30, what="the worker registered")
        assert proc.poll() is None
    finally:
        stop(proc)
        reader.join(timeout=10)
        stderr.close()
        server.stop()
