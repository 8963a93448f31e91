"""Worker tests' helpers: the in-process rig (the database, a Redis of its own, enqueueing as the
web does, workers), a reply, a redelivery, a balance, a wallet on a chosen shard."""

from __future__ import annotations

import dataclasses
import uuid
from decimal import Decimal

import redis
from sqlalchemy import Engine, select

from shared import keys
from shared.config import Settings
from shared.messages import OperationRequest, OperationResult
from shared.operations import OperationType
from shared.replies import Reply, reply_parse
from shared.sharding import shard_for
from shared.tables import wallets
from tests.support.factories import seed_applied_deposit, wallet_row
from web.wallets.money.inbox import inbox_for
from web.wallets.money.queueing import operation_send
from worker.shard_worker import ShardWorker

DEPOSIT, WITHDRAW = OperationType.DEPOSIT, OperationType.WITHDRAW


def inbox_of(connection: redis.Redis) -> str:
    """The key of this process's inbox on ``connection``'s Redis, where ``operation_send``
    has the answers to its requests pushed."""
    return keys.inbox_key(inbox_for(connection, keep=60).name)


def replies(connection: redis.Redis, request: OperationRequest) -> list[OperationResult]:
    """Every answer to ``request`` still in the inbox, oldest first (nothing waits for them:
    the rig enqueues without waiting, so no listener takes them)."""
    entries = [reply_parse(raw) for raw in connection.lrange(inbox_of(connection), 0, -1)]
    return [OperationResult.from_bytes(body) for op, body in entries if op == request.operation_id]


def reply(connection: redis.Redis, request: OperationRequest) -> OperationResult:
    """The latest answer to ``request``."""
    answers = replies(connection, request)
    assert answers, "no reply"
    return answers[-1]


def reply_push(connection: redis.Redis, operation_id: uuid.UUID, result: OperationResult) -> None:
    """Put an answer in this process's inbox, as if a worker had already answered."""
    connection.rpush(inbox_of(connection), Reply(operation_id, None, result).to_bytes())


def redeliver(connection: redis.Redis, shard: int, request: OperationRequest) -> None:
    """Put an operation's job id back on its queue (as a crashed worker's requeue, or a requeue
    from the dashboard, would) and forget its reply."""
    inbox = inbox_of(connection)
    for raw in connection.lrange(inbox, 0, -1):
        if reply_parse(raw)[0] == request.operation_id:
            connection.lrem(inbox, 0, raw)
    connection.rpush(keys.queue_key(shard), str(request.operation_id))


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

    def enqueue(self, request: OperationRequest) -> None:
        """Enqueue exactly as the web node does (without waiting for the reply)."""
        operation_send(connection=self.redis, settings=self.settings, request=request, wait=0)

    def worker(self, shards: list[int] | None = None, **overrides: object) -> ShardWorker:
        """A shard worker of ``shards`` (all by default), with settings ``overrides``."""
        settings = dataclasses.replace(self.settings, **overrides)  # type: ignore[arg-type]
        return ShardWorker(engine=self.db, settings=settings, connection=self.redis, shards=shards)

    def wallet_on(self, shard: int, funds: str = "0") -> uuid.UUID:
        return wallet_on(self.db, self.settings, shard, funds)

    def reply(self, request: OperationRequest) -> OperationResult:
        return reply(self.redis, request)

    def balance(self, wallet_id: uuid.UUID) -> Decimal:
        return balance(self.db, wallet_id)
