"""The OpenAPI document's building blocks: references, a response and a request body with
their example, the patterns of money and ids, and the schemas every part of the API shares
(errors, money, ids) or that the probes answer."""

from __future__ import annotations

from typing import Any

from shared.money import MONEY_SCALE
from web.wallets.error_codes import CODES
from web.wallets.inputs import HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT

MONEY_PATTERN = rf"^-?[0-9]+(\.[0-9]{{1,{MONEY_SCALE}}})?$"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def response(schema: dict[str, Any], description: str, example: Any) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema, "example": example}}}


def limit_parameter(rows: str) -> dict[str, Any]:
    """``limit``: how many ``rows`` (``Events``, ``Operations``) a page holds."""
    return {
        "name": "limit",
        "in": "query",
        "description": f"{rows} per page (default {HISTORY_DEFAULT_LIMIT})",
        "schema": {"type": "integer", "minimum": 1, "maximum": HISTORY_MAX_LIMIT},
    }


def page_parameters(rows: str, cursor: str) -> list[dict[str, Any]]:
    """``limit`` and ``cursor`` (``cursor`` describes what it is valid for)."""
    return [
        limit_parameter(rows),
        {
            "name": "cursor",
            "in": "query",
            "description": f"The previous page's next: {cursor}",
            "schema": {"type": "string"},
        },
    ]


def request_body(schema: dict[str, Any], example: Any, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema, "example": example}}}


NULLABLE_CODE = {"type": "string", "enum": CODES, "nullable": True, "description": "The error's code; null if none"}

COMMON_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "code"],
        "properties": {
            "error": ref("ErrorMessage"),
            "code": ref("ErrorCode"),
            "request_id": ref("RequestId"),
            "index": {
                "type": "integer",
                "minimum": 0,
                "description": "Which operation of a bulk request is refused (from 0); absent otherwise",
            },
        },
        "additionalProperties": False,
    },
    "RequestId": {
        "type": "string",
        "description": "The request's id, as in its X-Request-Id header. Absent from an answer that reports"
        " what the ledger decided (insufficient funds, a balance limit): that one replays byte for byte.",
    },
    "ErrorMessage": {
        "type": "string",
        "description": "For people: what went wrong, in words (programs branch on code)",
    },
    "ErrorCode": {
        "type": "string",
        "enum": CODES,
        "description": "For programs: a stable code per kind of error (branch on this, not on the message)",
    },
    "Money": {
        "type": "string",
        "pattern": MONEY_PATTERN,
        "description": "An exact decimal with exactly its currency's decimals: 12.30 (EUR), 1230 (JPY), 1.230 (KWD);"
        " a balance may be negative within its wallet's overdraft line (min_balance)",
    },
    "Currency": {
        "type": "string",
        "pattern": "^[A-Z]{3}$",
        "description": "An ISO 4217 alphabetic code of a currency with minor units (not XAU, XXX...)",
        "example": "EUR",
    },
    "Uuid": {"type": "string", "pattern": UUID_PATTERN},
}

SERVICE_SCHEMAS: dict[str, Any] = {
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["ok"]}},
        "additionalProperties": False,
    },
    "Checks": {
        "type": "object",
        "description": "Each dependency: ok, or error: <what failed>",
        "required": ["postgres", "redis"],
        "properties": {"postgres": {"type": "string"}, "redis": {"type": "string"}},
        "additionalProperties": False,
    },
    "Backend": {
        "type": "object",
        "required": ["address", "failovers"],
        "properties": {
            "address": {
                "type": ["string", "null"],
                "description": "host:port of the server this process's latest connection reached (the Redis"
                " master the Sentinels name; the PostgreSQL host that answered as the primary); null: none yet",
            },
            "failovers": {
                "type": "integer",
                "minimum": 0,
                "description": "Times this process's connections reached another server than the one before",
            },
        },
        "additionalProperties": False,
    },
    "Backends": {
        "type": "object",
        "description": "Which servers this web process uses, and the failovers it has seen",
        "required": ["redis", "postgresql"],
        "properties": {"redis": ref("Backend"), "postgresql": ref("Backend")},
        "additionalProperties": False,
    },
    "Readiness": {
        "type": "object",
        "required": [
            *("status", "checks", "backends", "live_workers", "suspended"),
            *("unowned_shards", "lagging_shards", "max_lag_seconds"),
        ],
        "properties": {
            "status": {"type": "string", "enum": ["ready", "not ready"]},
            "checks": ref("Checks"),
            "backends": ref("Backends"),
            "live_workers": {"type": "integer", "minimum": 0},
            "suspended": {
                "type": "boolean",
                "description": "rq suspend holds the workers: operations are queued (answered 202), applied after"
                " rq resume. Shown, not a failed check: the operator chose it (alert WalletWorkersSuspended)",
            },
            "unowned_shards": {"type": "array", "items": {"type": "integer"}, "description": "No worker leases them"},
            "lagging_shards": {
                "type": "array",
                "items": {"type": "integer"},
                "description": "Their oldest queued operation waited longer than READY_MAX_LAG",
            },
            "max_lag_seconds": {"type": "number", "minimum": 0},
        },
        "additionalProperties": False,
    },
    "Unavailable": {
        "type": "object",
        "required": ["status", "error", "code"],
        "properties": {
            "status": {"type": "string", "enum": ["unavailable"]},
            "error": ref("ErrorMessage"),
            "code": ref("ErrorCode"),
            "request_id": ref("RequestId"),
            "checks": ref("Checks"),
            "backends": ref("Backends"),
        },
        "additionalProperties": False,
    },
}
