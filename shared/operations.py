"""Every kind of ledger operation, declared once with what it does (``KINDS``).

What the rest of the code knows of a kind is derived from its row here: its effect on the
balance (``sign``), whether it spends available money, whether a client may send it on
``/operation``, which transfer leg it is, which hold it makes or resolves, and whether it
moves money across the service's edge (the audit's money in and out). The worker applies each
kind with the handler its table names (``worker.handlers``).

A new kind of money movement is one ``OperationType`` member, one ``Kind`` row, one handler
(or an existing one) and the migration of the ledger's choices.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum, StrEnum
from uuid import UUID

from shared.holds import HoldState


class OperationType(StrEnum):
    DEPOSIT = "DEPOSIT"
    WITHDRAW = "WITHDRAW"
    TRANSFER_OUT = "TRANSFER_OUT"
    """A transfer's debit of its source wallet: the transfer's decision point."""
    TRANSFER_IN = "TRANSFER_IN"
    """A transfer's credit of its destination wallet."""
    TRANSFER_REFUND = "TRANSFER_REFUND"
    """Money of a transfer the destination refused, returned to the source."""
    HOLD = "HOLD"
    """Money set aside: still in the balance, no longer available."""
    HOLD_CAPTURE = "HOLD_CAPTURE"
    """A hold settled: the captured money leaves the wallet (to its ``to`` wallet, as a
    transfer's debit, if the hold named one); the rest is released."""
    HOLD_VOID = "HOLD_VOID"
    """A hold released on request."""
    HOLD_EXPIRE = "HOLD_EXPIRE"
    """A hold released at its ``expires_at``."""
    WALLET_UPDATE = "WALLET_UPDATE"
    """A change of the wallet's limits or status (``shared.wallet_controls``): no money moves,
    its amount is 0."""
    REVERSE_DEPOSIT = "REVERSE_DEPOSIT"
    """Money of an applied deposit taken back out (all or part of it; ``reversal_of`` names it)."""
    REVERSE_WITHDRAW = "REVERSE_WITHDRAW"
    """Money of an applied withdrawal put back (all or part of it; ``reversal_of`` names it)."""

    @property
    def kind(self) -> Kind:
        return KINDS[self]


class TransferLeg(StrEnum):
    """Which of a transfer's three ledger operations a kind is (``shared.transfers``)."""

    DEBIT = "debit"
    CREDIT = "credit"
    REFUND = "refund"


class Counterparty(Enum):
    """Whether an operation names another wallet (``counterparty_id``)."""

    NEVER = "never"
    MAY = "may"
    MUST = "must"


@dataclass(frozen=True, slots=True)
class Kind:
    """What a kind of operation does; one row of ``KINDS``."""

    sign: int
    """+1 adds its amount to the balance, -1 takes it out, 0 changes only the held money."""
    spends_available: bool = False
    """Refused when its amount is more than the wallet's available money (balance less held)."""
    client: bool = False
    """A client may send it on ``POST /wallets/<id>/operation``."""
    counterparty: Counterparty = Counterparty.NEVER
    leg: TransferLeg | None = None
    """The transfer leg it is (it names its transfer)."""
    debits_counterparty_transfer: bool = False
    """Naming another wallet makes it a transfer's debit (a capture to a wallet)."""
    makes_hold: bool = False
    """It sets money aside as a new hold (with the hold's id, which is its own, and an expiry)."""
    resolves_hold: HoldState | None = None
    """The state it leaves the hold it names in."""
    crosses_edge: bool = False
    """Unless it is a transfer's debit, its money enters (sign +1) or leaves (-1) the service."""
    returns_money: bool = False
    """A credit of money that was the wallet's a moment earlier (a refund): never refused. Its
    room under the wallet's limit was kept while the money was away (``worker.ledger_batch``)."""
    updates_wallet: bool = False
    """It changes the wallet's controls (``change``) and moves no money (its amount is 0)."""
    reverses: OperationType | None = None
    """The kind of operation of its wallet it reverses, which it names (``reversal_of``); a
    reversal of a transfer is a transfer (its legs name the transfer it reverses)."""

    def balance_change(self, amount: Decimal) -> Decimal:
        """What one of its rows of ``amount`` adds to its wallet's balance (negative: takes)."""
        return amount * self.sign

    @property
    def takes_money(self) -> bool:
        """Money leaves the wallet or is set aside: what a frozen wallet refuses."""
        return self.sign < 0 or self.spends_available

    @property
    def names_hold(self) -> bool:
        return self.makes_hold or self.resolves_hold is not None


