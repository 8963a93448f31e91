"""Machine-readable error codes: the ``code`` sent next to every ``error`` message.

The messages are the seed's contract and stay as they are; clients branch on ``code``
instead of comparing text. A code never changes once published. Each message names one
code; a message not in the catalogue (one with a number in it, such as a rate limit's)
gets its status's code.
"""

from __future__ import annotations

from shared import webhook_urls
from shared.outcomes import REJECTION_CODES
from web.wallets.inputs import BULK_MAX_ITEMS, HISTORY_MAX_LIMIT, HOLD_MAX_SECONDS, MAX_WEBHOOK_ENDPOINTS

# Messages of request bodies and query strings (``api.parsing``).
INVALID_AMOUNT = "Invalid or missing amount"
"""Alone, or followed by the decimals the wallet's currency allows."""
INVALID_CURRENCY = 'Invalid "currency": an ISO 4217 code with minor units, such as EUR or JPY'
INVALID_OPERATION_TYPE = "Invalid operationType"
INVALID_CONTROLS = "Invalid wallet controls"
"""Followed by the rule broken (``shared.wallet_controls``)."""
INVALID_ANNOTATIONS = "Invalid reference or metadata"
"""Followed by the rule broken (``shared.annotations``)."""
MALFORMED_JSON = "Malformed JSON body"
NOT_AN_OBJECT = "Request body must be a JSON object"
DUPLICATE_KEY = "Duplicate key in JSON object"
NOT_JSON = "Content-Type must be application/json"
INVALID_CURSOR = "Invalid cursor"
INVALID_FROM = 'Invalid or missing "from": a wallet id'
INVALID_TO = 'Invalid or missing "to": a wallet id'
SAME_WALLET = "A transfer needs two different wallets"
INVALID_EXPIRES_IN = (
    f'"expires_in" must be a whole number of seconds from 1 to {HOLD_MAX_SECONDS} ({HOLD_MAX_SECONDS // 86400} days)'
)
HOLD_TO_SELF = 'A hold\'s "to" must be another wallet'
UNKNOWN_FIELDS = "Unknown fields"
"""Followed by the fields, and the ones the request takes: a typo must not pass silently."""

INVALID_EVENT_TYPE = "Unknown event type"
"""Followed by the one sent, and the types there are."""
INVALID_WALLET_FILTER = 'Invalid "wallet": a wallet id'

INVALID_EVENT_TYPES = '"event_types" must be a non-empty list of event types'
ENDPOINT_NOT_FOUND = "Webhook endpoint not found"
EVENT_NOT_FOUND = "Event not found"
ENDPOINT_QUOTA = f"This tenant has reached its limit of {MAX_WEBHOOK_ENDPOINTS} webhook endpoints"

INVALID_LIMIT = f"limit must be an integer from 1 to {HISTORY_MAX_LIMIT}"

OVER_RATE = "More than a rate limit allows in one request"
"""Followed by how many the request counts and the key's rate (a bulk request to split)."""
INVALID_BULK = f'Invalid "operations": a list of 1 to {BULK_MAX_ITEMS} operations'
INVALID_WALLET_ID = 'Invalid or missing "wallet_id": a wallet id'
DUPLICATE_ITEM_KEY = "Duplicate idempotency_key for one wallet in one request"
BULK_HEADER_KEY = 'A bulk request takes no Idempotency-Key header: give each operation its "idempotency_key"'

UNKNOWN_PARAMETERS = "Unknown query parameters"
"""Followed by the ones sent, and the ones the request takes (a mistyped filter must not
widen an answer); also a parameter given twice."""
INVALID_FILTER = "Invalid filter"
"""Followed by the filter and what it takes."""
INVALID_TIME = "Invalid time"
"""Followed by the parameter and why: not ISO 8601 with a UTC offset, or in the future."""
INVALID_RANGE = "Invalid range"
"""Followed by the rule a statement's ``from`` and ``to`` break."""

OPERATION_REJECTED = "Operation rejected"
"""A worker's refusal that carries no message of its own (the code is its status's)."""

# Messages of authentication, quotas, idempotency and lookups.
MISSING = "Missing API key: send Authorization: Bearer <key>"
MALFORMED = "Malformed API key"
UNKNOWN = "Unknown or revoked API key"
READ_ONLY = "This API key is read-only"
WALLET_QUOTA = "This tenant has reached its quota of wallets"
INVALID_KEY = "Invalid Idempotency-Key: 1 to 255 printable ASCII characters"
IN_FLIGHT = "A request with this Idempotency-Key is still in progress"
OPERATION_NOT_FOUND = "Operation not found"
TRANSFER_NOT_FOUND = "Transfer not found"
NOT_APPLIED = "Operation is not applied"
"""A reversal of an operation still pending, or rejected."""
NOT_COMPLETED = "Transfer is not completed"
"""A reversal of a transfer still pending, or failed."""
BODY_TOO_LARGE = "Request body too large"
BODY_UNREADABLE = "Request body incomplete"
HEAD_TOO_LARGE = "Request head too large"
METRICS_UNAUTHORIZED = "Missing or wrong metrics token"
UNAVAILABLE = "Service temporarily unavailable"

