"""A write's money checked against its wallets' currencies, once the wallets are known (the
body's own checks come first, ``api.parsing``): before anything is queued."""

from __future__ import annotations

from decimal import Decimal

from shared.errors import InvalidRequest
from shared.money import InvalidAmount, amount_for, decimals_rule
from shared.outcomes import Rejection
from shared.wallet_controls import WalletChange
from web.wallets.error_codes import INVALID_AMOUNT, INVALID_CONTROLS
from web.wallets.money.selectors import KnownWallet


def amount_in(amount: Decimal, wallet: KnownWallet) -> Decimal:
    """``amount`` with exactly the wallet's currency's decimals, or a 400 naming how many it allows."""
    try:
        return amount_for(amount, wallet.currency)
    except InvalidAmount:
        raise InvalidRequest(f"{INVALID_AMOUNT}: {decimals_rule(wallet.currency)}") from None


def limits_in(change: WalletChange, currency: str) -> WalletChange:
    """``change``, whose limits have at most ``currency``'s decimals; else a 400 naming how many."""
    for name, value in (("min_balance", change.min_balance), ("max_balance", change.max_balance)):
        try:
            if value is not None:
                amount_for(value, currency)
        except InvalidAmount:
            raise InvalidRequest(f"{INVALID_CONTROLS}: {name}: {decimals_rule(currency)}") from None
    return change


def currency_shared(source: KnownWallet, destination: KnownWallet) -> str:
    """The currency of a movement between two wallets; a 400 if they hold different ones (no
    conversion)."""
    if source.currency != destination.currency:
        raise InvalidRequest(Rejection.CURRENCY_MISMATCH.value)
    return source.currency
