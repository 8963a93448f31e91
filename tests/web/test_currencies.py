"""Currencies: a wallet holds one, its amounts have that currency's decimals, and money never
moves between two currencies (``docs/api.md#currencies``)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, func, select

from shared import keys
from shared.tables import wallets
from shared.wallet_controls import Controls
from tests.support import factories
from tests.support.api import NO_ANNOTATIONS, Api, error_body
from web.wallets.auth.api_keys import Scope

INVALID_CURRENCY = {
    "error": 'Invalid "currency": an ISO 4217 code with minor units, such as EUR or JPY',
    "code": "invalid_currency",
}


def _create(api: Api, body: Any) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return api.client.post("/api/v1/wallets", data=raw, content_type="application/json")


@pytest.mark.parametrize(
    ("body", "currency", "zero"),
    [
        (b"", "EUR", "0.00"),
        ({}, "EUR", "0.00"),
        ({"currency": "JPY"}, "JPY", "0"),
        ({"currency": "KWD"}, "KWD", "0.000"),
    ],
)
def test_a_wallet_holds_the_currency_it_was_made_in_or_the_default(
    api: Api, body: Any, currency: str, zero: str
) -> None:
    response = _create(api, body)
    assert response.status_code == 201
    made = response.json()
    money = {"balance": zero, "available": zero, "held": zero}
    assert made == {"id": made["id"], "currency": currency, **money, **Controls().to_json(currency), **NO_ANNOTATIONS}
    assert api.client.get(f"/api/v1/wallets/{made['id']}").json() == made


@pytest.mark.parametrize("currency", ["XAU", "XTS", "XXX", "eur", "EURO", "ZZZ", "", None, 978, ["EUR"]])
def test_a_code_that_is_not_a_currency_with_minor_units_makes_no_wallet(api: Api, db: Engine, currency: object) -> None:
    with db.connect() as conn:
        before = conn.execute(select(func.count()).select_from(wallets)).scalar_one()
    response = _create(api, {"currency": currency})
    assert (response.status_code, error_body(response)) == (400, INVALID_CURRENCY)
    response = _create(api, {"currency": "EUR", "balance": "100.00"})
    assert response.status_code == 400
    assert error_body(response)["code"] == "unknown_field"
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(wallets)).scalar_one() == before


EXPONENT_CLASSES = [
    # currency, a good amount, how it shows, amounts with one decimal too many, the rule
    ("JPY", "1200", "1200", ["1.5", "1200.1", 1.5], "JPY amounts have no decimals"),
    ("EUR", "12.3", "12.30", ["12.345", "0.001", 0.001], "EUR amounts have at most 2 decimals"),
    ("KWD", "1.234", "1.234", ["1.2345", "0.0001"], "KWD amounts have at most 3 decimals"),
]


@pytest.mark.parametrize(("currency", "good", "shown", "bad", "rule"), EXPONENT_CLASSES)
def test_amounts_have_at_most_their_currencys_decimals_and_show_exactly_them(
    api: Api, currency: str, good: str, shown: str, bad: list[object], rule: str
) -> None:
    wallet = api.create_wallet(currency=currency)
    applied = api.post_operation(wallet, {"operationType": "DEPOSIT", "amount": good})
    assert applied.status_code == 200, applied.content
    assert applied.json() | {"operation_id": "…"} == {
        "status": "Success",
        "new_balance": shown,
        "currency": currency,
        "operation_id": "…",
    }
    for amount in bad:
        body = f'{{"operationType": "DEPOSIT", "amount": {json.dumps(amount) if isinstance(amount, str) else amount}}}'
        refused = api.post_operation(wallet, body.encode())
        assert (refused.status_code, error_body(refused)) == (
            400,
            {"error": f"Invalid or missing amount: {rule}", "code": "invalid_amount"},
        )
    assert api.client.get(f"/api/v1/wallets/{wallet}").json()["balance"] == shown
    (row,) = api.client.get(f"/api/v1/wallets/{wallet}/operations").json()["results"]  # nothing else applied
    assert (row["amount"], row["currency"], row["balance_after"], row["available_after"]) == (
        shown,
        currency,
        shown,
        shown,
    )


def test_holds_and_transfers_show_money_in_their_currency(api: Api) -> None:
    """A currency of no decimals through every kind of movement: a hold, its capture to a wallet
    (a transfer), a transfer; each body with the currency and whole amounts."""
    source, destination = api.create_wallet(1000, currency="JPY"), api.create_wallet(currency="JPY")
    held = api.post_hold(source, {"amount": "300", "to": destination})
    assert held.status_code == 201, held.content
    hold = held.json()
    assert (hold["amount"], hold["currency"], hold["available"], hold["held"], hold["balance"]) == (
        "300",
        "JPY",
        "700",
        "300",
        "1000",
    )
    assert (
        api.post_hold(source, {"amount": "0.5"}).json()["error"]
        == "Invalid or missing amount: JPY amounts have no decimals"
    )
    captured = api.hold_change(hold["hold_id"], "capture", {"amount": "250"}).json()
    assert {k: captured[k] for k in ("captured", "released", "currency", "balance", "transfer_state")} == {
        "captured": "250",
        "released": "50",
        "currency": "JPY",
        "balance": "750",
        "transfer_state": "completed",
    }
    found = api.client.get(f"/api/v1/holds/{hold['hold_id']}").json()
    assert (found["amount"], found["captured"], found["currency"]) == ("300", "250", "JPY")
    moved = api.post_transfer(source, destination, "100").json()
    assert {k: moved[k] for k in ("state", "currency", "from_balance", "to_balance")} == {
        "state": "completed",
        "currency": "JPY",
        "from_balance": "650",
        "to_balance": "350",
    }
    shown = api.client.get(f"/api/v1/transfers/{moved['transfer_id']}").json()
    assert (shown["amount"], shown["currency"]) == ("100", "JPY")


def test_money_never_moves_between_two_currencies_and_nothing_is_queued(api: Api, web_redis: redis.Redis) -> None:
    euros, yen = api.create_wallet(100), api.create_wallet(1000, currency="JPY")
    jobs = set(web_redis.scan_iter(f"{keys.RQ_JOB_PREFIX}*"))
    mismatch = {"error": "Currency mismatch", "code": "currency_mismatch"}
    for source, destination, amount in ((euros, yen, "1.00"), (yen, euros, "1")):
        refused = api.post_transfer(source, destination, amount)
        assert (refused.status_code, error_body(refused)) == (400, mismatch)
    refused = api.post_hold(euros, {"amount": "1.00", "to": yen})
    assert (refused.status_code, error_body(refused)) == (400, mismatch)
    assert not set(web_redis.scan_iter(f"{keys.RQ_JOB_PREFIX}*")) - jobs
    assert (api.balance(euros), api.balance(yen)) == (Decimal("100.00"), Decimal("1000"))
    assert len(api.client.get(f"/api/v1/wallets/{euros}/operations").json()["results"]) == 1  # its deposit only


def test_another_tenants_wallet_is_not_found_before_its_currency_is_compared(api: Api) -> None:
    """A mismatch would tell that the wallet exists, and its currency: another tenant's wallet
    answers 404, as one that does not exist; a read-only key cannot make a wallet."""
    theirs = Api(factories.api_key("currencies-other").secret).create_wallet(currency="JPY")
    ours = api.create_wallet(10)
    refused = api.post_transfer(ours, theirs, "1.00")
    assert (refused.status_code, error_body(refused)) == (
        404,
        {"error": "Wallet not found", "code": "wallet_not_found"},
    )
    refused = api.post_hold(ours, {"amount": "1.00", "to": theirs})
    assert refused.status_code == 404
    reader = Api(factories.api_key(factories.TEST_TENANT, Scope.READ).secret)
    assert _create(reader, {"currency": "JPY"}).status_code == 403
    assert api.balance(ours) == Decimal("10.00")
