"""The schemas of the API's resources: wallets, operations, transfers and holds, their requests
and answers (``tests/web/test_openapi.py`` holds each request schema to the parser's fields)."""

from __future__ import annotations

from typing import Any

from shared.annotations import (
    ANNOTATION_FIELDS,
    METADATA_KEY_MAX,
    METADATA_MAX_KEYS,
    METADATA_VALUE_MAX,
    REFERENCE_MAX,
)
from shared.events import EventType
from shared.holds import REFUSED_AS, HoldState
from shared.money import MAX_BALANCE
from shared.operations import CLIENT_OPERATION_TYPES, OperationType
from shared.outcomes import OperationStatus
from shared.transfers import TransferState
from shared.wallet_controls import CONTROL_FIELDS, WalletStatus
from web.wallets.api.openapi.components import NULLABLE_CODE, ref
from web.wallets.inputs import BULK_MAX_ITEMS, HOLD_DEFAULT_SECONDS, HOLD_MAX_SECONDS

WALLET_MONEY: dict[str, Any] = {
    "id": ref("Uuid"),
    "currency": ref("Currency"),
    "balance": ref("Money"),
    "available": ref("Money"),
    "held": ref("Money"),
}
"""A wallet's money, as an event and the balance at an instant show it (``shared.resources.wallet_json``)."""

ANNOTATED: dict[str, Any] = {"reference": ref("Reference"), "metadata": ref("Metadata")}
"""A write's own reference and metadata (``shared.annotations``), in its request."""

SHOWN: dict[str, Any] = {
    "reference": {**ref("Reference"), "nullable": True},
    "metadata": {**ref("Metadata"), "nullable": True},
}
"""The same, as a body that shows the row shows them (null: none sent)."""

