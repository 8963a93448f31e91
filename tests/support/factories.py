"""Small factories for test data that the API cannot produce quickly."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, Row, insert, select, text, update

from shared.messages import OperationRequest
from shared.operations import REVERSAL_OF, OperationType
from shared.outcomes import OperationStatus, Rejection
from shared.tables import events, tenants, wallet_operations, wallets, webhook_endpoints
from shared.wallet_controls import WalletChange
from shared.webhooks import EndpointStatus, secret_new
from web.wallets.auth.api_keys import NewKey, Scope, key_create

TEST_TENANT = "tests"
"""The tenant of the suite's default key (``tests/conftest.py``)."""

TEST_CURRENCY = "EUR"
"""The currency of the suite's wallets unless a test asks for another (``DEFAULT_CURRENCY``'s default)."""


def api_key(tenant: str, scope: Scope = Scope.READ_WRITE, *, wallet_limit: int = 1_000_000) -> NewKey:
    """A new API key of ``tenant`` (a new tenant gets ``wallet_limit``)."""
    return key_create(tenant=tenant, name="test", scope=scope, wallet_limit=wallet_limit)


def wallet_row(
    engine: Engine, wallet_id: uuid.UUID | None = None, tenant: str = TEST_TENANT, *, currency: str = TEST_CURRENCY
) -> uuid.UUID:
    """A new empty wallet of ``tenant``, inserted directly."""
    wallet_id = wallet_id or uuid.uuid4()
    with engine.begin() as conn:
        tenant_id = conn.execute(select(tenants.c.id).where(tenants.c.name == tenant)).scalar_one()
        conn.execute(
            insert(wallets).values(
                id=wallet_id,
                tenant_id=tenant_id,
                currency=currency,
                created_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
            )
        )
    return wallet_id


def seed_applied_deposit(engine: Engine, wallet_id: uuid.UUID, amount: Decimal) -> None:
    """Credit a wallet with a ledger row that explains it (to reach balances near the limits)."""
    with engine.begin() as conn:
        balance = conn.execute(select(wallets.c.balance).where(wallets.c.id == wallet_id)).scalar_one()
        _ledger_seed(conn, wallet_id, OperationType.DEPOSIT, amount, OperationStatus.APPLIED, balance + amount)
        conn.execute(update(wallets).where(wallets.c.id == wallet_id).values(balance=balance + amount))


def seed_refusal(engine: Engine, wallet_id: uuid.UUID, rejection: Rejection) -> None:
    """A withdrawal refused for ``rejection``, as the worker records one (the balance unmoved)."""
    with engine.begin() as conn:
        balance = conn.execute(select(wallets.c.balance).where(wallets.c.id == wallet_id)).scalar_one()
        _ledger_seed(
            conn, wallet_id, OperationType.WITHDRAW, Decimal("1.00"), OperationStatus.REJECTED, balance, rejection.value
        )


def _ledger_seed(
    conn: Connection,
    wallet_id: uuid.UUID,
    kind: OperationType,
    amount: Decimal,
    status: OperationStatus,
    balance_after: Decimal,
    error: str | None = None,
) -> None:
    conn.execute(
        insert(wallet_operations).values(
            id=uuid.uuid4(),
            wallet_id=wallet_id,
            operation_type=kind.value,
            amount=amount,
            status=status.value,
            error=error,
            balance_after=balance_after,
            created_at=datetime.now(UTC),
            currency=select(wallets.c.currency).where(wallets.c.id == wallet_id).scalar_subquery(),
        )
    )


def operation(
    wallet_id: uuid.UUID,
    kind: OperationType,
    amount: str,
    *,
    operation_id: uuid.UUID | None = None,
    currency: str | None = TEST_CURRENCY,
) -> OperationRequest:
    """A request as the web sends it (``currency``: its wallet's as the web read it; None: as a
    message of before currencies)."""
    return OperationRequest(
        operation_id=operation_id or uuid.uuid4(),
        wallet_id=wallet_id,
        operation_type=kind,
        amount=Decimal(amount),
        created_at=datetime.now(UTC),
        currency=currency,
    )


def transfer_debit(source: uuid.UUID, destination: uuid.UUID, amount: str) -> OperationRequest:
    """A transfer's debit as the web sends it (its id is the transfer's)."""
    transfer_id = uuid.uuid4()
    return OperationRequest(
        operation_id=transfer_id,
        wallet_id=source,
        operation_type=OperationType.TRANSFER_OUT,
        amount=Decimal(amount),
        created_at=datetime.now(UTC),
        transfer_id=transfer_id,
        counterparty_id=destination,
    )


