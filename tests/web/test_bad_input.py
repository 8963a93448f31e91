"""Every class of bad input is a 400 with a JSON error, and nothing reaches the queue."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.api import Api, error_body
from web.wallets.inputs import MAX_BODY_BYTES

INVALID_AMOUNT = {"error": "Invalid or missing amount", "code": "invalid_amount"}


@pytest.mark.parametrize(
    "amount_json",
    [
        "true",
        "false",
        "null",
        "0",
        "0.00",
        "-1",
        "0.00001",
        "1e-5",
        "1e999999999",
        "1e-999999999",
        "1000000000000.01",
        "99999999999999999999999",
        "[1]",
        "{}",
        '{"value": 1}',
        '""',
        '"abc"',
        '" 10"',
        '"10 "',
        '"1e3"',
        '"-5"',
        '"1.23456"',
        '"NaN"',
        '"Infinity"',
        '"0x10"',
        '"\u0661\u0660"',
        '"10,00"',
    ],
)
def test_bad_amounts(api: Api, amount_json: str) -> None:
    wallet = api.create_wallet(50)
    body = f'{{"operationType": "DEPOSIT", "amount": {amount_json}}}'.encode()
    response = api.post_operation(wallet, body)
    assert response.status_code == 400
    assert error_body(response) == INVALID_AMOUNT
    assert api.balance(wallet) == Decimal("50.00")


@pytest.mark.parametrize("amount_json", ["1.001", "0.001", "1e-3", '"1.234"', '"0.0001"'])
def test_amounts_with_more_decimals_than_the_currency_has_are_refused_saying_how_many(
    api: Api, amount_json: str
) -> None:
    wallet = api.create_wallet(50)
    body = f'{{"operationType": "DEPOSIT", "amount": {amount_json}}}'.encode()
    response = api.post_operation(wallet, body)
    assert response.status_code == 400
    assert error_body(response) == {
        "error": "Invalid or missing amount: EUR amounts have at most 2 decimals",
        "code": "invalid_amount",
    }
    assert api.balance(wallet) == Decimal("50.00")


@pytest.mark.parametrize(
    ("amount_json", "expected"),
    [("1", "1.00"), ("0.01", "0.01"), ("12.5", "12.50"), ('"12.50"', "12.50"), ("1.000", "1.00"), ("1e2", "100.00")],
)
def test_good_amounts_are_exact(api: Api, amount_json: str, expected: str) -> None:
    wallet = api.create_wallet()
    body = f'{{"operationType": "DEPOSIT", "amount": {amount_json}}}'.encode()
    response = api.post_operation(wallet, body)
    assert response.status_code == 200
    assert response.json()["new_balance"] == expected


def test_missing_amount(api: Api) -> None:
    wallet = api.create_wallet()
    assert error_body(api.post_operation(wallet, {"operationType": "DEPOSIT"})) == INVALID_AMOUNT


@pytest.mark.parametrize("operation_type", [None, "", "deposit", "Withdraw", 1, True, ["DEPOSIT"], {"a": 1}])
def test_bad_operation_types(api: Api, operation_type: object) -> None:
    wallet = api.create_wallet()
    response = api.post_operation(wallet, {"operationType": operation_type, "amount": 1})
    assert response.status_code == 400
    assert error_body(response) == {"error": "Invalid operationType", "code": "invalid_operation_type"}


@pytest.mark.parametrize(
    ("body", "error", "code"),
    [
        (b"", "Malformed JSON body", "malformed_json"),
        (b"{", "Malformed JSON body", "malformed_json"),
        (b"{'amount': 1}", "Malformed JSON body", "malformed_json"),
        (b'{"amount": 1,}', "Malformed JSON body", "malformed_json"),
        (b'\xff\xfe{"amount": 1}', "Malformed JSON body", "malformed_json"),
        (b'{"operationType": "DEPOSIT", "amount": "\xe9"}', "Malformed JSON body", "malformed_json"),
        (b"[" * (MAX_BODY_BYTES + 1), "Request body too large", "body_too_large"),
        (b"[" * 100_000, "Malformed JSON body", "malformed_json"),  # nested past any parser's depth
        (b"[" * 4000 + b"]" * 40, "Malformed JSON body", "malformed_json"),
        (b'{"operationType": "DEPOSIT", "amount": NaN}', "Malformed JSON body", "malformed_json"),
        (b'{"operationType": "DEPOSIT", "amount": Infinity}', "Malformed JSON body", "malformed_json"),
        (b'{"operationType": "DEPOSIT", "amount": -Infinity}', "Malformed JSON body", "malformed_json"),
        (b'{"operationType": "DEPOSIT", "amount": 1e99999999999999999999}', "Malformed JSON body", "malformed_json"),
        (b'{"operationType": "DEPOSIT", "amount": -1e-99999999999999999999}', "Malformed JSON body", "malformed_json"),
        (
            b'{"operationType": "DEPOSIT", "amount": 1, "amount": 1000}',
            "Duplicate key in JSON object",
            "duplicate_json_key",
        ),
        (
            b'{"operationType": "WITHDRAW", "operationType": "DEPOSIT", "amount": 1}',
            "Duplicate key in JSON object",
            "duplicate_json_key",
        ),
        (b"[]", "Request body must be a JSON object", "body_not_object"),
        (b'"DEPOSIT"', "Request body must be a JSON object", "body_not_object"),
        (b"1", "Request body must be a JSON object", "body_not_object"),
        (b"null", "Request body must be a JSON object", "body_not_object"),
        (
            b'{"operationType": "DEPOSIT", "amount": 1, "pad": "' + b"x" * MAX_BODY_BYTES + b'"}',
            "Request body too large",
            "body_too_large",
        ),
    ],
)
def test_bad_bodies(api: Api, body: bytes, error: str, code: str) -> None:
    wallet = api.create_wallet()
    response = api.post_operation(wallet, body)
    assert response.status_code == 400
    assert error_body(response) == {"error": error, "code": code}


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", "application/jsonx", ""],
)
def test_a_body_not_declared_as_json_is_415(api: Api, content_type: str) -> None:
    """What a browser may post cross-origin without a preflight is never applied."""
    wallet = api.create_wallet(5)
    body = b'{"operationType": "DEPOSIT", "amount": "1.00"}'
    response = api.client.post(f"/api/v1/wallets/{wallet}/operation", data=body, content_type=content_type)
    assert response.status_code == 415
    assert error_body(response) == {"error": "Content-Type must be application/json", "code": "unsupported_media_type"}
    assert api.balance(wallet) == Decimal("5.00")


def test_json_with_a_charset_is_json(api: Api) -> None:
    wallet = api.create_wallet()
    body = b'{"operationType": "DEPOSIT", "amount": "1.00"}'
    response = api.client.post(
        f"/api/v1/wallets/{wallet}/operation", data=body, content_type="application/json; charset=utf-8"
    )
    assert response.status_code == 200


def test_form_encoded_body_is_rejected(api: Api) -> None:
    wallet = api.create_wallet()
    response = api.client.post(f"/api/v1/wallets/{wallet}/operation", {"operationType": "DEPOSIT", "amount": "1"})
    assert response.status_code == 415
    assert api.balance(wallet) == Decimal("0.00")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"operationType": "DEPOSIT", "amount": "1.00", "memo": "x"}, "Unknown fields: memo"),
        ({"operationtype": "DEPOSIT", "operationType": "DEPOSIT", "amount": "1.00"}, "Unknown fields: operationtype"),
        ({"operationType": "DEPOSIT", "amount": "1.00", "a": 1, "b": None}, "Unknown fields: a, b"),
    ],
)
def test_unknown_fields_are_refused_by_name(api: Api, body: dict[str, object], error: str) -> None:
    wallet = api.create_wallet(50)
    response = api.post_operation(wallet, body)
    assert (response.status_code, error_body(response)) == (
        400,
        {"error": f"{error} (this request takes: operationType, amount, reference, metadata)", "code": "unknown_field"},
    )
    assert api.balance(wallet) == Decimal("50.00")


def test_an_unknown_field_of_a_transfer_is_refused(api: Api) -> None:
    source, destination = api.create_wallet(5), api.create_wallet()
    body = {"from": source, "to": destination, "amount": "1.00", "note": "rent"}
    response = api.client.post("/api/v1/transfers", data=body, content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (400, "unknown_field")
    assert (
        response.json()["error"] == "Unknown fields: note (this request takes: from, to, amount, reference, metadata)"
    )
    assert (api.balance(source), api.balance(destination)) == (Decimal("5.00"), Decimal("0.00"))