BY_STATUS = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}
"""The code of an error whose message is not in the catalogue."""

BY_MESSAGE = {
    # 400: the request itself
    INVALID_AMOUNT: "invalid_amount",
    INVALID_CURRENCY: "invalid_currency",
    INVALID_OPERATION_TYPE: "invalid_operation_type",
    INVALID_CONTROLS: "invalid_wallet_controls",
    INVALID_ANNOTATIONS: "invalid_annotations",
    MALFORMED_JSON: "malformed_json",
    NOT_AN_OBJECT: "body_not_object",
    DUPLICATE_KEY: "duplicate_json_key",
    INVALID_CURSOR: "invalid_cursor",
    INVALID_LIMIT: "invalid_limit",
    OVER_RATE: "over_rate_limit_at_once",
    INVALID_BULK: "invalid_operations",
    DUPLICATE_ITEM_KEY: "duplicate_idempotency_key",
    INVALID_WALLET_ID: "invalid_wallet_id",
    BULK_HEADER_KEY: "bulk_idempotency_key_header",
    UNKNOWN_PARAMETERS: "unknown_parameter",
    INVALID_FILTER: "invalid_filter",
    INVALID_TIME: "invalid_time",
    INVALID_RANGE: "invalid_range",
    INVALID_EVENT_TYPE: "invalid_event_type",
    INVALID_WALLET_FILTER: "invalid_wallet",
    INVALID_EVENT_TYPES: "invalid_event_types",
    webhook_urls.BAD_URL: "invalid_webhook_url",
    webhook_urls.NO_CREDENTIALS: "webhook_url_credentials",
    webhook_urls.UNRESOLVED: "webhook_url_unresolved",
    webhook_urls.PRIVATE: "webhook_url_private",
    INVALID_FROM: "invalid_from",
    INVALID_TO: "invalid_to",
    SAME_WALLET: "same_wallet",
    INVALID_EXPIRES_IN: "invalid_expires_in",
    HOLD_TO_SELF: "hold_to_self",
    UNKNOWN_FIELDS: "unknown_field",
    INVALID_KEY: "invalid_idempotency_key",
    BODY_TOO_LARGE: "body_too_large",
    BODY_UNREADABLE: "body_incomplete",
    HEAD_TOO_LARGE: "head_too_large",
    "Bad request": "invalid_request",
    # 400, 404, 409, 422: what a worker refused (also the ``error`` of a rejected operation)
    **REJECTION_CODES,
    # 401, 403: who is asking
    MISSING: "api_key_missing",
    MALFORMED: "api_key_malformed",
    UNKNOWN: "api_key_unknown",
    READ_ONLY: "api_key_read_only",
    METRICS_UNAUTHORIZED: "metrics_token_invalid",
    WALLET_QUOTA: "wallet_quota_reached",
    # 404, 409
    OPERATION_NOT_FOUND: "operation_not_found",
    TRANSFER_NOT_FOUND: "transfer_not_found",
    NOT_APPLIED: "operation_not_applied",
    NOT_COMPLETED: "transfer_not_completed",
    ENDPOINT_NOT_FOUND: "webhook_endpoint_not_found",
    EVENT_NOT_FOUND: "event_not_found",
    ENDPOINT_QUOTA: "webhook_endpoint_quota_reached",
    IN_FLIGHT: "idempotency_key_in_flight",
    NOT_JSON: "unsupported_media_type",
    UNAVAILABLE: "service_unavailable",
}
"""Every fixed message the API sends, with its code."""

CODES = sorted({*BY_STATUS.values(), *BY_MESSAGE.values()})
"""Every code the API may send (the OpenAPI document lists them)."""


def error_code(message: str, status: int) -> str:
    """The code of an error answer (``status`` is its HTTP status); a message that names what
    it is about after a colon (``Unknown fields: ...``) has the code of what precedes it."""
    return (
        BY_MESSAGE.get(message)
        or BY_MESSAGE.get(message.partition(":")[0])
        or BY_STATUS.get(status)
        or BY_STATUS[400 if status < 500 else 500]
    )


def error_fields(message: str, status: int) -> dict[str, str]:
    """The ``error`` and ``code`` of an error answer, for its JSON body."""
    return {"error": message, "code": error_code(message, status)}


def request_error_fields(message: str, status: int, request_id: str | None) -> dict[str, str | None]:
    """``error_fields`` of an answer refusing a request, with the request's id (its
    ``X-Request-Id``); not for what the ledger decided, which replays byte for byte."""
    return {**error_fields(message, status), "request_id": request_id}
