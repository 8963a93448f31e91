"""Webhooks under load and under faults: real gunicorn, two shard workers on four shards, a
webhook worker and a local receiver, their own redis-server; every request keyed.

Each test registers an endpoint for every event, sends transfers, deposits and withdrawals
from many clients, injects its fault a third of the way in, replays every Idempotency-Key
(``keyed_load``), then waits for the receiver to have every event of the test's wallets: none
lost, each verified with the Standard Webhooks library, duplicates allowed but each with the
same ``webhook-id`` and body, and the events one to one with the ledger's rows.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, text
from standardwebhooks.webhooks import Webhook

from deploy.processes import start_webhook_worker, stop, wait_until
from shared.events import EVENT_READ, StoredEvent
from tests.support.events import event_subject, events_expected
from tests.support.receiver import Receiver, Reply
from tests.support.stack import Keyed, Stack, armed_stack, call, keyed_load, running_stack, wallets_create

pytestmark = pytest.mark.fault

ENV = {
    "SHARD_COUNT": "4",
    "REPLY_TIMEOUT": "2",
    "WEBHOOK_ALLOW_PRIVATE_URLS": "1",
    "WEBHOOK_RETRY_SCHEDULE": "1s,1s,2s,2s,4s,4s,8s,8s,16s",
    "WEBHOOK_TIMEOUT": "2",
}


@dataclass
class Hooked:
    """A receiver with an endpoint for every event, and the webhook workers sending to it."""

    receiver: Receiver
    endpoint: str
    secret: str
    workers: list[subprocess.Popen[bytes]]


@contextmanager
def hooked(stack: Stack) -> Iterator[Hooked]:
    receiver = Receiver()
    status, content = call(stack.base, "POST", "/api/v1/webhook-endpoints", {"url": receiver.url})
    assert status == 201, content
    endpoint = json.loads(content)
    workers = [start_webhook_worker(**stack.env)]
    try:
        yield Hooked(receiver, endpoint["id"], endpoint["secret"], workers)
    finally:
        for proc in workers:
            if proc.poll() is None:
                stop(proc)
        call(stack.base, "DELETE", f"/api/v1/webhook-endpoints/{endpoint['id']}")
        receiver.stop()


def run_hooked_load(stack: Stack, engine: Engine, hooks: Hooked, fault: Callable[[], None] | None) -> None:
    receiver = hooks.receiver
    rng = random.Random(7)
    ids = wallets_create(stack.base, 16, funds="100.00")
    plan: list[Keyed] = []
    for i in range(240):
        if i % 3:
            source, destination = rng.sample(ids, 2)
            body = {"from": source, "to": destination, "amount": f"{rng.randint(1, 3000) / 100:.2f}"}
            plan.append(("/api/v1/transfers", body, f"wt-{uuid.uuid4()}"))
        else:
            body = {"operationType": rng.choice(["DEPOSIT", "WITHDRAW"]), "amount": f"{rng.randint(1, 3000) / 100:.2f}"}
            plan.append((f"/api/v1/wallets/{rng.choice(ids)}/operation", body, f"wo-{uuid.uuid4()}"))
    keyed_load(stack.base, plan, fault, clients=16, decided=(200, 400))
    wait_until(lambda: _pending(engine) == 0, timeout=60, what="every transfer decided")
    with engine.connect() as conn:
        found = conn.execute(text(f"{EVENT_READ} WHERE e.wallet_id = ANY(CAST(:ids AS uuid[]))"), {"ids": ids})
        events = {str(event.id): event.to_json() for event in map(StoredEvent.from_values, found)}
    # Every event of the test's wallets reaches the receiver (the funding deposits' too).
    receiver.wait_for(set(events), timeout=120)
    verifier = Webhook(hooks.secret)
    for event_id, event in events.items():
        bodies = {r.body for r in receiver.of(event_id)}
        assert len(bodies) == 1, event_id  # a duplicate is the same message
        for received in receiver.of(event_id):
            payload = verifier.verify(received.body, received.headers)
            assert (payload["type"], payload["data"]) == (event["type"], event["data"])
    made = {event_subject(e) for e in events.values() if e["type"] != "wallet.created"}
    assert made == events_expected(engine, ids)


def _pending(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM transfers WHERE state = 'pending'")).scalar_one())


def test_the_webhook_worker_killed_mid_delivery(database: Engine, db: Engine) -> None:
    with running_stack(**ENV) as stack, hooked(stack) as hooks:
        hooks.receiver.script(*[Reply(200, delay=0.05)] * 400)  # slow enough that a kill lands mid-request

        def kill() -> None:
            wait_until(lambda: len(hooks.receiver.requests) > 10, timeout=30, what="deliveries under way")
            os.kill(hooks.workers[0].pid, signal.SIGKILL)
            hooks.workers[0].wait()
            hooks.workers.append(start_webhook_worker(**stack.env))

        run_hooked_load(stack, db, hooks, kill)


def test_a_receiver_down_for_30_s_gets_every_event_once_it_is_back(database: Engine, db: Engine) -> None:
    with running_stack(**ENV) as stack, hooked(stack) as hooks:

        def outage() -> None:
            hooks.receiver.stop()  # connections refused: every attempt meanwhile fails
            time.sleep(30)
            hooks.receiver.start()

        run_hooked_load(stack, db, hooks, outage)
        with db.connect() as conn:
            errors = conn.execute(
                text("SELECT error FROM webhook_attempts WHERE endpoint_id = :endpoint AND error IS NOT NULL"),
                {"endpoint": hooks.endpoint},
            ).scalars()
            assert any(error.startswith("ConnectionRefusedError") for error in errors)


def test_redis_restarted_with_its_data_lost(database: Engine, db: Engine) -> None:
    with running_stack(persistent=False, **ENV) as stack, hooked(stack) as hooks:

        def restart() -> None:
            stack.redis.stop()
            stack.redis.start()  # empty: every queued job and delivery job is gone

        run_hooked_load(stack, db, hooks, restart)


def test_a_shard_worker_killed_between_its_commit_and_its_enqueue(database: Engine, db: Engine) -> None:
    with armed_stack("after-transfer-debit", **ENV) as (stack, replace_armed), hooked(stack) as hooks:
        run_hooked_load(stack, db, hooks, replace_armed)
