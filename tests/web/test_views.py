"""The API contract, through Django's test client, with a real shard worker applying operations."""

from __future__ import annotations

import dataclasses
import time
import uuid
from decimal import Decimal

import pytest
import redis
from sqlalchemy import Engine

from deploy.processes import free_port
from shared.config import Settings
from shared.connections import engine_from_settings, redis_from_settings
from shared.money import MAX_BALANCE
from shared.wallet_controls import Controls
from tests.support.api import NO_ANNOTATIONS, Api, error_body
from tests.support.databases import terminate_backends
from tests.support.factories import seed_applied_deposit
from tests.support.patching import patch_views

# --- the seed's seven behaviours -------------------------------------------------


def test_get_balance(api: Api) -> None:
    wallet = api.create_wallet(5000)
    response = api.client.get(f"/api/v1/wallets/{wallet}")
    assert response.status_code == 200
    # The seed's body, byte for byte, after the wallet's own id and currency.
    money = b'"currency": "EUR", "balance": "5000.00", "available": "5000.00", "held": "0.00", '
    money += b'"min_balance": "0.00", "max_balance": null, "status": "active", "reference": null, "metadata": null}'
    assert response.content == b'{"id": "' + wallet.encode() + b'", ' + money


def test_get_unknown_wallet_is_404(api: Api) -> None:
    response = api.client.get(f"/api/v1/wallets/{uuid.uuid4()}")
    assert response.status_code == 404
    assert error_body(response) == {"error": "Wallet not found", "code": "wallet_not_found"}


def test_deposit(api: Api) -> None:
    wallet = api.create_wallet(5000)
    response = api.post_operation(wallet, {"operationType": "DEPOSIT", "amount": 1000})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "Success"
    assert body["new_balance"] == "6000.00"
    recorded = api.client.get(f"/api/v1/operations/{body['operation_id']}").json()
    assert (recorded["wallet_id"], recorded["operationType"], recorded["amount"], recorded["status"]) == (
        wallet,
        "DEPOSIT",
        "1000.00",
        "applied",
    )
    assert api.balance(wallet) == Decimal("6000.00")


def test_withdraw(api: Api) -> None:
    wallet = api.create_wallet(5000)
    response = api.post_operation(wallet, {"operationType": "WITHDRAW", "amount": 1000})
    assert response.status_code == 200
    assert response.json()["new_balance"] == "4000.00"
    assert api.balance(wallet) == Decimal("4000.00")


def test_insufficient_funds_leaves_balance_untouched(api: Api) -> None:
    wallet = api.create_wallet(100)
    response = api.post_operation(wallet, {"operationType": "WITHDRAW", "amount": "100.01"})
    assert response.status_code == 400
    assert response.json() == {"error": "Insufficient funds", "code": "insufficient_funds"}
    assert api.balance(wallet) == Decimal("100.00")


def test_invalid_amount(api: Api) -> None:
    wallet = api.create_wallet()
    response = api.post_operation(wallet, {"operationType": "DEPOSIT", "amount": -5})
    assert response.status_code == 400
    assert error_body(response) == {"error": "Invalid or missing amount", "code": "invalid_amount"}


def test_invalid_operation_type(api: Api) -> None:
    wallet = api.create_wallet()
    response = api.post_operation(wallet, {"operationType": "STEAL", "amount": 5})
    assert response.status_code == 400
    assert error_body(response) == {"error": "Invalid operationType", "code": "invalid_operation_type"}


# --- the rest of the contract -------------------------------------------------------


def test_amount_is_checked_before_operation_type(api: Api) -> None:
    wallet = api.create_wallet()
    response = api.post_operation(wallet, {"operationType": "STEAL"})
    assert error_body(response) == {"error": "Invalid or missing amount", "code": "invalid_amount"}


def test_operation_on_unknown_wallet_is_404(api: Api) -> None:
    response = api.post_operation(str(uuid.uuid4()), {"operationType": "DEPOSIT", "amount": 1})
    assert response.status_code == 404
    assert error_body(response) == {"error": "Wallet not found", "code": "wallet_not_found"}


def test_create_wallet(api: Api) -> None:
    response = api.client.post("/api/v1/wallets", content_type="application/json")
    assert response.status_code == 201
    body = response.json()
    assert body["balance"] == "0.00"
    assert api.balance(body["id"]) == Decimal("0.00")


