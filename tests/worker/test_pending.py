"""Operations answered 202 are recorded in ``pending_operations`` and settled from there with
everything they carried, the API key that sent them and the client's reference and metadata
included."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from shared import keys
from shared.config import Settings
from shared.messages import OperationRequest
from shared.operations import OperationType
from shared.rates import Limit, RateLimit
from shared.sharding import shard_for
from shared.tables import wallet_operations
from tests.support.factories import TEST_TENANT, api_key, wallet_row
from tests.support.workers import Rig
from web.wallets.auth.rate_limits import Counted
from web.wallets.money.queueing import operation_send
from web.wallets.money.services import pending_record
from worker import chores
from worker.apply import ledger_apply
from worker.pending import pending_due, pending_mark_settled


def test_a_pending_record_settles_with_its_api_key(db: Engine, settings: Settings) -> None:
    wallet = wallet_row(db)
    key = api_key(TEST_TENANT)
    request = OperationRequest(
        uuid.uuid4(),
        wallet,
        OperationType.DEPOSIT,
        Decimal("7.00"),
        datetime.now(UTC),
        "k-1",
        key.id,
        currency="EUR",
        reference="order-7",
        metadata={"channel": "web"},
    )
    pending_record(request=request, settings=settings)
    with db.begin() as conn:
        due = [
            r
            for r in pending_due(conn, [shard_for(wallet, settings.shard_count)], grace=0, limit=1000)
            if r.wallet_id == wallet
        ]
        assert due == [request]
        ledger_apply(conn, due, shard_count=settings.shard_count)
        pending_mark_settled(conn, [request.operation_id])
    with db.connect() as conn:
        row = conn.execute(select(wallet_operations).where(wallet_operations.c.id == request.operation_id)).one()
    assert (row.api_key_id, row.idempotency_key, row.amount) == (key.id, "k-1", Decimal("7.00"))
    assert (row.reference, row.metadata) == ("order-7", {"channel": "web"})


def test_an_operation_a_rate_limit_refused_after_its_202_settles_refused_never_applied(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chores, "PENDING_GRACE", 0)
    wallet = wallet_row(rig.db)
    key = api_key(TEST_TENANT)
    limits = [Counted(Limit.WRITES, keys.rate_limit_key("writes", key.id), RateLimit.parse("1/minute"))]
    allowed, over = (
        OperationRequest(
            uuid.uuid4(),
            wallet,
            OperationType.DEPOSIT,
            Decimal("10.00"),
            datetime.now(UTC),
            None,
            key.id,
            currency="EUR",
        )
        for _ in range(2)
    )
    operation_send(connection=rig.redis, settings=rig.settings, request=allowed, wait=0, limits=limits)
    assert operation_send(connection=rig.redis, settings=rig.settings, request=over, wait=0, limits=limits).refused
    # Redis stalled while the second was sent: the web could not read the refusal, answered 202
    # and recorded it pending.
    pending_record(request=over, settings=rig.settings)
    shards = [shard_for(wallet, rig.settings.shard_count)]
    worker = rig.worker(shards=shards)
    worker.bootstrap()
    try:
        assert chores.pending_settle(worker) == 1  # the refused one; the allowed one's job is queued
    finally:
        worker.teardown()
    rig.worker(shards=shards).work(burst=True)
    with rig.db.connect() as conn:
        rows = {
            row.id: (row.status, row.error)
            for row in conn.execute(select(wallet_operations).where(wallet_operations.c.wallet_id == wallet))
        }
    assert rows == {allowed.operation_id: ("applied", None), over.operation_id: ("rejected", "Rate limit exceeded")}
