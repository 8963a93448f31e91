"""Turning client input into typed values, or ``InvalidRequest``/``NotFound``.

The order of checks is part of the contract: the amount is checked before the
operation type, as in the seed.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any
from uuid import UUID

from shared import webhook_urls
from shared.annotations import ANNOTATION_FIELDS, Annotations, InvalidAnnotation
from shared.errors import InvalidRequest, NotFound, RequestError, UnsupportedMediaType
from shared.events import EventType
from shared.money import InvalidAmount, currency_known, parse_amount
from shared.operations import CLIENT_OPERATION_TYPES, OperationType
from shared.wallet_controls import CHANGE_FIELDS, InvalidChange, WalletChange
from web.wallets.error_codes import (
    DUPLICATE_ITEM_KEY,
    DUPLICATE_KEY,
    HOLD_TO_SELF,
    INVALID_AMOUNT,
    INVALID_ANNOTATIONS,
    INVALID_BULK,
    INVALID_CONTROLS,
    INVALID_CURRENCY,
    INVALID_CURSOR,
    INVALID_EVENT_TYPE,
    INVALID_EVENT_TYPES,
    INVALID_EXPIRES_IN,
    INVALID_FROM,
    INVALID_KEY,
    INVALID_LIMIT,
    INVALID_OPERATION_TYPE,
    INVALID_TO,
    INVALID_WALLET_FILTER,
    INVALID_WALLET_ID,
    MALFORMED_JSON,
    NOT_AN_OBJECT,
    NOT_JSON,
    SAME_WALLET,
    UNKNOWN_FIELDS,
)
from web.wallets.inputs import (
    BULK_MAX_ITEMS,
    HISTORY_DEFAULT_LIMIT,
    HISTORY_MAX_LIMIT,
    HOLD_DEFAULT_SECONDS,
    HOLD_MAX_SECONDS,
    BulkItem,
    EndpointInput,
    HoldInput,
    OperationInput,
    PartialInput,
    TransferInput,
    WalletInput,
)
from web.wallets.money.currencies import limits_in
from web.wallets.money.idempotency import parse_idempotency_key


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # With the last value silently winning, {"amount": 1, "amount": 1000} is ambiguous: refuse it.
    data = dict(pairs)
    if len(data) != len(pairs):
        raise _DuplicateKey()
    return data


def require_json(content_type: str, body: bytes) -> None:
    """A body must say it is JSON: a form or text/plain body is what any web page can make a
    browser post cross-origin, without a preflight."""
    if body and content_type != "application/json":
        raise UnsupportedMediaType(NOT_JSON)


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Parse a request body as a JSON object with exact decimals."""
    try:
        data = json.loads(
            body.decode("utf-8"),
            parse_float=Decimal,
            parse_int=Decimal,
            parse_constant=_reject_constant,
            object_pairs_hook=_unique_keys,
        )
    except _DuplicateKey:
        raise InvalidRequest(DUPLICATE_KEY) from None
    # ArithmeticError: a number beyond Decimal's exponent range (1e99999999999999999999).
    except (UnicodeDecodeError, ValueError, RecursionError, ArithmeticError):
        raise InvalidRequest(MALFORMED_JSON) from None
    if not isinstance(data, dict):
        raise InvalidRequest(NOT_AN_OBJECT)
    return data


def refuse_unknown_fields(data: dict[str, Any], fields: tuple[str, ...]) -> None:
    """``InvalidRequest`` naming the keys of ``data`` that are not ``fields``."""
    unknown = [name for name in data if name not in fields]
    if unknown:
        expected = ", ".join(fields) if fields else "none"
        raise InvalidRequest(f"{UNKNOWN_FIELDS}: {', '.join(unknown)} (this request takes: {expected})")


def _amount_of(data: dict[str, Any]) -> Decimal:
    try:
        return parse_amount(data.get("amount"))
    except InvalidAmount:
        raise InvalidRequest(INVALID_AMOUNT) from None


def _annotations_of(data: dict[str, Any]) -> Annotations:
    try:
        return Annotations.from_json(data)
    except InvalidAnnotation as exc:
        raise InvalidRequest(f"{INVALID_ANNOTATIONS}: {exc}") from None


LIMIT_FIELDS = ("min_balance", "max_balance")
WALLET_FIELDS = ("currency", *LIMIT_FIELDS, *ANNOTATION_FIELDS)
OPERATION_FIELDS = ("operationType", "amount", *ANNOTATION_FIELDS)
TRANSFER_FIELDS = ("from", "to", "amount", *ANNOTATION_FIELDS)
HOLD_FIELDS = ("amount", "expires_in", "to", *ANNOTATION_FIELDS)
BULK_FIELDS = ("operations",)
BULK_ITEM_FIELDS = ("wallet_id", *OPERATION_FIELDS, "idempotency_key")
PARTIAL_FIELDS = ("amount", *ANNOTATION_FIELDS)
"""A capture's and a reversal's (``parse_partial``); a void's, without the amount."""
ENDPOINT_FIELDS = ("url", "event_types")