@pytest.mark.parametrize("path", ["/api/v1/wallets/{id}", "/api/v1/wallets/{id}/"])
def test_trailing_slash_is_optional(api: Api, path: str) -> None:
    wallet = api.create_wallet(7)
    assert api.client.get(path.format(id=wallet)).json() == {
        "id": wallet,
        "currency": "EUR",
        "balance": "7.00",
        "available": "7.00",
        "held": "0.00",
        **Controls().to_json("EUR"),
        **NO_ANNOTATIONS,
    }


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1234", "%00", "00000000-0000-0000-0000-00000000000g"])
def test_malformed_wallet_id_is_json_404(api: Api, bad_id: str) -> None:
    for response in (
        api.client.get(f"/api/v1/wallets/{bad_id}"),
        api.post_operation(bad_id, {"operationType": "DEPOSIT", "amount": 1}),
        api.client.get(f"/api/v1/wallets/{bad_id}/operations"),
    ):
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert error_body(response) == {"error": "Wallet not found", "code": "wallet_not_found"}


def test_unknown_path_is_json_404(api: Api) -> None:
    response = api.client.get("/api/v2/whatever")
    assert response.status_code == 404
    assert error_body(response) == {"error": "Not found", "code": "not_found"}


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("put", "/api/v1/wallets/{id}", "GET, PATCH, HEAD"),
        ("delete", "/api/v1/wallets/{id}", "GET, PATCH, HEAD"),
        ("post", "/api/v1/wallets/{id}", "GET, PATCH, HEAD"),
        ("get", "/api/v1/wallets/{id}/operation", "POST"),
        ("patch", "/api/v1/wallets/{id}/operation", "POST"),
        ("get", "/api/v1/wallets", "POST"),
        ("post", "/api/v1/wallets/{id}/operations", "GET, HEAD"),
        ("delete", "/api/v1/operations/{id}", "GET, HEAD"),
    ],
)
def test_other_methods_are_json_405(api: Api, method: str, path: str, allowed: str) -> None:
    wallet = api.create_wallet()
    response = getattr(api.client, method)(path.format(id=wallet))
    assert response.status_code == 405
    assert response["Allow"] == allowed
    assert error_body(response) == {"error": f"Method {method.upper()} not allowed", "code": "method_not_allowed"}


def test_history_newest_first_with_cursor(api: Api) -> None:
    wallet = api.create_wallet()
    amounts = ["1.00", "2.00", "3.00", "4.00", "5.00"]
    for amount in amounts:
        assert api.post_operation(wallet, {"operationType": "DEPOSIT", "amount": amount}).status_code == 200
    assert api.post_operation(wallet, {"operationType": "WITHDRAW", "amount": 100}).status_code == 400

    first = api.client.get(f"/api/v1/wallets/{wallet}/operations?limit=4").json()
    assert [item["amount"] for item in first["results"]] == ["100.00", "5.00", "4.00", "3.00"]
    rejected = first["results"][0]
    assert rejected["status"] == "rejected"
    assert rejected["error"] == "Insufficient funds"
    assert rejected["balance_after"] == "15.00"
    assert set(rejected) >= {"operation_id", "operationType", "amount", "status", "balance_after", "created_at"}

    second = api.client.get(f"/api/v1/wallets/{wallet}/operations?limit=4&cursor={first['next']}").json()
    assert [item["amount"] for item in second["results"]] == ["2.00", "1.00"]
    assert [item["balance_after"] for item in second["results"]] == ["3.00", "1.00"]
    assert second["next"] is None


@pytest.mark.parametrize("query", ["limit=0", "limit=-1", "limit=abc", "limit=100000", "cursor=x", "cursor=-5"])
def test_history_bad_query_is_400(api: Api, query: str) -> None:
    wallet = api.create_wallet()
    response = api.client.get(f"/api/v1/wallets/{wallet}/operations?{query}")
    assert response.status_code == 400
    assert "error" in response.json()