KINDS: dict[OperationType, Kind] = {
    OperationType.DEPOSIT: Kind(sign=+1, client=True, crosses_edge=True),
    OperationType.WITHDRAW: Kind(sign=-1, spends_available=True, client=True, crosses_edge=True),
    OperationType.TRANSFER_OUT: Kind(
        sign=-1, spends_available=True, counterparty=Counterparty.MUST, leg=TransferLeg.DEBIT
    ),
    OperationType.TRANSFER_IN: Kind(sign=+1, counterparty=Counterparty.MUST, leg=TransferLeg.CREDIT),
    OperationType.TRANSFER_REFUND: Kind(
        sign=+1, counterparty=Counterparty.MUST, leg=TransferLeg.REFUND, returns_money=True
    ),
    OperationType.HOLD: Kind(sign=0, spends_available=True, counterparty=Counterparty.MAY, makes_hold=True),
    OperationType.HOLD_CAPTURE: Kind(
        sign=-1,
        counterparty=Counterparty.MAY,
        debits_counterparty_transfer=True,
        resolves_hold=HoldState.CAPTURED,
        crosses_edge=True,
    ),
    OperationType.HOLD_VOID: Kind(sign=0, resolves_hold=HoldState.VOIDED),
    OperationType.HOLD_EXPIRE: Kind(sign=0, resolves_hold=HoldState.EXPIRED),
    OperationType.WALLET_UPDATE: Kind(sign=0, updates_wallet=True),
    OperationType.REVERSE_DEPOSIT: Kind(
        sign=-1, spends_available=True, crosses_edge=True, reverses=OperationType.DEPOSIT
    ),
    OperationType.REVERSE_WITHDRAW: Kind(sign=+1, crosses_edge=True, reverses=OperationType.WITHDRAW),
}
"""Every kind, once. ``tests/shared/test_operations.py`` holds the table whole."""

CLIENT_OPERATION_TYPES = tuple(t for t, k in KINDS.items() if k.client)
"""The types a client may send to ``/operation``; transfer legs come only from transfers."""

TRANSFER_LEGS = {k.leg: t for t, k in KINDS.items() if k.leg is not None}
"""The kind of each leg of a transfer."""

HOLD_CHANGES = tuple(t for t, k in KINDS.items() if k.resolves_hold is not None)
"""The kinds that resolve a hold."""

WALLET_UPDATES = tuple(t for t, k in KINDS.items() if k.updates_wallet)
"""The kinds that change a wallet's controls (of amount 0)."""


REVERSAL_OF = {k.reverses: t for t, k in KINDS.items() if k.reverses is not None}
"""The kind that reverses each reversible kind (``POST /api/v1/operations/<id>/reversal``)."""


def may_name_reversal(operation_type: OperationType) -> bool:
    """Whether an operation of this kind may name an operation it reverses (``reversal_of``): a
    reversal must; a transfer's leg does when its transfer reverses another."""
    kind = KINDS[operation_type]
    return kind.reverses is not None or kind.leg is not None


def starts_transfer(operation_type: OperationType, counterparty_id: UUID | None) -> bool:
    """Whether an operation is a transfer's debit, whose operation id is the transfer's: a
    ``TRANSFER_OUT``, or the capture of a hold that names a destination. The one rule."""
    kind = KINDS[operation_type]
    return kind.leg is TransferLeg.DEBIT or (kind.debits_counterparty_transfer and counterparty_id is not None)
