"""A wallet's controls: its limits and its status, and a change of them (``WalletChange``),
which may also replace the client's ``metadata`` of the wallet.

- ``min_balance``: the lowest its available money (balance less held) may be taken by a debit
  or a hold; ``0`` by default, negative for an overdraft line, never positive.
- ``max_balance``: the highest a credit may take its balance (None: only ``MAX_BALANCE``).
- ``status``: ``active``; ``frozen`` (no money leaves: debits, holds, transfers out and captures
  are refused; credits, voids and expiries still happen); ``closed`` (for good: nothing more).

A change is a ledger row of its own (``WALLET_UPDATE``, ``shared.operations``), decided by the
wallet's writer in order with its money; its ``change`` column is the change as asked, in the
wire form of ``WalletChange.to_json`` (only the fields asked; ``max_balance`` null removes the
limit, ``metadata`` replaces the whole object, null or ``{}`` removes it)::

    {"min_balance": "-50.0000", "max_balance": null, "status": "frozen", "metadata": {"tier": "gold"}}

A wallet's metadata right after a change is the last change at or before it that names
``metadata``, else the metadata it was made with (``wallets.created_metadata``): so the answer to
a change is the same however often its key is replayed, and the audit checks the wallet's
``metadata`` against it (``shared.audit.metadata_mismatches``).

Lowering a limit below the money a wallet has is allowed: it only refuses further movement in
that direction (so ``balance - held >= min_balance`` holds at each debit, not for ever).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from shared.annotations import InvalidAnnotation, Metadata, metadata_of
from shared.money import LEDGER_UNIT, MAX_BALANCE, format_money


class WalletStatus(StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"
    """No money leaves it; money owed to it still arrives."""
    CLOSED = "closed"
    """Empty, and refuses everything for good; still readable with its history."""


CONTROL_FIELDS = ("min_balance", "max_balance", "status")
"""A wallet's controls, as its body shows them, in that order."""
CHANGE_FIELDS = (*CONTROL_FIELDS, "metadata")
"""What a change may name (``PATCH /api/v1/wallets/<id>``), in the order shown."""


class InvalidChange(ValueError):
    """Not a change of a wallet's controls (the message says which rule it breaks)."""


@dataclass(frozen=True, slots=True)
class Controls:
    """A wallet's controls as they stand (the defaults: no overdraft, no maximum, active)."""

    min_balance: Decimal = Decimal(0)
    max_balance: Decimal | None = None
    status: WalletStatus = WalletStatus.ACTIVE

    @classmethod
    def stored(cls, min_balance: Decimal, max_balance: Decimal | None, status: str) -> Controls:
        """A wallet's controls as its columns hold them (most wallets have the defaults: one
        object for them all)."""
        if min_balance == 0 and max_balance is None and status == WalletStatus.ACTIVE:
            return _DEFAULTS
        return cls(min_balance, max_balance, WalletStatus(status))

    @property
    def ceiling(self) -> Decimal:
        """The highest balance a credit may reach."""
        return MAX_BALANCE if self.max_balance is None else min(self.max_balance, MAX_BALANCE)

    def to_json(self, currency: str) -> dict[str, Any]:
        """The controls as a wallet's body shows them, in ``currency``'s decimals."""
        return {
            "min_balance": format_money(self.min_balance, currency),
            "max_balance": None if self.max_balance is None else format_money(self.max_balance, currency),
            "status": self.status.value,
        }


_DEFAULTS = Controls()
_UNCHANGED = object()


def _wire_limit(value: Decimal) -> str:
    """A limit as the wire and the ledger carry it: with the ledger's four decimals, so one
    limit has one form however the client wrote it (``"-50"``, ``"-50.00"``: ``"-50.0000"``)."""
    return f"{value.quantize(LEDGER_UNIT):f}"


def limit_value(value: object, field: str) -> Decimal:
    """A limit as sent (a decimal string or JSON number), exact; ``InvalidChange`` if not one or
    out of its range (``min_balance`` at most 0, ``max_balance`` at least 0, both within
    ``MAX_BALANCE``)."""
    if isinstance(value, bool) or not isinstance(value, str | Decimal | int):
        raise InvalidChange(f"{field} must be a decimal string")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise InvalidChange(f"{field} must be a decimal string") from None
    if not amount.is_finite() or abs(amount) > MAX_BALANCE or amount != amount.quantize(LEDGER_UNIT):
        raise InvalidChange(f"{field} must be a decimal string within {MAX_BALANCE}")
    if field == "min_balance" and amount > 0:
        raise InvalidChange("min_balance must be 0 or negative (an overdraft line)")
    if field == "max_balance" and amount < 0:
        raise InvalidChange("max_balance must be 0 or more")
    return amount


