"""Example requests and answers of the OpenAPI document, one consistent story.

A wallet of 100.00 holds 25.00, captures 10.00 of it, and moves 5.00 to another wallet.
``tests/web/test_openapi.py`` validates each example against its schema.
"""

from __future__ import annotations

from typing import Any

WALLET = "3f0c5e2a-8b1d-4c6e-9a7f-2d4b6c8e0a1f"
OTHER = "7a9b1c3d-5e7f-4a1b-8c2d-4e6f8a0b2c4d"
OPERATION = "c2d4e6f8-0a1b-4c3d-9e5f-7a9b1c3d5e7f"
TRANSFER = "1b3d5f7a-9c1e-4f2a-8b4c-6d8e0f2a4b6c"
CREDIT = "5d7f9b1d-3f5b-5c7d-9e1f-3a5b7c9d1e3f"
HOLD = "9e1f3a5b-7c9d-4e1f-a3b5-c7d9e1f3a5b7"
CAPTURE = "4c6e8a0c-2e4a-5b6c-8d0e-2f4a6b8c0d2e"
API_KEY = "0a2c4e6a-8c0e-4d2f-b4a6-c8e0a2c4e6a8"
CREATED = "2026-11-25T09:30:00.120000+00:00"
APPLIED = "2026-11-25T09:30:00.135000+00:00"
EXPIRES = "2026-12-02T09:30:00.135000+00:00"

LIMITS = {"min_balance": "-50.00", "max_balance": None, "status": "active"}
"""The example wallet's controls: an overdraft line of 50.00, no maximum."""

CUSTOMER = {"reference": "customer-8812", "metadata": {"segment": "retail"}}
"""The example wallet's own reference and metadata."""

ORDER = {"reference": "order-5521", "metadata": {"channel": "web"}}
"""The example deposit's."""

NONE = {"reference": None, "metadata": None}

OPERATION_ROW = {
    "operation_id": OPERATION,
    "wallet_id": WALLET,
    "operationType": "DEPOSIT",
    "amount": "100.00",
    "currency": "EUR",
    "status": "applied",
    "balance_after": "100.00",
    "error": None,
    "code": None,
    "api_key_id": API_KEY,
    "transfer_id": None,
    "counterparty_wallet_id": None,
    "hold_id": None,
    "held_after": "0.00",
    "available_after": "100.00",
    "change": None,
    "reversal_of": None,
    **ORDER,
    "position": 1042,
    "created_at": CREATED,
    "applied_at": APPLIED,
}

EVENT = "6e8a0c2e-4a6c-5d8e-9f1a-3b5c7d9e1f3a"

