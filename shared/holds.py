"""A hold's states, and the refusal each resolved state gives (``worker.holds`` applies the
changes ``shared.operations`` declares; the web answers with them)."""

from __future__ import annotations

from enum import StrEnum

from shared.outcomes import Rejection


class HoldState(StrEnum):
    ACTIVE = "active"
    """Money set aside: in the balance, not available."""
    CAPTURED = "captured"
    VOIDED = "voided"
    EXPIRED = "expired"


REFUSED_AS = {
    HoldState.CAPTURED: Rejection.HOLD_CAPTURED,
    HoldState.VOIDED: Rejection.HOLD_VOIDED,
    HoldState.EXPIRED: Rejection.HOLD_EXPIRED,
}
"""Why a change of a hold no longer active is refused, by the state it found (a 409)."""