@dataclass(frozen=True, slots=True)
class WalletChange:
    """A change of a wallet's controls and metadata: the fields it names, exactly (``None``: not
    named; ``max_balance`` is named with no limit when ``max_removed``, ``metadata`` with none
    when ``metadata_removed``)."""

    min_balance: Decimal | None = None
    max_balance: Decimal | None = None
    max_removed: bool = False
    status: WalletStatus | None = None
    metadata: Metadata | None = field(default=None, hash=False)
    metadata_removed: bool = False

    def __post_init__(self) -> None:
        if self.max_removed and self.max_balance is not None:
            raise InvalidChange("max_balance is either removed or set")
        if self.metadata_removed and self.metadata is not None:
            raise InvalidChange("metadata is either removed or set")
        controls = (self.min_balance, self.max_balance, self.status)
        if all(named is None for named in controls) and not self.max_removed and not self.names_metadata:
            raise InvalidChange(f"a change names at least one of {', '.join(CHANGE_FIELDS)}")

    @property
    def names_metadata(self) -> bool:
        return self.metadata is not None or self.metadata_removed

    def metadata_after(self, metadata: Metadata | None) -> Metadata | None:
        """A wallet's ``metadata`` after this change: replaced if it names it."""
        return self.metadata if self.names_metadata else metadata

    def applied_to(self, controls: Controls) -> Controls:
        """``controls`` after this change."""
        changed = controls
        if self.min_balance is not None:
            changed = replace(changed, min_balance=self.min_balance)
        if self.max_balance is not None or self.max_removed:
            changed = replace(changed, max_balance=self.max_balance)
        if self.status is not None:
            changed = replace(changed, status=self.status)
        return changed

    def to_json(self) -> dict[str, Any]:
        """The wire form (messages, the ledger's ``change`` column): only the fields named,
        limits with four decimals (``_wire_limit``)."""
        data: dict[str, Any] = {}
        if self.min_balance is not None:
            data["min_balance"] = _wire_limit(self.min_balance)
        if self.max_balance is not None or self.max_removed:
            data["max_balance"] = None if self.max_balance is None else _wire_limit(self.max_balance)
        if self.status is not None:
            data["status"] = self.status.value
        if self.names_metadata:
            data["metadata"] = self.metadata
        return data

    def shown(self, currency: str) -> dict[str, Any]:
        """As an operation's body shows it: the fields named, in ``currency``'s decimals."""
        data = self.to_json()
        for name in ("min_balance", "max_balance"):
            if data.get(name) is not None:
                data[name] = format_money(Decimal(data[name]), currency)
        return data

    def identity(self) -> str:
        """What makes two changes the same request (``shared.messages.request_identity``)."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: object) -> WalletChange:
        """A change from its wire form, or from a client's body (``InvalidChange`` naming the rule)."""
        if not isinstance(data, Mapping):
            raise InvalidChange("a change is a JSON object")
        unknown = sorted(set(data) - set(CHANGE_FIELDS))
        if unknown:
            raise InvalidChange(f"unknown field {unknown[0]!r}")
        status = data.get("status", _UNCHANGED)
        if status is not _UNCHANGED and status not in WalletStatus.__members__.values():
            raise InvalidChange(f"status must be one of {', '.join(s.value for s in WalletStatus)}")
        maximum = data.get("max_balance", _UNCHANGED)
        minimum = data.get("min_balance", _UNCHANGED)
        named = data.get("metadata", _UNCHANGED)
        try:
            metadata = None if named is _UNCHANGED else metadata_of(named)
        except InvalidAnnotation as exc:
            raise InvalidChange(str(exc)) from None
        return cls(
            min_balance=None if minimum is _UNCHANGED else limit_value(minimum, "min_balance"),
            max_balance=None if maximum is _UNCHANGED or maximum is None else limit_value(maximum, "max_balance"),
            max_removed=maximum is None,
            status=None if status is _UNCHANGED else WalletStatus(str(status)),
            metadata=metadata,
            metadata_removed=named is not _UNCHANGED and metadata is None,
        )


def change_of(value: object) -> WalletChange | None:
    """A stored change (the ledger's or a pending record's ``change``: a mapping, or JSON text as
    a plain driver may read it), or None."""
    if value is None or isinstance(value, WalletChange):
        return value
    if isinstance(value, str):
        value = json.loads(value)
    return WalletChange.from_json(value)