def test_operation_status_applied_and_rejected(api: Api) -> None:
    wallet = api.create_wallet(10)
    applied = api.post_operation(wallet, {"operationType": "WITHDRAW", "amount": 4}).json()["operation_id"]
    body = api.client.get(f"/api/v1/operations/{applied}").json()
    assert body["status"] == "applied"
    assert body["balance_after"] == "6.00"
    assert body["operationType"] == "WITHDRAW"

    api.post_operation(wallet, {"operationType": "WITHDRAW", "amount": 7})
    history = api.client.get(f"/api/v1/wallets/{wallet}/operations?limit=1").json()["results"]
    rejected = api.client.get(f"/api/v1/operations/{history[0]['operation_id']}").json()
    assert rejected["status"] == "rejected"
    assert rejected["error"] == "Insufficient funds"


@pytest.mark.parametrize("operation_id", [str(uuid.uuid4()), "nonsense"])
def test_unknown_operation_is_404(api: Api, operation_id: str) -> None:
    response = api.client.get(f"/api/v1/operations/{operation_id}")
    assert response.status_code == 404
    assert error_body(response) == {"error": "Operation not found", "code": "operation_not_found"}


def test_deposit_that_would_overflow_the_balance_column_is_400(api: Api, db: Engine) -> None:
    wallet = api.create_wallet()
    seed_applied_deposit(db, uuid.UUID(wallet), MAX_BALANCE - Decimal("0.50"))
    response = api.post_operation(wallet, {"operationType": "DEPOSIT", "amount": "1.00"})
    assert response.status_code == 400
    assert response.json() == {"error": "Balance limit exceeded", "code": "balance_limit_exceeded"}
    assert api.balance(wallet) == MAX_BALANCE - Decimal("0.50")
    assert api.post_operation(wallet, {"operationType": "DEPOSIT", "amount": "0.50"}).status_code == 200