RESOURCE_SCHEMAS: dict[str, Any] = {
    "Reference": {
        "type": "string",
        "minLength": 1,
        "maxLength": REFERENCE_MAX,
        "description": "The client's own id of the write (an order, an invoice), printable characters; part of the"
        " request's identity under an Idempotency-Key",
    },
    "Metadata": {
        "type": "object",
        "maxProperties": METADATA_MAX_KEYS,
        "propertyNames": {"minLength": 1, "maxLength": METADATA_KEY_MAX, "pattern": r"^[^\[\]]*$"},
        "additionalProperties": {"type": "string", "maxLength": METADATA_VALUE_MAX},
        "description": "The client's strings, kept as sent on every row the write makes (both legs of a transfer);"
        " part of the request's identity under an Idempotency-Key",
    },
    "Wallet": {
        "type": "object",
        "required": ["id", "currency", "balance", "available", "held", *CONTROL_FIELDS, *ANNOTATION_FIELDS],
        "properties": {
            "id": ref("Uuid"),
            "currency": ref("Currency"),
            "balance": ref("Money"),
            "available": {
                **ref("Money"),
                "description": "What withdrawals, transfers and new holds may use, down to min_balance",
            },
            "held": {**ref("Money"), "description": "Set aside by active holds (balance = available + held)"},
            "min_balance": {
                **ref("Money"),
                "description": "Lowest available money a debit or hold may leave: 0, or below for an overdraft line",
            },
            "max_balance": {**ref("Money"), "nullable": True, "description": "Highest balance a credit may reach"},
            "status": ref("WalletStatus"),
            **SHOWN,
        },
        "additionalProperties": False,
    },
    "WalletRequest": {
        "type": "object",
        "properties": {
            "currency": {
                **ref("Currency"),
                "description": "The wallet's currency, for good (default: DEFAULT_CURRENCY)",
            },
            "min_balance": {**ref("MinBalance"), "description": "Default 0"},
            "max_balance": {**ref("MaxBalance"), "description": "Default none"},
            **ANNOTATED,
        },
        "additionalProperties": False,
    },
    "WalletChange": {
        "type": "object",
        "description": "At least one of its fields; a change is applied by the wallet's writer, in order with its"
        " money. A limit may be set past the money the wallet has: it only refuses further movement that way",
        "minProperties": 1,
        "properties": {
            "min_balance": ref("MinBalance"),
            "max_balance": {**ref("MaxBalance"), "nullable": True, "description": "null: no maximum"},
            "status": {
                **ref("WalletStatus"),
                "description": "frozen: no debit, hold, transfer out or capture (credits, voids and expiries"
                " still happen); closed: for good, only when empty (no balance, hold or transfer out pending)",
            },
            "metadata": {
                **ref("Metadata"),
                "nullable": True,
                "description": "Replaces the wallet's whole metadata (null or {}: none); its reference stays as made",
            },
        },
        "additionalProperties": False,
    },
    "WalletStatus": {"type": "string", "enum": [s.value for s in WalletStatus]},
    "MinBalance": {
        "description": f"0 or negative (an overdraft line), at least -{MAX_BALANCE}, with at most the wallet's"
        " currency's decimals",
        "oneOf": [
            {"type": "number", "maximum": 0},
            {"type": "string", "pattern": r"^(0|-[0-9]{1,18})(\.[0-9]{1,4})?$"},
        ],
    },
    "MaxBalance": {
        "description": f"0 or more, at most {MAX_BALANCE}, with at most the wallet's currency's decimals",
        "oneOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": r"^[0-9]{1,18}(\.[0-9]{1,4})?$"}],
    },
    "OperationRequest": {
        "type": "object",
        "required": ["operationType", "amount"],
        "properties": {
            "operationType": {"type": "string", "enum": [t.value for t in CLIENT_OPERATION_TYPES]},
            "amount": ref("Amount"),
            **ANNOTATED,
        },
        "additionalProperties": False,
    },
    "BulkRequest": {
        "type": "object",
        "required": ["operations"],
        "properties": {
            "operations": {
                "type": "array",
                "minItems": 1,
                "maxItems": BULK_MAX_ITEMS,
                "description": "Applied in this order, wallet by wallet; not atomic: each is applied or refused"
                " on its own",
                "items": ref("BulkOperation"),
            }
        },
        "additionalProperties": False,
    },
    "BulkOperation": {
        "type": "object",
        "required": ["wallet_id", "operationType", "amount"],
        "properties": {
            "wallet_id": ref("Uuid"),
            "operationType": {"type": "string", "enum": [t.value for t in CLIENT_OPERATION_TYPES]},
            "amount": ref("Amount"),
            **ANNOTATED,
            "idempotency_key": {
                "type": "string",
                "minLength": 1,
                "maxLength": 255,
                "description": "This operation's Idempotency-Key, as the header is for a single one (scoped to"
                " its wallet; at most once per wallet in a request)",
            },
        },
        "additionalProperties": False,
    },
    "BulkResults": {
        "type": "object",
        "required": ["results"],
        "properties": {"results": {"type": "array", "items": ref("BulkResult")}},
        "additionalProperties": False,
    },
    "BulkResult": {
        "type": "object",
        "description": "What became of one operation: Success (as a single one's 200), Rejected (the error a"
        " single one would answer), or Pending (as a 202: poll its location)",
        "required": ["index", "status"],
        "properties": {
            "index": {"type": "integer", "minimum": 0},
            "status": {"type": "string", "enum": ["Success", "Rejected", "Pending"]},
            "operation_id": {**ref("Uuid"), "description": "Absent when its Idempotency-Key names another request"},
            "new_balance": ref("Money"),
            "currency": ref("Currency"),
            "error": ref("ErrorMessage"),
            "code": ref("ErrorCode"),
            "location": {"type": "string", "description": "A pending one's status URL"},
            "replayed": {
                "type": "boolean",
                "description": "Answered for an Idempotency-Key already used (Idempotent-Replayed)",
            },
        },
        "additionalProperties": False,
    },
    "Amount": {
        "description": "Greater than 0, at most 1000000000000, with at most the wallet's currency's decimals"
        " (2 for EUR, 0 for JPY, 3 for KWD; more is a 400 that says how many)",
        "oneOf": [
            {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 1_000_000_000_000},
            {"type": "string", "pattern": r"^[0-9]{1,13}(\.[0-9]{1,4})?$"},
        ],
    },
    "TransferRequest": {
        "type": "object",
        "required": ["from", "to", "amount"],
        "properties": {
            "from": {**ref("Uuid"), "description": "The wallet the money leaves (scopes the Idempotency-Key)"},
            "to": {**ref("Uuid"), "description": "The wallet the money goes to (not the same one)"},
            "amount": ref("Amount"),
            **ANNOTATED,
        },
        "additionalProperties": False,
    },
    "TransferCompleted": {
        "type": "object",
        "required": ["status", "transfer_id", "state", "currency", "from_balance", "to_balance"],
        "properties": {
            "status": {"type": "string", "enum": ["Success"]},
            "transfer_id": ref("Uuid"),
            "state": {"type": "string", "enum": [TransferState.COMPLETED.value]},
            "currency": ref("Currency"),
            "from_balance": {**ref("Money"), "description": "The source's balance right after the debit"},
            "to_balance": {**ref("Money"), "description": "The destination's balance right after the credit"},
        },
        "additionalProperties": False,
    },
    "TransferPending": {
        "type": "object",
        "required": ["status", "transfer_id", "state"],
        "properties": {
            "status": {"type": "string", "enum": ["Pending"]},
            "transfer_id": ref("Uuid"),
            "state": {"type": "string", "enum": [TransferState.PENDING.value]},
        },
        "additionalProperties": False,
    },
    "TransferFailed": {
        "type": "object",
        "description": "The destination refused the credit; the money went back to the source",
        "required": ["error", "code", "transfer_id", "state"],
        "properties": {
            "error": ref("ErrorMessage"),
            "code": ref("ErrorCode"),
            "transfer_id": ref("Uuid"),
            "state": {"type": "string", "enum": [TransferState.FAILED.value]},
        },
        "additionalProperties": False,
    },
    "TransferLeg": {
        "type": "object",
        "required": ["operation_id", "status"],
        "properties": {
            "operation_id": ref("Uuid"),
            "status": {"type": "string", "enum": [s.value for s in OperationStatus]},
            "error": {"type": "string", "nullable": True},
            "code": NULLABLE_CODE,
        },
        "additionalProperties": False,
    },
    "Transfer": {
        "type": "object",
        "required": ["transfer_id", "state", "legs"],
        "properties": {
            "transfer_id": ref("Uuid"),
            "from": ref("Uuid"),
            "to": ref("Uuid"),
            "amount": ref("Money"),
            "currency": ref("Currency"),
            "state": {
                "type": "string",
                "enum": [s.value for s in TransferState],
                "description": "pending: debited (or queued), not yet credited; failed: nothing moved, or refunded",
            },
            "error": {"type": "string", "nullable": True},
            "code": NULLABLE_CODE,
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "legs": {
                "type": "object",
                "required": ["debit", "credit", "refund"],
                "properties": {
                    "debit": ref("TransferLeg"),
                    "credit": {**ref("TransferLeg"), "nullable": True},
                    "refund": {**ref("TransferLeg"), "nullable": True},
                },
                "additionalProperties": False,
            },
            "reversal_of": {**ref("Uuid"), "nullable": True, "description": "The transfer this one sends back"},
            **SHOWN,
            "reversed_amount": {
                **ref("Money"),
                "description": "Not of a reversal: the money of the transfers reversing it (pending or completed)",
            },
        },
        "additionalProperties": False,
    },
    "HoldRequest": {
        "type": "object",
        "required": ["amount"],
        "properties": {
            "amount": ref("Amount"),
            "expires_in": {
                "type": "integer",
                "minimum": 1,
                "maximum": HOLD_MAX_SECONDS,
                "default": HOLD_DEFAULT_SECONDS,
                "description": "Seconds until the worker releases it, unless captured or voided first",
            },
            "to": {**ref("Uuid"), "description": "Where a capture moves the money (as a transfer); else it leaves"},
            **ANNOTATED,
        },
        "additionalProperties": False,
    },
    "HoldCreated": {
        "type": "object",
        "required": ["hold_id", "state", "amount", "currency", "expires_at", "available", "held", "balance"],
        "properties": {
            "hold_id": ref("Uuid"),
            "state": {"type": "string", "enum": [HoldState.ACTIVE.value]},
            "amount": ref("Money"),
            "currency": ref("Currency"),
            "expires_at": {"type": "string", "format": "date-time"},
            "available": ref("Money"),
            "held": ref("Money"),
            "balance": ref("Money"),
        },
        "additionalProperties": False,
    },
    "HoldPending": {
        "type": "object",
        "required": ["status", "hold_id"],
        "properties": {
            "status": {"type": "string", "enum": ["Pending"]},
            "hold_id": ref("Uuid"),
            "state": {"type": "string", "enum": ["pending"]},
            "transfer_id": {**ref("Uuid"), "description": "A capture to a wallet whose credit is not applied yet"},
        },
        "additionalProperties": False,
    },
    "ReversalRequest": {
        "type": "object",
        "properties": {
            "amount": {**ref("Amount"), "description": "At most what is left to reverse; default: all of that"},
            **ANNOTATED,
        },
        "additionalProperties": False,
    },
    "VoidRequest": {"type": "object", "properties": ANNOTATED, "additionalProperties": False},
    "CaptureRequest": {
        "type": "object",
        "properties": {
            "amount": {**ref("Amount"), "description": "At most the held amount; default: all of it"},
            **ANNOTATED,
        },
        "additionalProperties": False,
    },
    "HoldChanged": {
        "type": "object",
        "required": [
            *("status", "hold_id", "operation_id", "state", "released"),
            *("currency", "balance", "available", "held"),
        ],
        "properties": {
            "status": {"type": "string", "enum": ["Success"]},
            "hold_id": ref("Uuid"),
            "operation_id": ref("Uuid"),
            "state": {"type": "string", "enum": [HoldState.CAPTURED.value, HoldState.VOIDED.value]},
            "captured": ref("Money"),
            "released": {**ref("Money"), "description": "Held money made available again"},
            "currency": ref("Currency"),
            "balance": ref("Money"),
            "available": ref("Money"),
            "held": ref("Money"),
            "transfer_id": {**ref("Uuid"), "description": "A capture to a wallet: its transfer"},
            "transfer_state": {
                "type": "string",
                "enum": [TransferState.COMPLETED.value, TransferState.FAILED.value],
                "description": "failed: the to wallet refused the credit and the money came back",
            },
        },
        "additionalProperties": False,
    },
    "HoldResolved": {
        "type": "object",
        "description": "The hold was already captured, voided or expired",
        "required": ["error", "code", "hold_id", "state"],
        "properties": {
            "error": ref("ErrorMessage"),
            "code": ref("ErrorCode"),
            "hold_id": ref("Uuid"),
            "state": {"type": "string", "enum": [state.value for state in REFUSED_AS]},
        },
        "additionalProperties": False,
    },
    "Hold": {
        "type": "object",
        "required": ["hold_id", "state"],
        "properties": {
            "hold_id": ref("Uuid"),
            "wallet_id": ref("Uuid"),
            "to": {**ref("Uuid"), "nullable": True},
            "amount": ref("Money"),
            "currency": ref("Currency"),
            "state": {
                "type": "string",
                "enum": [*(state.value for state in HoldState), "pending", "rejected"],
                "description": "pending: answered 202, not decided yet; rejected: never held (see error)",
            },
            "captured": {**ref("Money"), "nullable": True},
            "expires_at": {"type": "string", "format": "date-time"},
            "resolved_by": {**ref("Uuid"), "nullable": True},
            "transfer_id": {**ref("Uuid"), "nullable": True},
            "error": {"type": "string", "nullable": True},
            "code": NULLABLE_CODE,
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            **SHOWN,
        },
        "additionalProperties": False,
    },
    "OperationAccepted": {
        "type": "object",
        "required": ["status", "new_balance", "currency", "operation_id"],
        "properties": {
            "status": {"type": "string", "enum": ["Success"]},
            "new_balance": ref("Money"),
            "currency": ref("Currency"),
            "operation_id": ref("Uuid"),
        },
        "additionalProperties": False,
    },
    "OperationPending": {
        "type": "object",
        "required": ["status", "operation_id"],
        "properties": {"status": {"type": "string", "enum": ["Pending"]}, "operation_id": ref("Uuid")},
        "additionalProperties": False,
    },
    "Operation": {
        "type": "object",
        "required": ["operation_id", "status"],
        "properties": {
            "operation_id": ref("Uuid"),
            "wallet_id": ref("Uuid"),
            "operationType": {"type": "string", "enum": [t.value for t in OperationType]},
            "amount": ref("Money"),
            "currency": ref("Currency"),
            "status": {"type": "string", "enum": [s.value for s in OperationStatus]},
            "balance_after": ref("Money"),
            "error": {"type": "string", "nullable": True},
            "code": NULLABLE_CODE,
            "api_key_id": {**ref("Uuid"), "nullable": True},
            "transfer_id": {**ref("Uuid"), "nullable": True},
            "counterparty_wallet_id": {**ref("Uuid"), "nullable": True},
            "hold_id": {**ref("Uuid"), "nullable": True},
            "held_after": {**ref("Money"), "description": "The wallet's held money after it"},
            "change": {
                "type": "object",
                "nullable": True,
                "description": "A WALLET_UPDATE's change, as asked (the fields it named)",
                "properties": {
                    "min_balance": ref("Money"),
                    "max_balance": {**ref("Money"), "nullable": True},
                    "status": ref("WalletStatus"),
                },
                "additionalProperties": False,
            },
            "available_after": {**ref("Money"), "description": "balance_after less held_after"},
            "reversal_of": {
                **ref("Uuid"),
                "nullable": True,
                "description": "What it reverses (a REVERSE_*'s operation; a leg's: what its transfer reverses)",
            },
            "reversed_amount": {
                **ref("Money"),
                "description": "A DEPOSIT's or WITHDRAW's status only: the money of its applied reversals",
            },
            **SHOWN,
            "position": {
                "type": "integer",
                "description": "Its place in the ledger: increasing along each wallet's operations",
            },
            "created_at": {"type": "string", "format": "date-time"},
            "applied_at": {"type": "string", "format": "date-time"},
        },
        "additionalProperties": False,
    },
    "Event": {
        "type": "object",
        "required": ["id", "type", "created", "data"],
        "properties": {
            "id": {**ref("Uuid"), "description": "The same forever (and every webhook of it has it)"},
            "type": {"type": "string", "enum": [t.value for t in EventType]},
            "created": {"type": "string", "format": "date-time"},
            "data": {
                "type": "object",
                "description": "The resource its type names (a Wallet, an Operation, a Transfer or a Hold) as the"
                " API showed it then; but for wallet.created, with wallet: that wallet's money right after it",
                "properties": {"wallet": ref("EventWallet")},
            },
        },
        "additionalProperties": False,
    },
    "EventWallet": {
        "type": "object",
        "required": [*WALLET_MONEY, "position"],
        "properties": {
            **WALLET_MONEY,
            "position": {"type": "integer", "description": "The position of the ledger row the event is"},
        },
        "additionalProperties": False,
    },
    "Events": {
        "type": "object",
        "required": ["results", "next", "has_more"],
        "properties": {
            "results": {"type": "array", "items": ref("Event")},
            "next": {
                "type": "string",
                "nullable": True,
                "description": "Where to continue (also at the end: ask again later); null only for an empty feed",
            },
            "has_more": {"type": "boolean", "description": "More events are there now"},
        },
        "additionalProperties": False,
    },
    "History": {
        "type": "object",
        "required": ["results", "next"],
        "properties": {
            "results": {"type": "array", "items": ref("Operation")},
            "next": {
                "type": "string",
                "nullable": True,
                "description": "The cursor of the next page (it keeps this page's filters); null on the last page",
            },
        },
        "additionalProperties": False,
    },
    "WalletAt": {
        "type": "object",
        "required": [*WALLET_MONEY, "at", "position"],
        "properties": {
            **WALLET_MONEY,
            "at": {"type": "string", "format": "date-time", "description": "The instant asked, in UTC"},
            "position": {
                "type": "integer",
                "nullable": True,
                "description": "The position of the last ledger row decided at or before it (null: none yet)",
            },
        },
        "additionalProperties": False,
    },
    "StatementRow": {
        "type": "object",
        "required": ["time", "operation_id", "operationType", "amount", "balance_change", "balance_after"],
        "properties": {
            "time": {"type": "string", "format": "date-time", "description": "When its writer decided it"},
            "operation_id": ref("Uuid"),
            "operationType": {"type": "string", "enum": [t.value for t in OperationType]},
            "amount": ref("Money"),
            "balance_change": {**ref("Money"), "description": "Its effect on the balance (negative: taken out)"},
            "balance_after": ref("Money"),
            **SHOWN,
            "counterparty_wallet_id": {**ref("Uuid"), "nullable": True},
            "position": {"type": "integer"},
        },
        "additionalProperties": False,
    },
    "Statement": {
        "type": "object",
        "required": ["wallet_id", "currency", "from", "to", "opening_balance", "rows", "closing_balance", "row_count"],
        "properties": {
            "wallet_id": ref("Uuid"),
            "currency": ref("Currency"),
            "from": {"type": "string", "format": "date-time"},
            "to": {"type": "string", "format": "date-time"},
            "opening_balance": {**ref("Money"), "description": "The balance before from"},
            "rows": {"type": "array", "items": ref("StatementRow"), "description": "Applied rows, oldest first"},
            "closing_balance": {
                **ref("Money"),
                "description": "The opening balance plus every row's balance_change: the balance before to",
            },
            "row_count": {"type": "integer"},
        },
        "additionalProperties": False,
    },
}
