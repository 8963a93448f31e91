"""A hold's states, and how its changes move between them (``worker.holds`` applies them;
the web answers with them)."""

from __future__ import annotations

from enum import StrEnum

from shared.messages import OperationType, Rejection


class HoldState(StrEnum):
    ACTIVE = "active"
    """Money set aside: in the balance, not available."""
    CAPTURED = "captured"
    VOIDED = "voided"
    EXPIRED = "expired"


RESOLVED_BY = {
    OperationType.HOLD_CAPTURE: HoldState.CAPTURED,
    OperationType.HOLD_VOID: HoldState.VOIDED,
    OperationType.HOLD_EXPIRE: HoldState.EXPIRED,
}
"""The state each change of a hold leaves it in."""

REFUSED_AS = {
    HoldState.CAPTURED: Rejection.HOLD_CAPTURED,
    HoldState.VOIDED: Rejection.HOLD_VOIDED,
    HoldState.EXPIRED: Rejection.HOLD_EXPIRED,
}
"""Why a change of a hold no longer active is refused, by the state it found (a 409)."""
