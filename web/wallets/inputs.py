"""What a client asks for, as typed values (``api.parsing`` makes them from request bodies and
query strings; ``money`` takes them), and the bounds they are held to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from shared.annotations import NONE, Annotations
from shared.events import EventType
from shared.operations import OperationType
from shared.outcomes import OperationStatus
from shared.wallet_controls import WalletChange

MAX_BODY_BYTES = 256 * 1024
"""Largest request body the API reads: one write whose reference and metadata are at every limit
of ``shared.annotations`` fits, even with each character written as a ``\\uXXXX`` escape."""

BULK_MAX_ITEMS = 1000
"""Operations one bulk request may carry."""

BULK_MAX_BODY_BYTES = 4 * 1024 * 1024
"""Largest body of a bulk request (its own limit): 1,000 operations of about 4 KiB each, reference
and metadata included."""

BULK_PATH = "/api/v1/operations/bulk"
"""The bulk request's path (with or without a trailing slash): the one that may send a body up to
``BULK_MAX_BODY_BYTES``."""


def body_limit(path: str) -> int:
    """The largest body a request to ``path`` may send."""
    return BULK_MAX_BODY_BYTES if path.rstrip("/") == BULK_PATH else MAX_BODY_BYTES


HOLD_DEFAULT_SECONDS = 7 * 24 * 3600
"""How long a hold lasts when ``expires_in`` is not given (7 days)."""

HOLD_MAX_SECONDS = 30 * 24 * 3600
"""The longest a hold may last (30 days)."""

HISTORY_DEFAULT_LIMIT = 50
"""Operations per history page when ``limit`` is not given."""

HISTORY_MAX_LIMIT = 500
"""Largest ``limit`` a history request may ask for."""

MAX_WEBHOOK_ENDPOINTS = 16
"""Webhook endpoints a tenant may have at once."""


@dataclass(frozen=True, slots=True)
class WalletInput:
    currency: str
    """An ISO 4217 code (``shared.money``)."""
    limits: WalletChange | None = None
    """Its limits, if not the defaults (``shared.wallet_controls``)."""
    annotations: Annotations = NONE


@dataclass(frozen=True, slots=True)
class OperationInput:
    operation_type: OperationType
    amount: Decimal
    annotations: Annotations = NONE


@dataclass(frozen=True, slots=True)
class BulkItem:
    """One operation of a bulk request: an operation, its wallet and its own Idempotency-Key."""

    wallet_id: UUID
    operation: OperationInput
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class TransferInput:
    from_wallet: UUID
    to_wallet: UUID
    amount: Decimal
    annotations: Annotations = NONE


@dataclass(frozen=True, slots=True)
class HoldInput:
    amount: Decimal
    expires_in: int
    """Seconds from its acceptance."""
    to_wallet: UUID | None
    """Where a capture moves the money (None: out of the service, like a withdrawal)."""
    annotations: Annotations = NONE


@dataclass(frozen=True, slots=True)
class PartialInput:
    """A capture, a void or a reversal: of all (None) or ``amount``."""

    amount: Decimal | None = None
    annotations: Annotations = NONE


@dataclass(frozen=True, slots=True)
class EndpointInput:
    url: str
    event_types: tuple[EventType, ...]
    """Empty: every type."""


@dataclass(frozen=True, slots=True)
class HistoryFilters:
    """What a page of a wallet's history is limited to: every filter given holds for each row.
    Times are the ledger's (``applied_at``: when the row's writer decided it), the time
    statements and balances at an instant go by too."""

    operation_type: OperationType | None = None
    status: OperationStatus | None = None
    """``applied`` or ``rejected``: the ledger holds no other."""
    created_after: datetime | None = None
    """At or after this instant."""
    created_before: datetime | None = None
    """Before this instant."""
    reference: str | None = None
    metadata: tuple[tuple[str, str], ...] = ()
    """Pairs the row's metadata holds, each exactly (sorted by key)."""


NO_FILTERS = HistoryFilters()


@dataclass(frozen=True, slots=True)
class StatementInput:
    """A statement's span: rows decided at or after ``start`` and before ``end``."""

    start: datetime
    end: datetime
    csv: bool
    """As CSV rather than JSON."""
