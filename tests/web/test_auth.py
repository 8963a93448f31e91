"""API keys, tenants and scopes: every endpoint, every wrong key, nothing applied or queued."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
import redis
from django.core.management import call_command
from django.test import Client
from sqlalchemy import Engine, text

from deploy.processes import wait_until
from shared import keys
from shared.config import Settings
from tests.support.api import Api, error_body
from tests.support.factories import api_key
from web.wallets.auth.api_keys import Scope, key_revoke, secret_hash
from web.wallets.models import ApiKey

DEPOSIT = {"operationType": "DEPOSIT", "amount": "5.00"}


@pytest.fixture
def wallet(api: Api) -> str:
    return api.create_wallet(100)


@pytest.fixture
def operation_id(api: Api, wallet: str) -> str:
    response = api.post_operation(wallet, DEPOSIT)
    assert response.status_code == 200
    return str(response.json()["operation_id"])


@pytest.fixture
def transfer_id(api: Api, wallet: str) -> str:
    """A completed transfer of 5.00 into ``wallet``."""
    peer = api.create_wallet(5)
    response = api.post_transfer(peer, wallet, "5.00")
    assert response.status_code == 200, response.content
    return str(response.json()["transfer_id"])


@pytest.fixture
def hold_id(api: Api, wallet: str) -> str:
    """An active hold of 1.00 on ``wallet``."""
    response = api.post_hold(wallet, {"amount": "1.00"})
    assert response.status_code == 201, response.content
    return str(response.json()["hold_id"])


Endpoint = tuple[str, str, bool, bytes]


def _endpoints(wallet: str, operation_id: str, transfer_id: str, hold_id: str) -> list[Endpoint]:
    """(method, path, is a write, body) for every /api/v1/ endpoint."""
    transfer = {"from": wallet, "to": str(uuid.uuid4()), "amount": "1.00"}
    return [
        ("POST", "/api/v1/wallets", True, b""),
        ("GET", f"/api/v1/wallets/{wallet}", False, b""),
        ("PATCH", f"/api/v1/wallets/{wallet}", True, b'{"min_balance": "-5.00", "status": "frozen"}'),
        ("POST", f"/api/v1/wallets/{wallet}/operation", True, b'{"operationType": "WITHDRAW", "amount": "1.00"}'),
        ("GET", f"/api/v1/wallets/{wallet}/operations", False, b""),
        ("GET", f"/api/v1/operations/{operation_id}", False, b""),
        ("POST", f"/api/v1/operations/{operation_id}/reversal", True, b'{"amount": "1.00"}'),
        ("POST", "/api/v1/transfers", True, json.dumps(transfer).encode()),
        ("GET", f"/api/v1/transfers/{transfer_id}", False, b""),
        ("POST", f"/api/v1/transfers/{transfer_id}/reversal", True, b'{"amount": "1.00"}'),
        ("POST", f"/api/v1/wallets/{wallet}/holds", True, b'{"amount": "1.00"}'),
        ("GET", f"/api/v1/holds/{hold_id}", False, b""),
        ("POST", f"/api/v1/holds/{hold_id}/capture", True, b'{"amount": "0.50"}'),
        ("POST", f"/api/v1/holds/{hold_id}/void", True, b""),
    ]


SENT_ID = "auth-test-1"
"""The X-Request-Id every request of ``_send`` carries: an error body names it, byte for byte."""


def _send(client: Client, endpoint: Endpoint, **headers: str) -> tuple[int, dict[str, str], bytes]:
    method, path, _, body = endpoint
    headers = {"X-Request-Id": SENT_ID, **headers}
    if method == "POST":
        response = client.post(path, data=body, content_type="application/json", headers=headers)
    elif method == "PATCH":
        response = client.patch(path, data=body, content_type="application/json", headers=headers)
    else:
        response = client.get(path, headers=headers)
    return response.status_code, dict(response.headers), response.content


@contextmanager
def nothing_changes(db: Engine, web_redis: redis.Redis) -> Iterator[None]:
    """Assert that the block adds no wallet, no ledger row and no queued job."""

    def state() -> tuple[object, ...]:
        with db.connect() as conn:
            counts = conn.execute(
                text("SELECT (SELECT count(*) FROM wallets), (SELECT count(*) FROM wallet_operations)")
            ).one()
        jobs = set(web_redis.scan_iter(f"{keys.RQ_JOB_PREFIX}*"))  # a job hash lives RESULT_TTL after it ran
        return (*counts, jobs)

    before = state()
    yield
    after = state()
    assert after[:2] == before[:2]
    assert not after[2] - before[2]  # type: ignore[operator]


@pytest.mark.parametrize(
    ("authorization", "message", "code"),
    [
        (None, "Missing API key: send Authorization: Bearer <key>", "api_key_missing"),
        ("", "Missing API key: send Authorization: Bearer <key>", "api_key_missing"),
        ("Basic dXNlcjpwYXNz", "Malformed API key", "api_key_malformed"),
        ("Bearer", "Malformed API key", "api_key_malformed"),
        ("Bearer not-a-key", "Malformed API key", "api_key_malformed"),
        (f"Bearer wk_0123456789_{'A' * 43}", "Unknown or revoked API key", "api_key_unknown"),
    ],
)
def test_every_endpoint_refuses_a_missing_malformed_or_unknown_key(
    wallet: str,
    operation_id: str,
    transfer_id: str,
    hold_id: str,
    db: Engine,
    web_redis: redis.Redis,
    authorization: str | None,
    message: str,
    code: str,
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    with nothing_changes(db, web_redis):
        for endpoint in _endpoints(wallet, operation_id, transfer_id, hold_id):
            status, response_headers, content = _send(Client(), endpoint, **headers)
            assert (status, content) == (
                401,
                f'{{"error": "{message}", "code": "{code}", "request_id": "{SENT_ID}"}}'.encode(),
            ), endpoint[:2]
            assert response_headers["WWW-Authenticate"].startswith("Bearer")


def test_the_scheme_is_case_insensitive(api_secret: str, wallet: str) -> None:
    assert (
        Client().get(f"/api/v1/wallets/{wallet}", headers={"Authorization": f"bearer {api_secret}"}).status_code == 200
    )


def test_a_revoked_key_stops_working_within_5_s(api: Api, wallet: str, db: Engine, web_redis: redis.Redis) -> None:
    key = api_key("tests")
    client = Client(headers={"Authorization": f"Bearer {key.secret}"})
    assert client.get(f"/api/v1/wallets/{wallet}").status_code == 200
    assert key_revoke(prefix_or_id=key.prefix)
    wait_until(lambda: client.get(f"/api/v1/wallets/{wallet}").status_code != 200, timeout=5, what="the key refused")
    with nothing_changes(db, web_redis):
        for endpoint in _endpoints(wallet, str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())):
            status, _, content = _send(client, endpoint)
            assert (status, content) == (
                401,
                b'{"error": "Unknown or revoked API key", "code": "api_key_unknown", "request_id": "auth-test-1"}',
            )
    assert api.balance(wallet) == Decimal("100.00")


def test_a_read_only_key_reads_and_gets_403_on_every_write(
    api: Api, wallet: str, operation_id: str, transfer_id: str, hold_id: str, db: Engine, web_redis: redis.Redis
) -> None:
    reader = Client(headers={"Authorization": f"Bearer {api_key('tests', Scope.READ).secret}"})
    with nothing_changes(db, web_redis):
        for endpoint in _endpoints(wallet, operation_id, transfer_id, hold_id):
            status, _, content = _send(reader, endpoint)
            if endpoint[2]:
                assert (status, content) == (
                    403,
                    b'{"error": "This API key is read-only", "code": "api_key_read_only", "request_id": "auth-test-1"}',
                ), endpoint[:2]
            else:
                assert status == 200, endpoint[:2]
    assert api.balance(wallet) == Decimal("110.00")


def test_another_tenants_key_finds_nothing_and_changes_nothing(
    api: Api, wallet: str, operation_id: str, transfer_id: str, hold_id: str, db: Engine, web_redis: redis.Redis
) -> None:
    other_key = api_key(f"other-{uuid.uuid4().hex[:8]}")
    other = Client(headers={"Authorization": f"Bearer {other_key.secret}"})
    unknown = _endpoints(str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4()))
    with nothing_changes(db, web_redis):
        for endpoint, unknown_endpoint in zip(
            _endpoints(wallet, operation_id, transfer_id, hold_id)[1:], unknown[1:], strict=True
        ):
            status, _, content = _send(other, endpoint)
            # The same answer as for a wallet or operation that does not exist: existence does not leak.
            assert (status, content) == _send(other, unknown_endpoint)[::2], endpoint[:2]
            assert status == 404, endpoint[:2]
    # A transfer between a wallet of theirs and one of ours, either way: not found, nothing moved.
    theirs = Api(other_key.secret).create_wallet(10)
    with nothing_changes(db, web_redis):
        for source, destination in ((theirs, wallet), (wallet, theirs)):
            response = Api(other_key.secret).post_transfer(source, destination, "1.00")
            assert (response.status_code, error_body(response)) == (
                404,
                {"error": "Wallet not found", "code": "wallet_not_found"},
            )
        keyed = other.post(
            f"/api/v1/wallets/{wallet}/operation",
            data=DEPOSIT,
            content_type="application/json",
            headers={"Idempotency-Key": "k"},
        )
        assert keyed.status_code == 404
    assert api.balance(wallet) == Decimal("110.00")


def test_a_wallet_belongs_to_the_tenant_whose_key_created_it(api: Api, db: Engine) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    first, second = api_key(tenant), api_key(tenant)
    created = Client(headers={"Authorization": f"Bearer {first.secret}"}).post(
        "/api/v1/wallets", content_type="application/json"
    )
    wallet = created.json()["id"]
    sibling = Client(headers={"Authorization": f"Bearer {second.secret}"})
    assert sibling.get(f"/api/v1/wallets/{wallet}").status_code == 200  # any key of the tenant
    assert api.client.get(f"/api/v1/wallets/{wallet}").status_code == 404  # not the suite's tenant
    with db.connect() as conn:
        owner = conn.execute(
            text("SELECT t.name FROM wallets w JOIN tenants t ON t.id = w.tenant_id WHERE w.id = :w"), {"w": wallet}
        )
        assert owner.scalar_one() == tenant


def test_every_ledger_row_names_the_key_that_sent_it(api: Api, db: Engine) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    first, second = api_key(tenant), api_key(tenant)
    one = Api(first.secret)
    wallet = one.create_wallet(10)
    assert Api(second.secret).post_operation(wallet, {"operationType": "WITHDRAW", "amount": "3.00"}).status_code == 200
    assert (
        Api(second.secret).post_operation(wallet, {"operationType": "WITHDRAW", "amount": "99.00"}).status_code == 400
    )
    history = one.client.get(f"/api/v1/wallets/{wallet}/operations").json()["results"]
    assert [(row["operationType"], row["status"], row["api_key_id"]) for row in history] == [
        ("WITHDRAW", "rejected", str(second.id)),
        ("WITHDRAW", "applied", str(second.id)),
        ("DEPOSIT", "applied", str(first.id)),
    ]
    with db.connect() as conn:
        rows = conn.execute(text("SELECT api_key_id FROM wallet_operations WHERE wallet_id = :w"), {"w": wallet})
        assert sorted(str(r) for (r,) in rows) == sorted([str(first.id), str(second.id), str(second.id)])


def test_only_the_hash_is_stored_and_last_use_is_recorded(api_secret: str, wallet: str) -> None:
    key = api_key("tests")
    stored = ApiKey.objects.get(id=key.id)
    assert stored.secret_sha256 == secret_hash(key.secret) != key.secret
    assert key.secret.startswith(stored.prefix + "_")
    assert stored.last_used_at is None
    Client(headers={"Authorization": f"Bearer {key.secret}"}).get(f"/api/v1/wallets/{wallet}")
    stored.refresh_from_db()
    assert stored.last_used_at is not None


def test_the_tenants_wallet_quota_holds(db: Engine) -> None:
    key = api_key(f"small-{uuid.uuid4().hex[:8]}", wallet_limit=2)
    client = Client(headers={"Authorization": f"Bearer {key.secret}"})
    answers = [client.post("/api/v1/wallets", content_type="application/json") for _ in range(4)]
    assert [a.status_code for a in answers] == [201, 201, 403, 403]
    assert error_body(answers[2]) == {
        "error": "This tenant has reached its quota of wallets",
        "code": "wallet_quota_reached",
    }
    with db.connect() as conn:
        count = conn.execute(
            text("SELECT count(*) FROM wallets w JOIN api_keys k ON k.tenant_id = w.tenant_id WHERE k.id = :k"),
            {"k": key.id},
        )
        assert count.scalar_one() == 2


def test_the_command_prints_the_secret_last_and_revokes(wallet: str, capsys: pytest.CaptureFixture[str]) -> None:
    call_command("apikey", "create", "--tenant", "tests", "--scopes", "read", "--name", "ci")
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    assert client.get(f"/api/v1/wallets/{wallet}").status_code == 200
    assert client.post("/api/v1/wallets", content_type="application/json").status_code == 403
    stored = ApiKey.objects.get(secret_sha256=secret_hash(secret))
    assert (stored.name, stored.scopes, stored.tenant.name) == ("ci", "read", "tests")
    call_command("apikey", "revoke", stored.prefix)
    stored.refresh_from_db()
    assert stored.revoked_at is not None
    call_command("apikey", "list", "--tenant", "tests")
    assert f"{stored.prefix}  tests  read  revoked" in capsys.readouterr().out


def test_the_admin_revokes_keys(admin_client: Client, wallet: str) -> None:
    key = api_key("tests")
    page = admin_client.get("/admin/wallets/apikey/")
    assert page.status_code == 200
    assert key.prefix in page.content.decode()
    assert key.secret not in page.content.decode()
    response = admin_client.post(
        "/admin/wallets/apikey/", {"action": "revoke", "_selected_action": [str(key.id)]}, follow=True
    )
    assert "Revoked 1 key(s)" in response.content.decode()
    assert ApiKey.objects.get(id=key.id).revoked_at is not None


def test_history_cursors_are_opaque_and_per_wallet(api: Api) -> None:
    wallet, other = api.create_wallet(), api.create_wallet(1)
    for _ in range(3):
        assert api.post_operation(wallet, DEPOSIT).status_code == 200
    page = api.client.get(f"/api/v1/wallets/{wallet}/operations?limit=2").json()
    cursor = page["next"]
    assert page["results"][-1]["operation_id"] not in cursor
    rest = api.client.get(f"/api/v1/wallets/{wallet}/operations?limit=2&cursor={cursor}").json()
    assert len(rest["results"]) == 1
    assert rest["next"] is None
    # Another wallet's cursor, or one this service did not sign, is refused, not an empty page.
    for bad in (cursor, "A" * 22):
        target = other if bad == cursor else wallet
        response = api.client.get(f"/api/v1/wallets/{target}/operations?cursor={bad}")
        assert (response.status_code, error_body(response)) == (
            400,
            {"error": "Invalid cursor", "code": "invalid_cursor"},
        )


def test_open_api_is_refused_without_debug_unless_forced() -> None:
    from shared.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="API_AUTH=off"):
        Settings.from_env({"API_AUTH": "off"})
    assert not Settings.from_env({"API_AUTH": "off", "DEBUG": "1"}).api_auth
    assert not Settings.from_env({"API_AUTH": "off", "API_AUTH_FORCE_OFF": "1"}).api_auth
    assert Settings.from_env({}).api_auth
