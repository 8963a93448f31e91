"""The schema. Django owns it and its migrations; ``shared.tables`` mirrors it for the workers.

Balances change only in the shard workers, inside the transaction that inserts
the ledger row explaining the change: nothing here writes a balance.
"""

from web.wallets.models.events import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from web.wallets.models.holds import Hold
from web.wallets.models.ledger import PendingOperation, Wallet, WalletOperation
from web.wallets.models.tenants import ApiKey, Tenant, validate_rate_limit
from web.wallets.models.transfers import Transfer

__all__ = [
    "ApiKey",
    "Event",
    "Hold",
    "PendingOperation",
    "Tenant",
    "Transfer",
    "Wallet",
    "WalletOperation",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "validate_rate_limit",
]