def parse_wallet(body: bytes, *, default_currency: str) -> WalletInput:
    """``{"currency": "JPY", "min_balance": "-50", "max_balance": "1000"}`` (each optional), or
    an empty body or ``{}`` for a wallet of ``default_currency`` with the default limits."""
    if not body:
        return WalletInput(default_currency)
    data = parse_json_object(body)
    refuse_unknown_fields(data, WALLET_FIELDS)
    currency = data.get("currency", default_currency)
    if not currency_known(currency):
        raise InvalidRequest(INVALID_CURRENCY)
    limits = {name: data[name] for name in LIMIT_FIELDS if name in data}
    return WalletInput(currency, limits_in(_change_of(limits), currency) if limits else None, _annotations_of(data))


def parse_wallet_change(body: bytes) -> WalletChange:
    """``PATCH /wallets/<id>``: ``{"min_balance"?, "max_balance"? (null: none), "status"?,
    "metadata"? (null or {}: none)}``, at least one (whether the limits suit the wallet's
    currency is checked once it is known)."""
    data = parse_json_object(body)
    refuse_unknown_fields(data, CHANGE_FIELDS)
    return _change_of(data)


def _change_of(data: dict[str, Any]) -> WalletChange:
    try:
        return WalletChange.from_json(data)
    except InvalidChange as exc:
        raise InvalidRequest(f"{INVALID_CONTROLS}: {exc}") from None


def parse_operation(body: bytes) -> OperationInput:
    return _operation_of(parse_json_object(body), OPERATION_FIELDS)


def _operation_of(data: dict[str, Any], fields: tuple[str, ...]) -> OperationInput:
    amount = _amount_of(data)
    refuse_unknown_fields(data, fields)
    raw_type = data.get("operationType")
    if raw_type not in CLIENT_OPERATION_TYPES:
        raise InvalidRequest(INVALID_OPERATION_TYPE)
    operation_type = OperationType(raw_type)
    return OperationInput(operation_type=operation_type, amount=amount, annotations=_annotations_of(data))


def parse_bulk(body: bytes) -> list[BulkItem]:
    """``{"operations": [{"wallet_id", "operationType", "amount", "reference"?, "metadata"?,
    "idempotency_key"?}, ...]}``: 1 to ``BULK_MAX_ITEMS`` operations, each checked as a single
    one is; the error of a bad one names its ``index``. An Idempotency-Key names one operation
    of a wallet: twice for one wallet in one request is refused."""
    data = parse_json_object(body)
    refuse_unknown_fields(data, BULK_FIELDS)
    raw = data.get("operations")
    if not isinstance(raw, list) or not 1 <= len(raw) <= BULK_MAX_ITEMS:
        raise InvalidRequest(INVALID_BULK)
    items: list[BulkItem] = []
    keyed: set[tuple[UUID, str]] = set()
    for index, entry in enumerate(raw):
        try:
            if not isinstance(entry, dict):
                raise InvalidRequest(INVALID_BULK)
            item = _bulk_item_of(entry)
            if item.idempotency_key is not None:
                if (item.wallet_id, item.idempotency_key) in keyed:
                    raise InvalidRequest(DUPLICATE_ITEM_KEY)
                keyed.add((item.wallet_id, item.idempotency_key))
        except RequestError as exc:
            exc.index = index
            raise
        items.append(item)
    return items


def _bulk_item_of(data: dict[str, Any]) -> BulkItem:
    operation = _operation_of(data, BULK_ITEM_FIELDS)
    wallet_id = _wallet_field(data, "wallet_id", INVALID_WALLET_ID)
    key = data.get("idempotency_key")
    if key is not None and not isinstance(key, str):
        raise InvalidRequest(INVALID_KEY)
    return BulkItem(wallet_id, operation, parse_idempotency_key(key))


def _wallet_field(data: dict[str, Any], name: str, message: str) -> UUID:
    value = data.get(name)
    if not isinstance(value, str):
        raise InvalidRequest(message)
    try:
        return UUID(value)
    except ValueError:
        raise InvalidRequest(message) from None


def parse_transfer(body: bytes) -> TransferInput:
    """``{"from": <wallet id>, "to": <wallet id>, "amount": "12.34"}``; the amount checked
    first, by the rules of operations."""
    data = parse_json_object(body)
    amount = _amount_of(data)
    refuse_unknown_fields(data, TRANSFER_FIELDS)
    from_wallet = _wallet_field(data, "from", INVALID_FROM)
    to_wallet = _wallet_field(data, "to", INVALID_TO)
    if from_wallet == to_wallet:
        raise InvalidRequest(SAME_WALLET)
    return TransferInput(from_wallet=from_wallet, to_wallet=to_wallet, amount=amount, annotations=_annotations_of(data))


