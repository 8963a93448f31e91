"""One batch's ledger in memory: the locked wallets' money, the rule that decides an operation,
and the rows, balances and events to write when the batch is done (``worker.apply``).

Every kind goes through ``LedgerBatch.decide``; what differs between kinds (a transfer's
record, a hold's state) is done by its handler (``worker.handlers``) around that call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

from shared.ledger import ledger_row
from shared.messages import OperationRequest, OperationResult
from shared.money import MAX_BALANCE, InvalidAmount, amount_for
from shared.operations import Kind
from shared.outcomes import OperationStatus, Rejection
from shared.replies import Reply
from worker.event_book import EventBook
from worker.holds import HoldBook
from worker.transfer_book import TransferBook


def money_refusal(
    kind: Kind, amount: Decimal, balance: Decimal, available: Decimal, outgoing: Decimal
) -> Rejection | None:
    """Why the wallet's money refuses an operation, if it does. Money leaving the wallet, or set
    aside, must be available (not held) when its kind ``spends_available``; a capture takes held
    money, which the hold's checks (``worker.holds``) cover. A credit must fit under the balance
    limit with the wallet's ``outgoing`` money (its transfers still pending, which may come back
    as refunds): so the money that returns (``returns_money``) always fits, and is never refused."""
    if kind.spends_available and amount > available:
        return Rejection.INSUFFICIENT_FUNDS
    if kind.sign > 0 and not kind.returns_money and balance + outgoing + amount > MAX_BALANCE:
        return Rejection.BALANCE_LIMIT
    return None


def balance_after(kind: Kind, amount: Decimal, balance: Decimal) -> Decimal:
    if kind.sign > 0:
        return balance + amount
    if kind.sign < 0:
        return balance - amount
    return balance


@dataclass(slots=True)
class Applied:
    """What one ``ledger_apply`` decided."""

    results: list[OperationResult]
    """One per request, in order."""
    inline_credits: list[Reply] = field(default_factory=list)
    """The answers to the credits applied with their debit (transfers within a shard): no job
    of their own, but a web request may wait for them."""


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
    applied: Applied = field(default_factory=lambda: Applied([]))
    new_rows: list[dict[str, Any]] = field(default_factory=list)
    changed: set[UUID] = field(default_factory=set)

    def available(self, wallet: UUID) -> Decimal:
        return self.balances[wallet] - self.helds[wallet]

    def refusal(self, request: OperationRequest) -> Rejection | None:
        """Why the money of ``request``'s wallet refuses it, if it does (the wallet is locked)."""
        wallet = request.wallet_id
        currency = self.currencies[wallet]
        if request.currency != currency:
            return Rejection.CURRENCY_MISMATCH
        try:
            amount_for(request.amount, currency)
        except InvalidAmount:
            return Rejection.UNPROCESSABLE  # more decimals than its currency has: the web refuses it first
        return money_refusal(
            request.operation_type.kind,
            request.amount,
            self.balances[wallet],
            self.available(wallet),
            self.outgoings[wallet],
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
        self.events.record(row, self.holds)
        return result
