"""What became of an operation: its status, and why a worker refused it."""

from __future__ import annotations

from enum import StrEnum


class OperationStatus(StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    REJECTED = "rejected"


class Rejection(StrEnum):
    """Why a worker refused an operation; the text is the API's error message."""

    INSUFFICIENT_FUNDS = "Insufficient funds"
    BALANCE_LIMIT = "Balance limit exceeded"
    WALLET_NOT_FOUND = "Wallet not found"
    IDEMPOTENCY_MISMATCH = "Idempotency-Key was already used with a different request"
    HOLD_NOT_FOUND = "Hold not found"
    HOLD_CAPTURED = "Hold was already captured"
    HOLD_VOIDED = "Hold was voided"
    HOLD_EXPIRED = "Hold has expired"
    CAPTURE_TOO_LARGE = "Capture amount exceeds the held amount"
    RATE_LIMITED = "Rate limit exceeded"
    """Refused by its API key's rate limit after the web answered 202 (Redis stalled while the
    request was sent): recorded when the operation is settled, so it is never applied."""
    UNPROCESSABLE = "Operation could not be processed"
    """PostgreSQL refuses the operation's own data for good (a check or data error): recorded
    in the ledger as rejected, so no requeue or retry can ever apply it."""