def reversal(of: OperationRequest, amount: str) -> OperationRequest:
    """A reversal of ``amount`` of the deposit or withdrawal ``of``, as the web sends it."""
    return OperationRequest(
        operation_id=uuid.uuid4(),
        wallet_id=of.wallet_id,
        operation_type=REVERSAL_OF[of.operation_type],
        amount=Decimal(amount),
        created_at=datetime.now(UTC),
        currency=of.currency,
        reversal_of=of.operation_id,
    )


def transfer_reversal(of: OperationRequest, amount: str) -> OperationRequest:
    """The debit of a transfer of ``amount`` back from the destination of the transfer whose debit
    is ``of`` to its source, reversing it, as the web sends it."""
    assert of.counterparty_id is not None
    debit = transfer_debit(of.counterparty_id, of.wallet_id, amount)
    return replace(debit, currency=of.currency, reversal_of=of.operation_id)


def hold_request(
    wallet: uuid.UUID, amount: str, *, seconds: float = 3600, to: uuid.UUID | None = None
) -> OperationRequest:
    """A hold as the web sends it (its id is the hold's)."""
    hold_id = uuid.uuid4()
    now = datetime.now(UTC)
    return OperationRequest(
        operation_id=hold_id,
        wallet_id=wallet,
        operation_type=OperationType.HOLD,
        amount=Decimal(amount),
        created_at=now,
        counterparty_id=to,
        hold_id=hold_id,
        expires_at=now + timedelta(seconds=seconds),
    )


def hold_change_request(of: OperationRequest, kind: OperationType, amount: str | None = None) -> OperationRequest:
    """A capture (of ``amount``, else all of it; to the hold's ``to`` wallet, as a transfer's
    debit) or a void of the hold ``of``, as the web sends it."""
    operation_id = uuid.uuid4()
    starts_transfer = kind is OperationType.HOLD_CAPTURE and of.counterparty_id is not None
    return OperationRequest(
        operation_id=operation_id,
        wallet_id=of.wallet_id,
        operation_type=kind,
        amount=of.amount if amount is None else Decimal(amount),
        created_at=datetime.now(UTC),
        counterparty_id=of.counterparty_id if kind is OperationType.HOLD_CAPTURE else None,
        transfer_id=operation_id if starts_transfer else None,
        hold_id=of.hold_id,
    )


def wallet_update(wallet_id: uuid.UUID, currency: str = TEST_CURRENCY, **change: Any) -> OperationRequest:
    """A change of a wallet's controls as the web sends it (``change``: as a client's body)."""
    return OperationRequest(
        operation_id=uuid.uuid4(),
        wallet_id=wallet_id,
        operation_type=OperationType.WALLET_UPDATE,
        amount=Decimal(0),
        created_at=datetime.now(UTC),
        currency=currency,
        change=WalletChange.from_json(change),
    )


def tenant_id(engine: Engine, tenant: str = TEST_TENANT) -> uuid.UUID:
    with engine.connect() as conn:
        found: uuid.UUID = conn.execute(select(tenants.c.id).where(tenants.c.name == tenant)).scalar_one()
    return found


def webhook_endpoint(
    engine: Engine, url: str, *, tenant: str = TEST_TENANT, event_types: str = ""
) -> tuple[uuid.UUID, str]:
    """A new enabled endpoint of ``tenant`` (its id and secret), receiving from now on."""
    endpoint_id, secret = uuid.uuid4(), secret_new()
    with engine.begin() as conn:
        conn.execute(
            insert(webhook_endpoints).values(
                id=endpoint_id,
                tenant_id=select(tenants.c.id).where(tenants.c.name == tenant).scalar_subquery(),
                url=url,
                event_types=event_types,
                status=EndpointStatus.ENABLED.value,
                secret=secret,
                cursor_txid=text("pg_snapshot_xmin(pg_current_snapshot())::text::bigint"),
                cursor_seq=0,
            )
        )
    return endpoint_id, secret


def event_row(conn: Connection, tenant: uuid.UUID, *, event_type: str = "wallet.created") -> uuid.UUID:
    """An event of ``tenant``, inserted in ``conn``'s transaction (as its writer would)."""
    event_id, wallet = uuid.uuid4(), uuid.uuid4()
    conn.execute(
        insert(events).values(
            id=event_id,
            type=event_type,
            tenant_id=tenant,
            wallet_id=wallet,
            data={"id": str(wallet), "currency": TEST_CURRENCY, "balance": "0.00", "available": "0.00", "held": "0.00"},
        )
    )
    return event_id


def ledger_rows(engine: Engine, wallet_id: uuid.UUID | str) -> list[Row[Any]]:
    """A wallet's ledger rows, in ledger order, straight from the table."""
    rows = wallet_operations.c
    with engine.connect() as conn:
        return list(conn.execute(select(wallet_operations).where(rows.wallet_id == wallet_id).order_by(rows.seq)))