EXAMPLES: dict[str, Any] = {
    "wallet_request": {"currency": "EUR", "min_balance": "-50.00", **CUSTOMER},
    "wallet": {
        "id": WALLET,
        "currency": "EUR",
        "balance": "0.00",
        "available": "0.00",
        "held": "0.00",
        **LIMITS,
        **CUSTOMER,
    },
    "balance": {
        "id": WALLET,
        "currency": "EUR",
        "balance": "90.00",
        "available": "85.00",
        "held": "5.00",
        **LIMITS,
        **CUSTOMER,
    },
    "wallet_change": {"max_balance": "1000.00", "status": "frozen", "metadata": {"segment": "retail", "kyc": "review"}},
    "wallet_changed": {
        "id": WALLET,
        "currency": "EUR",
        "balance": "90.00",
        "available": "85.00",
        "held": "5.00",
        **LIMITS,
        "max_balance": "1000.00",
        "status": "frozen",
        **CUSTOMER,
        "metadata": {"segment": "retail", "kyc": "review"},
    },
    "operation_request": {"operationType": "DEPOSIT", "amount": "100.00", **ORDER},
    "operation_accepted": {"status": "Success", "new_balance": "100.00", "currency": "EUR", "operation_id": OPERATION},
    "operation_pending": {"status": "Pending", "operation_id": OPERATION},
    "bulk_request": {
        "operations": [
            {"wallet_id": WALLET, "operationType": "WITHDRAW", "amount": "20.00", "idempotency_key": "payout-2201"},
            {"wallet_id": OTHER, "operationType": "DEPOSIT", "amount": "20.00", "reference": "payout-2201"},
            {"wallet_id": OTHER, "operationType": "WITHDRAW", "amount": "500.00"},
        ]
    },
    "bulk_results": {
        "results": [
            {"index": 0, "status": "Success", "new_balance": "80.00", "currency": "EUR", "operation_id": OPERATION},
            {"index": 1, "status": "Pending", "operation_id": CREDIT, "location": f"/api/v1/operations/{CREDIT}"},
            {
                "index": 2,
                "status": "Rejected",
                "operation_id": CAPTURE,
                "error": "Insufficient funds",
                "code": "insufficient_funds",
            },
        ]
    },
    "operation": {**OPERATION_ROW, "reversed_amount": "0.00"},
    "reversal_request": {"amount": "30.00"},
    "history": {"results": [OPERATION_ROW], "next": None},
    "money_at": {
        "id": WALLET,
        "currency": "EUR",
        "balance": "100.00",
        "available": "100.00",
        "held": "0.00",
        "at": "2026-11-25T10:00:00+00:00",
        "position": 1042,
    },
    "statement": {
        "wallet_id": WALLET,
        "currency": "EUR",
        "from": "2026-11-25T00:00:00+00:00",
        "to": "2026-11-26T00:00:00+00:00",
        "opening_balance": "0.00",
        "rows": [
            {
                "time": APPLIED,
                "operation_id": OPERATION,
                "operationType": "DEPOSIT",
                "amount": "100.00",
                "balance_change": "100.00",
                "balance_after": "100.00",
                **ORDER,
                "counterparty_wallet_id": None,
                "position": 1042,
            }
        ],
        "closing_balance": "100.00",
        "row_count": 1,
    },
    "statement_csv": (
        "time,type,amount,balance_change,balance_after,reference,counterparty,operation_id\r\n"
        "2026-11-25T00:00:00+00:00,OPENING_BALANCE,,,0.00,,,\r\n"
        f"{APPLIED},DEPOSIT,100.00,100.00,100.00,order-5521,,{OPERATION}\r\n"
        "2026-11-26T00:00:00+00:00,CLOSING_BALANCE,,,100.00,,,\r\n"
    ),
    "transfer_request": {"from": WALLET, "to": OTHER, "amount": "5.00"},
    "transfer_completed": {
        "status": "Success",
        "transfer_id": TRANSFER,
        "state": "completed",
        "currency": "EUR",
        "from_balance": "85.00",
        "to_balance": "5.00",
    },
    "transfer_pending": {"status": "Pending", "transfer_id": TRANSFER, "state": "pending"},
    "transfer_failed": {
        "error": "Balance limit exceeded",
        "code": "balance_limit_exceeded",
        "transfer_id": TRANSFER,
        "state": "failed",
    },
    "transfer": {
        "transfer_id": TRANSFER,
        "from": WALLET,
        "to": OTHER,
        "amount": "5.00",
        "currency": "EUR",
        "state": "completed",
        "error": None,
        "code": None,
        "created_at": CREATED,
        "updated_at": APPLIED,
        "legs": {
            "debit": {"operation_id": TRANSFER, "status": "applied", "error": None, "code": None},
            "credit": {"operation_id": CREDIT, "status": "applied", "error": None, "code": None},
            "refund": None,
        },
        "reversal_of": None,
        **NONE,
        "reversed_amount": "0.00",
    },
    "hold_request": {"amount": "25.00", "expires_in": 604800},
    "hold_created": {
        "hold_id": HOLD,
        "state": "active",
        "amount": "25.00",
        "currency": "EUR",
        "expires_at": EXPIRES,
        "available": "75.00",
        "held": "25.00",
        "balance": "100.00",
    },
    "hold_pending": {"status": "Pending", "hold_id": HOLD},
    "capture_request": {"amount": "10.00"},
    "hold_changed": {
        "status": "Success",
        "hold_id": HOLD,
        "operation_id": CAPTURE,
        "state": "captured",
        "captured": "10.00",
        "released": "15.00",
        "currency": "EUR",
        "balance": "90.00",
        "available": "90.00",
        "held": "0.00",
    },
    "hold_resolved": {
        "error": "Hold was already captured",
        "code": "hold_captured",
        "hold_id": HOLD,
        "state": "captured",
    },
    "hold": {
        "hold_id": HOLD,
        "wallet_id": WALLET,
        "to": None,
        "amount": "25.00",
        "currency": "EUR",
        "state": "captured",
        "captured": "10.00",
        "expires_at": EXPIRES,
        "resolved_by": CAPTURE,
        "transfer_id": None,
        "created_at": CREATED,
        "updated_at": APPLIED,
        **NONE,
    },
    "events": {
        "results": [
            {
                "id": EVENT,
                "type": "operation.applied",
                "created": APPLIED,
                "data": {
                    **OPERATION_ROW,
                    "wallet": {
                        "id": WALLET,
                        "currency": "EUR",
                        "balance": "100.00",
                        "available": "100.00",
                        "held": "0.00",
                        "position": 1042,
                    },
                },
            }
        ],
        "next": "AAAAAAAAHogAAAAAAAAEEg",
        "has_more": False,
    },
    "health": {"status": "ok"},
    "ready": {
        "status": "ready",
        "checks": {"postgres": "ok", "redis": "ok"},
        "backends": {
            "redis": {"address": "10.0.0.12:6379", "failovers": 1},
            "postgresql": {"address": "10.0.0.21:5432", "failovers": 0},
        },
        "live_workers": 2,
        "suspended": False,
        "unowned_shards": [],
        "lagging_shards": [],
        "max_lag_seconds": 0.004,
    },
    "not_ready": {
        "status": "not ready",
        "checks": {"postgres": "ok", "redis": "ok"},
        "backends": {
            "redis": {"address": "10.0.0.11:6379", "failovers": 0},
            "postgresql": {"address": "10.0.0.21:5432", "failovers": 0},
        },
        "live_workers": 1,
        "suspended": False,
        "unowned_shards": [3],
        "lagging_shards": [3],
        "max_lag_seconds": 42.5,
    },
    "rate_limited": "Rate limit of 100 operations per second exceeded",
    "wallets_rate_limited": "Rate limit of 10 wallet creations per second exceeded",
    "method_not_allowed": "Method DELETE not allowed",
}
"""Example bodies by name (the two last are error messages)."""
