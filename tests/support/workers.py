"""Worker tests' helpers: the in-process rig (the database, a Redis of its own, enqueueing as the
web does, workers), a reply, a redelivery, a balance, a wallet on a chosen shard."""

from __future__ import annotations

import dataclasses
import time
import uuid
from decimal import Decimal

import redis
from sqlalchemy import Engine, select, text

from shared import keys
from shared.config import Settings
from shared.messages import OperationRequest, OperationResult
from shared.operations import OperationType
from shared.outcomes import OperationStatus
from shared.replies import Reply, replies_entries, reply_parse
from shared.sharding import shard_for
from shared.tables import wallets
from tests.support.databases import backend_exit_wait
from tests.support.factories import seed_applied_deposit, wallet_row
from web.wallets.money.inbox import inbox_for
from web.wallets.money.queueing import operation_send
from worker.apply import ledger_apply
from worker.shard_worker import ShardWorker

DEPOSIT, WITHDRAW = OperationType.DEPOSIT, OperationType.WITHDRAW


def inbox_of(connection: redis.Redis) -> str:
    """The channel of this process's inbox on ``connection``'s Redis, where ``operation_send``
    has the answers to its requests published."""
    return keys.inbox_key(inbox_for(connection, keep=60).name)


class Answers:
    """Every answer published to this process's inbox on a Redis from when it is made (the rig
    enqueues without waiting: nothing else takes them)."""

    def __init__(self, connection: redis.Redis) -> None:
        self.pubsub = connection.pubsub()
        self.pubsub.subscribe(inbox_of(connection))
        confirmation = self.pubsub.get_message(timeout=5)
        assert confirmation is not None
        assert confirmation["type"] == "subscribe"
        self.seen: list[tuple[uuid.UUID, OperationResult]] = []

    def _read(self, timeout: float) -> None:
        while (message := self.pubsub.get_message(timeout=timeout)) is not None:
            for entry in replies_entries(message["data"]):
                operation_id, body = reply_parse(entry)
                self.seen.append((operation_id, OperationResult.from_bytes(body)))
            timeout = 0

    def of(self, request: OperationRequest, *, within: float = 0.2) -> list[OperationResult]:
        """Every answer to ``request`` so far, oldest first, waiting up to ``within`` seconds
        for a first one (a worker's publication may reach us a moment after it returned)."""
        deadline = time.monotonic() + within
        while True:
            self._read(0)
            found = [result for operation_id, result in self.seen if operation_id == request.operation_id]
            if found or time.monotonic() >= deadline:
                return found
            self._read(0.05)

    def last(self, request: OperationRequest) -> OperationResult:
        found = self.of(request, within=5)
        assert found, "no reply"
        return found[-1]

    def forget(self, request: OperationRequest) -> None:
        self._read(0)
        self.seen = [
            (operation_id, result) for operation_id, result in self.seen if operation_id != request.operation_id
        ]

    def close(self) -> None:
        self.pubsub.close()


def reply_push(connection: redis.Redis, operation_id: uuid.UUID, result: OperationResult) -> None:
    """Send an answer to this process's inbox, as if a worker had already answered."""
    assert inbox_for(connection, keep=60).ready(5)
    connection.publish(inbox_of(connection), Reply(operation_id, None, result).to_bytes())


def redeliver(connection: redis.Redis, shard: int, request: OperationRequest) -> None:
    """Put an operation's job id back on its queue (as a crashed worker's requeue, or a requeue
    from the dashboard, would)."""
    connection.rpush(keys.queue_key(shard), str(request.operation_id))


def decided(engine: Engine, *requests: OperationRequest) -> list[tuple[OperationStatus, str | None]]:
    """``requests`` applied in one batch by ``worker.apply.ledger_apply`` (16 shards), in the
    test's process: each one's status and error."""
    with engine.begin() as conn:
        results = ledger_apply(conn, list(requests), shard_count=16).results
    return [(r.status, r.error) for r in results]


def balance(engine: Engine, wallet_id: uuid.UUID) -> Decimal:
    with engine.connect() as conn:
        return conn.execute(select(wallets.c.balance).where(wallets.c.id == wallet_id)).scalar_one()


def wallet_on(db: Engine, settings: Settings, shard: int, funds: str = "0") -> uuid.UUID:
    """A new wallet of ``shard``, with ``funds`` deposited through the ledger."""
    while True:
        wallet_id = uuid.uuid4()
        if shard_for(wallet_id, settings.shard_count) == shard:
            break
    wallet_row(db, wallet_id)
    if Decimal(funds):
        seed_applied_deposit(db, wallet_id, Decimal(funds))
    return wallet_id


@dataclasses.dataclass(frozen=True)
class Rig:
    """What an in-process worker test works with: the test database (audited after the test),
    an empty Redis database no worker process watches, and the settings pointing at it."""

    db: Engine
    redis: redis.Redis
    settings: Settings
    answers: Answers
    """What the workers answered, published to this process's inbox."""

    def enqueue(self, request: OperationRequest) -> None:
        """Enqueue exactly as the web node does (without waiting for the reply)."""
        operation_send(connection=self.redis, settings=self.settings, request=request, wait=0)

    def worker(self, shards: list[int] | None = None, **overrides: object) -> ShardWorker:
        """A shard worker of ``shards`` (all by default), with settings ``overrides``."""
        settings = dataclasses.replace(self.settings, **overrides)  # type: ignore[arg-type]
        return ShardWorker(engine=self.db, settings=settings, connection=self.redis, shards=shards)

    def wallet_on(self, shard: int, funds: str = "0") -> uuid.UUID:
        return wallet_on(self.db, self.settings, shard, funds)

    def kill(self, worker: ShardWorker) -> None:
        """What a killed worker's process leaves: its connection closed (its Redis claim and
        heartbeat stay), and its PostgreSQL backend gone, its lease locks with it. Closing a
        socket returns at once; the backend ends a moment later, so this waits for it."""
        assert worker.leases.connection is not None
        pid = worker.leases.connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        worker.leases.connection.commit()
        worker.leases.drop("killed")
        backend_exit_wait(self.db, pid)

    def reply(self, request: OperationRequest) -> OperationResult:
        """The latest answer to ``request``."""
        return self.answers.last(request)

    def replies(self, request: OperationRequest) -> list[OperationResult]:
        """Every answer to ``request`` so far (waiting a moment for a first one)."""
        return self.answers.of(request)

    def redeliver(self, shard: int, request: OperationRequest) -> None:
        """Put an operation back on its queue and forget its answers (``redeliver``)."""
        self.answers.forget(request)
        redeliver(self.redis, shard, request)

    def balance(self, wallet_id: uuid.UUID) -> Decimal:
        return balance(self.db, wallet_id)