def parse_hold(body: bytes, *, wallet_id: UUID) -> HoldInput:
    """``{"amount": "30.00", "expires_in": 3600, "to": <wallet id>}``; the amount checked
    first, by the rules of operations; ``expires_in`` and ``to`` are optional."""
    data = parse_json_object(body)
    amount = _amount_of(data)
    refuse_unknown_fields(data, HOLD_FIELDS)
    expires_in = data.get("expires_in", HOLD_DEFAULT_SECONDS)
    # Whole seconds: 3600 (a JSON integer; 3600.0 and "3600" are refused).
    if (
        not isinstance(expires_in, int | Decimal)
        or isinstance(expires_in, bool)
        or (isinstance(expires_in, Decimal) and expires_in.as_tuple().exponent != 0)
        or not 1 <= expires_in <= HOLD_MAX_SECONDS
    ):
        raise InvalidRequest(INVALID_EXPIRES_IN)
    to_wallet = None
    if data.get("to") is not None:
        to_wallet = _wallet_field(data, "to", INVALID_TO)
        if to_wallet == wallet_id:
            raise InvalidRequest(HOLD_TO_SELF)
    return HoldInput(amount=amount, expires_in=int(expires_in), to_wallet=to_wallet, annotations=_annotations_of(data))


def parse_partial(body: bytes) -> PartialInput:
    """``{"amount": "25.00"}``, or an empty body or ``{}`` for all of it (a capture: the hold;
    a reversal: what is left to reverse), with the write's reference and metadata. Absent
    means all; ``null`` is refused, as for any other amount."""
    if not body:
        return PartialInput()
    data = parse_json_object(body)
    amount = _amount_of(data) if "amount" in data else None  # null is refused like any bad amount
    refuse_unknown_fields(data, PARTIAL_FIELDS)
    return PartialInput(amount, _annotations_of(data))


def parse_void(body: bytes) -> PartialInput:
    """A void takes no amount, only a reference and metadata; a body, if any, must be a JSON
    object (``{}``)."""
    if not body:
        return PartialInput()
    data = parse_json_object(body)
    refuse_unknown_fields(data, ANNOTATION_FIELDS)
    return PartialInput(None, _annotations_of(data))


def parse_uuid(value: str, *, not_found: str) -> UUID:
    """A path id; anything that is not a UUID is simply not found."""
    try:
        return UUID(value)
    except ValueError:
        raise NotFound(not_found) from None


def _is_number(value: str, max_digits: int) -> bool:
    return value.isascii() and value.isdigit() and len(value) <= max_digits


def parse_limit(value: str | None) -> int:
    if value is None:
        return HISTORY_DEFAULT_LIMIT
    if not _is_number(value, 4) or not 1 <= int(value) <= HISTORY_MAX_LIMIT:
        raise InvalidRequest(INVALID_LIMIT)
    return int(value)


def parse_cursor(value: str | None) -> UUID | None:
    """An events or deliveries cursor (``resources.cursor_json``): a position as 22 URL-safe
    base64 characters (history's are ``api.cursors``)."""
    if value is None:
        return None
    if len(value) != 22 or not value.isascii():
        raise InvalidRequest(INVALID_CURSOR)
    try:
        raw = base64.urlsafe_b64decode(value + "==")
    except ValueError:
        raise InvalidRequest(INVALID_CURSOR) from None
    if len(raw) != 16 or base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != value:
        raise InvalidRequest(INVALID_CURSOR)
    return UUID(bytes=raw)


def parse_event_type(value: str | None) -> EventType | None:
    """An event type to filter on (``type=``), or 400 naming the types there are."""
    if value is None:
        return None
    try:
        return EventType(value)
    except ValueError:
        known = ", ".join(t.value for t in EventType)
        raise InvalidRequest(f"{INVALID_EVENT_TYPE}: {value[:64]!r} (one of {known})") from None


def parse_wallet_filter(value: str | None) -> UUID | None:
    """A wallet id to filter on (``wallet=``); whether the caller reaches it, the selector checks."""
    if value is None:
        return None
    try:
        return UUID(value)
    except ValueError:
        raise InvalidRequest(INVALID_WALLET_FILTER) from None


def parse_endpoint(body: bytes) -> EndpointInput:
    """``{"url": "https://...", "event_types": [...]}`` (types optional: every type)."""
    data = parse_json_object(body)
    refuse_unknown_fields(data, ENDPOINT_FIELDS)
    url = data.get("url")
    if not isinstance(url, str):
        raise InvalidRequest(webhook_urls.BAD_URL)
    types = data.get("event_types")
    if types is None:
        return EndpointInput(url, ())
    if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
        raise InvalidRequest(INVALID_EVENT_TYPES)
    parsed = [parse_event_type(t) for t in types]
    return EndpointInput(url, tuple(dict.fromkeys(t for t in parsed if t is not None)))
