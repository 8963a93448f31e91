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
    CURRENCY_MISMATCH = "Currency mismatch"
    """Money of one currency sent to a wallet of another (the web refuses it before queueing;
    the writer refuses it too, whatever sent it)."""
    WALLET_NOT_FOUND = "Wallet not found"
    WALLET_FROZEN = "Wallet is frozen"
    """Money would leave a frozen wallet (a debit, a hold, a transfer out, a capture)."""
    WALLET_CLOSED = "Wallet is closed"
    WALLET_NOT_EMPTY = "Wallet is not empty"
    """A wallet is closed only with no money: a zero balance, no active hold, no transfer out
    still pending."""
    IDEMPOTENCY_MISMATCH = "Idempotency-Key was already used with a different request"
    HOLD_NOT_FOUND = "Hold not found"
    HOLD_CAPTURED = "Hold was already captured"
    HOLD_VOIDED = "Hold was voided"
    HOLD_EXPIRED = "Hold has expired"
    CAPTURE_TOO_LARGE = "Capture amount exceeds the held amount"
    NOT_REVERSIBLE = "Operation cannot be reversed"
    """A reversal names what is not an applied deposit or withdrawal of its wallet, nor a
    completed transfer into it, or names a reversal (the web refuses it first)."""
    REVERSAL_TOO_LARGE = "Reversal exceeds the amount left to reverse"
    """Reversals of one operation or transfer never add up to more than it."""
    RATE_LIMITED = "Rate limit exceeded"
    """Refused by its API key's rate limit after the web answered 202 (Redis stalled while the
    request was sent): recorded when the operation is settled, so it is never applied."""
    UNPROCESSABLE = "Operation could not be processed"
    """PostgreSQL refuses the operation's own data for good (a check or data error): recorded
    in the ledger as rejected, so no requeue or retry can ever apply it."""


REJECTION_CODES: dict[str, str] = {
    Rejection.INSUFFICIENT_FUNDS: "insufficient_funds",
    Rejection.BALANCE_LIMIT: "balance_limit_exceeded",
    Rejection.CURRENCY_MISMATCH: "currency_mismatch",
    Rejection.WALLET_NOT_FOUND: "wallet_not_found",
    Rejection.WALLET_FROZEN: "wallet_frozen",
    Rejection.WALLET_CLOSED: "wallet_closed",
    Rejection.WALLET_NOT_EMPTY: "wallet_not_empty",
    Rejection.IDEMPOTENCY_MISMATCH: "idempotency_key_reused",
    Rejection.HOLD_NOT_FOUND: "hold_not_found",
    Rejection.HOLD_CAPTURED: "hold_captured",
    Rejection.HOLD_VOIDED: "hold_voided",
    Rejection.HOLD_EXPIRED: "hold_expired",
    Rejection.CAPTURE_TOO_LARGE: "capture_exceeds_hold",
    Rejection.NOT_REVERSIBLE: "not_reversible",
    Rejection.REVERSAL_TOO_LARGE: "reversal_exceeds_original",
    Rejection.UNPROCESSABLE: "operation_unprocessable",
    Rejection.RATE_LIMITED: "rate_limit_exceeded",
}
"""The machine-readable ``code`` of each refusal (never changed once published; the API's
catalogue, ``web.wallets.error_codes``, includes them)."""

UNKNOWN_REJECTION_CODE = "invalid_request"
"""The code of a ledger ``error`` that is not a ``Rejection`` (none is written today)."""


def ledger_error_fields(message: str | None) -> dict[str, str | None]:
    """The ``error`` and ``code`` of a ledger row, leg or refused hold (both null if none)."""
    return {"error": message, "code": None if message is None else REJECTION_CODES.get(message, UNKNOWN_REJECTION_CODE)}
