"""Small factories for test data that the API cannot produce quickly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine, insert, select, update

from shared.messages import OperationRequest
from shared.operations import OperationType
from shared.outcomes import OperationStatus
from shared.tables import tenants, wallet_operations, wallets
from web.wallets.auth.api_keys import NewKey, Scope, key_create

TEST_TENANT = "tests"
"""The tenant of the suite's default key (``tests/conftest.py``)."""


def api_key(tenant: str, scope: Scope = Scope.READ_WRITE, *, wallet_limit: int = 1_000_000) -> NewKey:
    """A new API key of ``tenant`` (a new tenant gets ``wallet_limit``)."""
    return key_create(tenant=tenant, name="test", scope=scope, wallet_limit=wallet_limit)


def wallet_row(engine: Engine, wallet_id: uuid.UUID | None = None, tenant: str = TEST_TENANT) -> uuid.UUID:
    """A new empty wallet of ``tenant``, inserted directly."""
    wallet_id = wallet_id or uuid.uuid4()
    with engine.begin() as conn:
        tenant_id = conn.execute(select(tenants.c.id).where(tenants.c.name == tenant)).scalar_one()
        conn.execute(
            insert(wallets).values(
                id=wallet_id, tenant_id=tenant_id, created_at=datetime.now(UTC), updated_at=datetime.now(UTC)
            )
        )
    return wallet_id


def seed_applied_deposit(engine: Engine, wallet_id: uuid.UUID, amount: Decimal) -> None:
    """Credit a wallet with a ledger row that explains it (to reach balances near the limits)."""
    with engine.begin() as conn:
        balance = conn.execute(select(wallets.c.balance).where(wallets.c.id == wallet_id)).scalar_one()
        conn.execute(
            insert(wallet_operations).values(
                id=uuid.uuid4(),
                wallet_id=wallet_id,
                operation_type=OperationType.DEPOSIT.value,
                amount=amount,
                status=OperationStatus.APPLIED.value,
                balance_after=balance + amount,
                created_at=datetime.now(UTC),
            )
        )
        conn.execute(update(wallets).where(wallets.c.id == wallet_id).values(balance=balance + amount))


def operation(
    wallet_id: uuid.UUID, kind: OperationType, amount: str, *, operation_id: uuid.UUID | None = None
) -> OperationRequest:
    return OperationRequest(
        operation_id=operation_id or uuid.uuid4(),
        wallet_id=wallet_id,
        operation_type=kind,
        amount=Decimal(amount),
        created_at=datetime.now(UTC),
    )