def test_healthz_is_liveness_of_the_process_alone(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    response = api.client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    dead = redis.Redis(port=free_port(), socket_connect_timeout=0.2)
    patch_views(monkeypatch, "get_redis", lambda: dead)
    assert api.client.get("/healthz").status_code == 200  # a dependency away is readiness's concern
    assert api.client.get("/readyz").json()["checks"]["redis"].startswith("error")


def test_redis_down_is_503_json_within_a_second(api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    wallet = api.create_wallet()
    dead = redis_from_settings(dataclasses.replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    patch_views(monkeypatch, "get_redis", lambda: dead)
    # Wallet creation counts against a rate limit in Redis: refused too, not let through.
    assert api.client.post("/api/v1/wallets", content_type="application/json").status_code == 503
    started = time.monotonic()
    response = api.post_operation(wallet, {"operationType": "DEPOSIT", "amount": 1})
    assert time.monotonic() - started < 1
    assert response.status_code == 503
    assert error_body(response) == {"error": "Service temporarily unavailable", "code": "service_unavailable"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["redis"].startswith("error")


def test_a_known_wallet_costs_no_query_on_submit(api: Api) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    wallet = api.create_wallet(5)
    with CaptureQueriesContext(connection) as queries:
        assert api.post_operation(wallet, {"operationType": "DEPOSIT", "amount": 1}).status_code == 200
    assert [q["sql"] for q in queries.captured_queries if "wallets" in q["sql"]] == []


def test_unknown_wallet_is_not_remembered(api: Api, db: Engine) -> None:
    from tests.support.factories import wallet_row

    wallet = uuid.uuid4()
    assert api.post_operation(str(wallet), {"operationType": "DEPOSIT", "amount": 1}).status_code == 404
    wallet_row(db, wallet)
    assert api.post_operation(str(wallet), {"operationType": "DEPOSIT", "amount": 1}).status_code == 200


def test_postgres_down_is_503_json_on_a_balance_read(
    api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = engine_from_settings(
        dataclasses.replace(settings, database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/wallet_test")
    )
    monkeypatch.setattr("web.database.get_engine", lambda: dead)
    response = api.client.get(f"/api/v1/wallets/{uuid.uuid4()}")
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert error_body(response) == {"error": "Service temporarily unavailable", "code": "service_unavailable"}


def test_reads_survive_a_dropped_database_connection(api: Api, db: Engine) -> None:

    wallet = api.create_wallet(12)
    assert api.balance(wallet) == 12  # the web's read pool now holds a connection
    assert terminate_backends(db, "wallet-web") >= 1
    response = api.client.get(f"/api/v1/wallets/{wallet}")
    assert response.status_code == 200
    assert response.json() == {
        "id": wallet,
        "currency": "EUR",
        "balance": "12.00",
        "available": "12.00",
        "held": "0.00",
        **Controls().to_json("EUR"),
        **NO_ANNOTATIONS,
    }


def test_a_locked_table_answers_503_quickly_and_health_shows_it(api: Api, db: Engine) -> None:
    wallet = api.create_wallet(5)
    with db.connect() as locker:
        locker.exec_driver_sql("LOCK TABLE wallets IN ACCESS EXCLUSIVE MODE")  # held until rollback
        for path in (f"/api/v1/wallets/{wallet}", "/readyz"):
            started = time.monotonic()
            response = api.client.get(path)
            assert response.status_code == 503, path
            assert time.monotonic() - started < 3.5
        assert response.json()["checks"]["postgres"].startswith("error")
        response = api.client.get(f"/api/v1/wallets/{wallet}")
        assert error_body(response) == {"error": "Service temporarily unavailable", "code": "service_unavailable"}
        assert response["Retry-After"] == "1"
        locker.rollback()
    assert api.balance(wallet) == Decimal("5.00")
    assert api.client.get("/readyz").json()["checks"] == {"postgres": "ok", "redis": "ok"}


def test_a_read_only_database_answers_503_not_500(api: Api, db: Engine) -> None:
    """Right after a failover PostgreSQL may refuse writes (SQLSTATE 25006): a condition of
    the database, answered like an outage."""
    from web.database import get_engine

    database = db.url.database
    with db.begin() as conn:
        conn.exec_driver_sql(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')
    get_engine().dispose()  # new sessions pick the setting up
    try:
        response = api.client.post("/api/v1/wallets", content_type="application/json")
        assert (response.status_code, error_body(response)) == (
            503,
            {"error": "Service temporarily unavailable", "code": "service_unavailable"},
        )
        assert response["Retry-After"] == "1"
    finally:
        with db.begin() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{database}" RESET default_transaction_read_only')
        get_engine().dispose()
    assert api.client.post("/api/v1/wallets", content_type="application/json").status_code == 201


def test_a_refused_pending_record_still_answers_202(
    api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 202 path writes a pending record; PostgreSQL refusing it must not turn the answer into a 500."""
    from shared.errors import StatementRefused
    from web.wallets.money import services

    def refused(sql: str, params: tuple[object, ...]) -> None:
        raise StatementRefused("PostgreSQL refused the statement: 23503")

    wallet = api.create_wallet(5)
    monkeypatch.setattr(services, "write", refused)
    monkeypatch.setattr("web.wallets.money.queueing._enqueue_commands", lambda *_: [])  # no reply will come
    patch_views(monkeypatch, "get_settings", lambda: dataclasses.replace(settings, reply_timeout=0.1))
    response = api.post_operation(wallet, {"operationType": "DEPOSIT", "amount": "1"})
    assert response.status_code == 202
    assert response.json()["status"] == "Pending"


def test_api_requests_never_open_a_database_connection_of_their_own(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every API read and write uses the process's bounded pool (Django's connections are one
    per greenlet under gevent: a new PostgreSQL connection per request)."""
    from django.db import connection
    from django.db.backends.postgresql.base import DatabaseWrapper

    wallet = api.create_wallet(5)
    operation_id = api.post_operation(wallet, {"operationType": "DEPOSIT", "amount": "1"}).json()["operation_id"]
    connection.close()
    opened: list[object] = []
    real = DatabaseWrapper.get_new_connection

    def counting(self: DatabaseWrapper, params: dict[str, object]) -> object:
        opened.append(params)
        return real(self, params)

    monkeypatch.setattr(DatabaseWrapper, "get_new_connection", counting)
    for path in (
        f"/api/v1/wallets/{wallet}",
        f"/api/v1/wallets/{wallet}/operations",
        f"/api/v1/operations/{operation_id}",
        "/healthz",
    ):
        assert api.client.get(path).status_code == 200, path
    assert api.client.post("/api/v1/wallets", content_type="application/json").status_code == 201
    assert api.post_operation(wallet, {"operationType": "WITHDRAW", "amount": "1"}).status_code == 200
    assert opened == []
