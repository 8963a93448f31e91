"""Reads. The web node reads PostgreSQL directly; only workers write."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from uuid import UUID

from shared.connections import read_one
from shared.errors import NotFound
from shared.messages import Rejection
from web.wallets.models import WalletOperation

# The read on the hot path, on the process's bounded pool (an ORM query costs more to build
# than to run, and Django's connections are per greenlet under gevent). Table and column
# names are those of shared.tables, which a test holds equal to the migrations.
_BALANCE = "SELECT balance FROM wallets WHERE id = %s"


def wallet_balance_get(*, wallet_id: UUID) -> Decimal:
    row = read_one(_BALANCE, (str(wallet_id),))
    if row is None:
        raise NotFound(Rejection.WALLET_NOT_FOUND.value)
    balance: Decimal = row[0]
    return balance


KNOWN_WALLETS_CACHED = 100_000
"""Wallet ids a web process remembers as existing (about 20 MB at most)."""


@lru_cache(maxsize=KNOWN_WALLETS_CACHED)
def _wallet_known(wallet_id: UUID) -> bool:
    # Only successes are cached (a miss raises), and a wallet is never deleted
    # (PROTECT foreign key, no delete in the admin or the API), so a hit stays true.
    wallet_balance_get(wallet_id=wallet_id)
    return True


def wallet_ensure_exists(*, wallet_id: UUID) -> None:
    """Raise ``NotFound`` unless the wallet exists; a known wallet costs no query."""
    _wallet_known(wallet_id)


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
