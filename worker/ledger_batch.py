"""One batch's ledger in memory: the locked wallets' money, the rule that decides an operation,
and the rows, balances and events to write when the batch is done (``worker.apply``).

Every kind goes through ``LedgerBatch.decide``; what differs between kinds (a transfer's
record, a hold's state) is done by its handler (``worker.handlers``) around that call.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any
from uuid import UUID

from shared.annotations import Annotations
from shared.ledger import ledger_row
from shared.messages import OperationRequest, OperationResult
from shared.money import InvalidAmount, amount_for
from shared.operations import Kind
from shared.outcomes import OperationStatus, Rejection
from shared.replies import Reply
from shared.wallet_controls import Controls, WalletChange, WalletStatus
from worker import reversals
from worker.event_book import EventBook
from worker.holds import HoldBook
from worker.reversals import ReversalBook
from worker.transfer_book import TransferBook


def status_refusal(kind: Kind, status: WalletStatus) -> Rejection | None:
    """Why the wallet's status refuses an operation, if it does: a closed wallet refuses
    everything, a frozen one all that takes money (``Kind.takes_money``). Money that returns (a
    refund) is never refused: a wallet with a transfer out pending is not closed."""
    if kind.returns_money:
        return None
    if status is WalletStatus.CLOSED:
        return Rejection.WALLET_CLOSED
    if status is WalletStatus.FROZEN and kind.takes_money:
        return Rejection.WALLET_FROZEN
    return None


def money_refusal(
    kind: Kind, amount: Decimal, balance: Decimal, available: Decimal, outgoing: Decimal, controls: Controls
) -> Rejection | None:
    """Why the wallet's money refuses an operation, if it does. Money leaving the wallet, or set
    aside, must leave its available money (not held) at ``min_balance`` or above when its kind
    ``spends_available``; a capture takes held money, which the hold's checks (``worker.holds``)
    cover. A credit must fit under the wallet's ceiling (``max_balance``, and ``MAX_BALANCE``)
    with its ``outgoing`` money (its transfers still pending, which may come back as refunds): so
    the money that returns (``returns_money``) always fits, and is never refused."""
    if kind.spends_available and available - amount < controls.min_balance:
        return Rejection.INSUFFICIENT_FUNDS
    if kind.sign > 0 and not kind.returns_money and balance + outgoing + amount > controls.ceiling:
        return Rejection.BALANCE_LIMIT
    return None


def change_refusal(
    change: WalletChange, controls: Controls, balance: Decimal, held: Decimal, outgoing: Decimal
) -> Rejection | None:
    """Why a wallet refuses a change of its controls, if it does: a closed wallet stays closed;
    a wallet is closed only empty (no balance, no active hold, no transfer out pending)."""
    if controls.status is WalletStatus.CLOSED:
        return Rejection.WALLET_CLOSED
    if change.status is WalletStatus.CLOSED and (balance != 0 or held != 0 or outgoing != 0):
        return Rejection.WALLET_NOT_EMPTY
    return None


def balance_after(kind: Kind, amount: Decimal, balance: Decimal) -> Decimal:
    return balance + kind.balance_change(amount)


@dataclass(slots=True)
class Applied:
    """What one ``ledger_apply`` decided."""

    results: list[OperationResult]
    """One per request, in order."""
    inline_legs: list[Reply] = field(default_factory=list)
    """The answers to the credits and refunds decided with their debit (transfers within a
    shard): no job of their own, but a web request may wait for them."""


@dataclass(slots=True)
class LedgerBatch:
    """The wallets of one batch, locked, and what the batch decided so far."""

    holds: HoldBook
    transfers: TransferBook
    events: EventBook
    balances: dict[UUID, Decimal]
    helds: dict[UUID, Decimal]
    outgoings: dict[UUID, Decimal]
    """Each wallet's money in transfers still pending (``worker.apply._OUTGOING``)."""
    currencies: dict[UUID, str]
    controls: dict[UUID, Controls]
    annotations: dict[UUID, Annotations]
    """The reference and metadata of each wallet the batch may update (its events show them; a
    change may replace the metadata, ``_SET_CONTROLS``)."""
    reversals: ReversalBook
    applied: Applied = field(default_factory=lambda: Applied([]))
    new_rows: list[dict[str, Any]] = field(default_factory=list)
    changed: set[UUID] = field(default_factory=set)
    """Wallets whose money changed."""
    updated: set[UUID] = field(default_factory=set)
    """Wallets whose controls or metadata changed."""

    def available(self, wallet: UUID) -> Decimal:
        return self.balances[wallet] - self.helds[wallet]

    def refusal(self, request: OperationRequest) -> Rejection | None:
        """Why ``request``'s wallet refuses it, if it does (the wallet is locked): its controls,
        its money, and for a reversal what is left to reverse."""
        wallet = request.wallet_id
        kind = request.operation_type.kind
        controls = self.controls[wallet]
        if kind.updates_wallet:
            assert request.change is not None  # a message without one is malformed
            return change_refusal(
                request.change, controls, self.balances[wallet], self.helds[wallet], self.outgoings[wallet]
            )
        refused = status_refusal(kind, controls.status)
        if refused is not None:
            return refused
        currency = self.currencies[wallet]
        if request.currency != currency:
            return Rejection.CURRENCY_MISMATCH
        try:
            amount_for(request.amount, currency)
        except InvalidAmount:
            return Rejection.UNPROCESSABLE  # more decimals than its currency has: the web refuses it first
        if reversals.decides(request):
            refused = self.reversals.refusal(request)
            if refused is not None:
                return refused
        return money_refusal(
            kind, request.amount, self.balances[wallet], self.available(wallet), self.outgoings[wallet], controls
        )

    def decide(self, request: OperationRequest, rejection: Rejection | None = None) -> OperationResult:
        """Apply or refuse one operation in memory (refused for ``rejection`` if given, else as
        its wallet's money says); its ledger row is written with the batch."""
        wallet = request.wallet_id
        balance = self.balances[wallet]
        after = balance
        if rejection is None:
            rejection = self.refusal(request)
        if rejection is None:
            after = balance_after(request.operation_type.kind, request.amount, balance)
            self.balances[wallet] = after
            self.helds[wallet] += self.holds.held_change(request)
            self.holds.applied(request)
            self.changed.add(wallet)
            if request.change is not None:
                self.controls[wallet] = request.change.applied_to(self.controls[wallet])
                annotations = self.annotations[wallet]
                metadata = request.change.metadata_after(annotations.metadata)
                self.annotations[wallet] = replace(annotations, metadata=metadata)
                self.updated.add(wallet)
            if reversals.decides(request):
                self.reversals.applied(request)
            result = OperationResult(request.operation_id, OperationStatus.APPLIED, after, None, self.helds[wallet])
        else:
            result = OperationResult(
                request.operation_id, OperationStatus.REJECTED, balance, rejection.value, self.helds[wallet]
            )
        row = ledger_row(
            request,
            result,
            balance_after=after,
            held_after=self.helds[wallet],
            hold_id=self.holds.ledger_hold_id(request),
            currency=self.currencies[wallet],
        )
        self.new_rows.append(row)
        self.events.record(row, self.holds, self.controls[wallet])
        return result
