"""The wire format between web nodes and shard workers.

A web node enqueues one ``OperationRequest`` per client operation as the only
argument of an RQ job (JSON serializer, never pickle); the worker answers with
one ``OperationResult`` published to the inbox of the web process that waits (``shared.replies``).
``api_key_id`` (the key that sent the operation, recorded in its ledger row), ``transfer_id``
and ``counterparty_id`` (a transfer leg's transfer and the other wallet), ``hold_id`` (the
hold it makes or changes), ``expires_at`` (a hold's), ``currency`` (the wallet's, as the
web node read it; the writer refuses a request whose currency is not its wallet's),
``change`` (a ``WALLET_UPDATE``'s, ``shared.wallet_controls``), ``reversal_of`` (the operation
or transfer a reversal, or a reversing transfer's leg, reverses), ``reference`` and ``metadata``
(the client's, ``shared.annotations``) and ``reply_to`` (the inbox) are optional: a message
without them reads as null (one sent before currencies takes its wallet's). Amounts are exact
decimal strings (a wallet update's is ``"0"``). What each kind names is its row of
``shared.operations.KINDS``. Both are plain JSON objects of strings, so
either side can be read by a human in redis-cli::

    {"v": 1, "operation_id": "…", "wallet_id": "…", "operation_type": "DEPOSIT",
     "amount": "10.00", "idempotency_key": null, "api_key_id": "…", "transfer_id": null,
     "counterparty_id": null, "hold_id": null, "expires_at": null, "currency": "EUR",
     "change": null, "reversal_of": null, "reference": "order-1", "metadata": {"channel": "web"},
     "created_at": "2026-11-24T04:33:09.123456+00:00", "reply_to": "3f0c…"}
    {"v": 1, "operation_id": "…", "status": "applied", "balance_after": "10.0000", "error": null,
     "held_after": "0.0000"}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from shared import keys
from shared.annotations import Metadata, identity_of, metadata_of, reference_of
from shared.errors import MalformedMessage
from shared.money import InvalidAmount, currency_known, format_money, parse_amount, wire_money
from shared.operations import Counterparty, OperationType, may_name_reversal, starts_transfer
from shared.outcomes import OperationStatus, Rejection
from shared.wallet_controls import InvalidChange, WalletChange, change_of

WIRE_VERSION = 1
"""Bumped on any incompatible change of the message fields."""


def _field(data: dict[str, Any], name: str) -> Any:
    try:
        return data[name]
    except KeyError:
        raise MalformedMessage(f"missing field {name!r}") from None


def _check_version(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise MalformedMessage(f"expected a JSON object, got {type(data).__name__}")
    if data.get("v") != WIRE_VERSION:
        raise MalformedMessage(f"unsupported wire version {data.get('v')!r}")
    return data


def _uuid_text(value: UUID | None) -> str | None:
    return None if value is None else str(value)


def _uuid_or_none(value: Any) -> UUID | None:
    return None if value is None else UUID(value)


def _aware_or_none(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("a time must carry a timezone")
    return moment


def _inconsistency(request: OperationRequest) -> str | None:
    """What makes a well-typed request impossible, if anything: each kind names exactly what
    its row of ``shared.operations.KINDS`` says (a transfer leg its transfer and other wallet,
    a hold's change its hold)."""
    kind = request.operation_type.kind
    starts = request.starts_transfer
    if (kind.leg is not None or starts) != (request.transfer_id is not None):
        return "only a transfer leg (or the capture of a hold with a destination) names a transfer"
    if kind.counterparty is Counterparty.MUST and request.counterparty_id is None:
        return "a transfer leg names its other wallet"
    if kind.counterparty is Counterparty.NEVER and request.counterparty_id is not None:
        return "an operation of one wallet names no other wallet"
    if starts and request.transfer_id != request.operation_id:
        return "a transfer's debit has the transfer's id"
    if kind.names_hold != (request.hold_id is not None):
        return "a hold, and only a hold, names a hold"
    if kind.makes_hold and (request.hold_id != request.operation_id or request.expires_at is None):
        return "a hold has the hold's id and an expiry"
    if not kind.makes_hold and request.expires_at is not None:
        return "only a hold expires"
    if kind.updates_wallet != (request.change is not None):
        return "a wallet update, and only it, names a change"
    if kind.updates_wallet != (request.amount == 0):
        return "a wallet update, and only it, moves no money"
    if request.reversal_of is not None and not may_name_reversal(request.operation_type):
        return "only a reversal, or a leg of a transfer that reverses one, names what it reverses"
    if kind.reverses is not None and request.reversal_of is None:
        return "a reversal names what it reverses"
    return None


def _amount_of(operation_type: OperationType, value: object) -> Decimal:
    """A message's amount: a positive amount, or exactly 0 for a kind that moves no money."""
    if operation_type.kind.updates_wallet and value in ("0", "0.0000"):
        return Decimal(0)
    return parse_amount(value)


class Identified(Protocol):
    """What ``request_identity`` reads: an ``OperationRequest``, or the ledger row one became
    (its ``operation_type`` as stored text, or as the enum)."""

    @property
    def operation_type(self) -> str: ...
    @property
    def amount(self) -> Decimal: ...
    @property
    def counterparty_id(self) -> UUID | None: ...
    @property
    def hold_id(self) -> UUID | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def expires_at(self) -> datetime | None: ...
    @property
    def currency(self) -> str | None: ...
    @property
    def change(self) -> object: ...
    @property
    def reversal_of(self) -> UUID | None: ...
    @property
    def reference(self) -> str | None: ...
    @property
    def metadata(self) -> Metadata | None: ...


_CENTS = Decimal("0.01")


def identity_amount(amount: Decimal, currency: str | None) -> str:
    """An amount as identities write it: with its currency's decimals (as the API shows it),
    so a request and its ledger row (stored with four) agree; a request of before currencies
    (None) with two, as all amounts had then."""
    return f"{amount.quantize(_CENTS):f}" if currency is None else format_money(amount, currency)


def request_identity(request: Identified) -> str:
    """What makes two requests under one Idempotency-Key "the same request" (the web's
    fingerprint and the worker's check both use it, on a request or on its ledger row): the
    kind and the amount; for a transfer or a capture to a wallet, the other wallet; for a
    change of a hold, the hold; for a hold, how long it lasts (its own id is new with each
    request, and so is its acceptance time); for a wallet update, the change; for a reversal,
    what it reverses; and the client's reference and metadata."""
    operation_type = OperationType(request.operation_type)
    kind = operation_type.kind
    identity = f"{operation_type.value}|{identity_amount(request.amount, request.currency)}"
    if request.counterparty_id is not None:
        identity += f"|{request.counterparty_id}"  # as before holds: fingerprints in Redis stay valid
    if kind.resolves_hold is not None and request.hold_id is not None:
        identity += f"|hold={request.hold_id}"
    if kind.makes_hold and request.expires_at is not None:
        identity += f"|for={round((request.expires_at - request.created_at).total_seconds())}"
    change = change_of(request.change)
    if change is not None:
        identity += f"|change={change.identity()}"
    if request.reversal_of is not None:
        identity += f"|of={request.reversal_of}"
    return identity + identity_of(request.reference, request.metadata)


@dataclass(frozen=True, slots=True)
class OperationRequest:
    operation_id: UUID
    wallet_id: UUID
    operation_type: OperationType
    amount: Decimal
    created_at: datetime
    idempotency_key: str | None = None
    api_key_id: UUID | None = None
    transfer_id: UUID | None = None
    counterparty_id: UUID | None = None
    hold_id: UUID | None = None
    expires_at: datetime | None = None
    """A HOLD's expiry (the worker refuses to capture or void it from then on)."""
    currency: str | None = None
    """The wallet's currency as the web node read it (None: a message of before currencies,
    which the writer gives its wallet's, ``worker.apply``)."""
    change: WalletChange | None = None
    """A ``WALLET_UPDATE``'s change of its wallet's controls."""
    reversal_of: UUID | None = None
    """What a reversal reverses: the operation of a ``REVERSE_*`` kind, or, on each leg of a
    transfer that reverses another, that transfer."""
    reference: str | None = None
    """The client's own id of the write (``shared.annotations``); each leg of a transfer keeps it."""
    metadata: Metadata | None = field(default=None, hash=False)
    """The client's strings (``shared.annotations``), as sent."""
    reply_to: str | None = None
    """The inbox of the web process waiting for its answer (``shared.replies``); None: nobody
    waits. Not part of what the request is: neither stored nor in its identity."""

    @property
    def starts_transfer(self) -> bool:
        """Whether it is a transfer's debit (``shared.operations.starts_transfer``)."""
        return starts_transfer(self.operation_type, self.counterparty_id)

    def to_wire(self) -> dict[str, Any]:
        return {
            "v": WIRE_VERSION,
            "operation_id": str(self.operation_id),
            "wallet_id": str(self.wallet_id),
            "operation_type": self.operation_type.value,
            "amount": wire_money(self.amount),
            "idempotency_key": self.idempotency_key,
            "api_key_id": _uuid_text(self.api_key_id),
            "transfer_id": _uuid_text(self.transfer_id),
            "counterparty_id": _uuid_text(self.counterparty_id),
            "hold_id": _uuid_text(self.hold_id),
            "expires_at": None if self.expires_at is None else self.expires_at.isoformat(),
            "currency": self.currency,
            "change": None if self.change is None else self.change.to_json(),
            "reversal_of": _uuid_text(self.reversal_of),
            "reference": self.reference,
            "metadata": self.metadata,
            "created_at": self.created_at.isoformat(),
            "reply_to": self.reply_to,
        }

    @classmethod
    def from_wire(cls, raw: Any) -> OperationRequest:
        data = _check_version(raw)
        try:
            created_at = datetime.fromisoformat(_field(data, "created_at"))
            if created_at.tzinfo is None:
                raise ValueError("created_at must carry a timezone")
            key = data.get("idempotency_key")
            if key is not None and not isinstance(key, str):
                raise ValueError("idempotency_key must be a string")
            currency = data.get("currency")
            if currency is not None and not currency_known(currency):
                raise ValueError("currency must be an ISO 4217 code with minor units")
            request = cls(
                operation_id=UUID(_field(data, "operation_id")),
                wallet_id=UUID(_field(data, "wallet_id")),
                operation_type=(operation_type := OperationType(_field(data, "operation_type"))),
                amount=_amount_of(operation_type, _field(data, "amount")),
                created_at=created_at,
                idempotency_key=key,
                api_key_id=_uuid_or_none(data.get("api_key_id")),
                transfer_id=_uuid_or_none(data.get("transfer_id")),
                counterparty_id=_uuid_or_none(data.get("counterparty_id")),
                hold_id=_uuid_or_none(data.get("hold_id")),
                expires_at=_aware_or_none(data.get("expires_at")),
                currency=currency,
                change=change_of(data.get("change")),
                reversal_of=_uuid_or_none(data.get("reversal_of")),
                reference=reference_of(data.get("reference")),
                metadata=metadata_of(data.get("metadata")),
                reply_to=data.get("reply_to"),
            )
            if request.reply_to is not None and not keys.inbox_name_valid(request.reply_to):
                raise ValueError("reply_to must name an inbox")
        except (AttributeError, TypeError, ValueError, InvalidAmount, InvalidChange) as exc:
            raise MalformedMessage(f"bad operation message: {exc}") from exc
        problem = _inconsistency(request)
        if problem:
            raise MalformedMessage(problem)
        return request


class LedgerRow(Protocol):
    """The columns of a ledger row an ``OperationResult`` is built from."""

    @property
    def id(self) -> UUID: ...
    @property
    def status(self) -> str: ...
    @property
    def balance_after(self) -> Decimal | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def held_after(self) -> Decimal: ...


@dataclass(frozen=True, slots=True)
class OperationResult:
    operation_id: UUID
    status: OperationStatus
    balance_after: Decimal | None
    error: str | None = None
    held_after: Decimal = Decimal(0)
    """The wallet's held money after it (the balance less this is available)."""

    @classmethod
    def from_row(cls, row: LedgerRow) -> OperationResult:
        """The result a ledger row records (the one way to read one)."""
        return cls(row.id, OperationStatus(row.status), row.balance_after, row.error, row.held_after)

    @property
    def rejection(self) -> Rejection | None:
        """Why it was refused, as a kind (None if applied, or if the text is not one of ours)."""
        if self.status is not OperationStatus.REJECTED or self.error is None:
            return None
        try:
            return Rejection(self.error)
        except ValueError:
            return None

    def to_wire(self) -> dict[str, Any]:
        return {
            "v": WIRE_VERSION,
            "operation_id": str(self.operation_id),
            "status": self.status.value,
            "balance_after": None if self.balance_after is None else wire_money(self.balance_after),
            "error": self.error,
            "held_after": wire_money(self.held_after),
        }

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_wire(), separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> OperationResult:
        try:
            data = _check_version(json.loads(raw))
            balance = data.get("balance_after")
            return cls(
                operation_id=UUID(_field(data, "operation_id")),
                status=OperationStatus(_field(data, "status")),
                balance_after=None if balance is None else Decimal(balance),
                error=data.get("error"),
                held_after=Decimal(data.get("held_after") or 0),
            )
        except (AttributeError, TypeError, ValueError, ArithmeticError) as exc:
            raise MalformedMessage(f"bad operation result: {exc}") from exc


OPERATION_JOB = "worker.jobs.operation_apply_job"
"""The RQ job function an operation is enqueued as (the web names it, never imports it)."""
