"""Operations answered 202 are recorded in ``pending_operations`` and settled from there with
everything they carried, the API key that sent them included."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine, select

from shared.config import Settings
from shared.messages import OperationRequest, OperationType
from shared.sharding import shard_for
from shared.tables import wallet_operations
from tests.factories import TEST_TENANT, api_key, wallet_row
from web.wallets.services import pending_record
from worker.apply import operations_apply
from worker.pending import pending_due, pending_settle


def test_a_pending_record_settles_with_its_api_key(db: Engine, settings: Settings) -> None:
    wallet = wallet_row(db)
    key = api_key(TEST_TENANT)
    request = OperationRequest(
        uuid.uuid4(), wallet, OperationType.DEPOSIT, Decimal("7.00"), datetime.now(UTC), "k-1", key.id
    )
    pending_record(request=request, settings=settings)
    with db.begin() as conn:
        due = [
            r
            for r in pending_due(conn, [shard_for(wallet, settings.shard_count)], grace=0, limit=1000)
            if r.wallet_id == wallet
        ]
        assert due == [request]
        operations_apply(conn, due, shard_count=settings.shard_count)
        pending_settle(conn, [request.operation_id])
    with db.connect() as conn:
        row = conn.execute(select(wallet_operations).where(wallet_operations.c.id == request.operation_id)).one()
    assert (row.api_key_id, row.idempotency_key, row.amount) == (key.id, "k-1", Decimal("7.00"))
