"""Reads. The web node reads PostgreSQL directly; only workers write."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from shared.errors import NotFound
from shared.messages import Rejection
from web.wallets.models import Wallet, WalletOperation


def wallet_balance_get(*, wallet_id: UUID) -> Decimal:
    balance = Wallet.objects.filter(id=wallet_id).values_list("balance", flat=True).first()
    if balance is None:
        raise NotFound(Rejection.WALLET_NOT_FOUND.value)
    return balance


def wallet_ensure_exists(*, wallet_id: UUID) -> None:
    if not Wallet.objects.filter(id=wallet_id).exists():
        raise NotFound(Rejection.WALLET_NOT_FOUND.value)


def operation_get(*, operation_id: UUID) -> WalletOperation | None:
    return WalletOperation.objects.filter(id=operation_id).first()


def wallet_history_list(
    *, wallet_id: UUID, limit: int, before_seq: int | None
) -> tuple[list[WalletOperation], int | None]:
    """A page of a wallet's ledger, newest first, and the cursor of the next page (or None)."""
    wallet_ensure_exists(wallet_id=wallet_id)
    rows = WalletOperation.objects.filter(wallet_id=wallet_id)
    if before_seq is not None:
        rows = rows.filter(seq__lt=before_seq)
    page = list(rows.order_by("-seq")[: limit + 1])
    if len(page) > limit:
        return page[:limit], page[limit - 1].seq
    return page, None
