"""API keys through a real gunicorn with two web processes: one rate limit for both, and a
revoked key refused by both within 5 s."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text

from deploy.processes import free_port, start_gunicorn, stop, wait_until
from tests.support.factories import api_key
from tests.support.http_client import call, call_json, error_of, exchange
from web.wallets.auth.api_keys import key_revoke

LIMIT = 10


@pytest.fixture(scope="module")
def two_processes() -> Iterator[str]:
    port = free_port()
    proc = start_gunicorn(port, WEB_CONCURRENCY="2", RATE_LIMIT_WRITES=f"{LIMIT}/minute", RATE_LIMIT_WALLETS="1/hour")
    yield f"http://127.0.0.1:{port}"
    stop(proc)


def test_the_write_limit_holds_across_processes_and_refused_operations_never_apply(
    two_processes: str, db: Engine
) -> None:
    key = api_key(f"rl-{uuid.uuid4().hex[:8]}")
    status, body = call_json(two_processes, "POST", "/api/v1/wallets", token=key.secret)
    assert status == 201
    wallet = body["id"]
    deposit = {"operationType": "DEPOSIT", "amount": "1.00"}
    idempotency_keys = [f"op-{n}" for n in range(3 * LIMIT)]

    def post(idempotency_key: str) -> tuple[str, int, dict[str, str], dict[str, str]]:
        path = f"/api/v1/wallets/{wallet}/operation"
        status, headers, content = exchange(two_processes, "POST", path, deposit, idempotency_key, token=key.secret)
        return idempotency_key, status, headers, json.loads(content) if status != 200 else {}

    # New connections from 30 threads at once: both processes serve some.
    with ThreadPoolExecutor(3 * LIMIT) as pool:
        answers = list(pool.map(post, idempotency_keys))
    accepted = {k for k, status, _, _ in answers if status == 200}
    refused = [(headers, body) for _, status, headers, body in answers if status == 429]
    assert len(accepted) == LIMIT
    assert len(refused) == 2 * LIMIT
    for headers, body in refused:
        # A full window is also the next one's weighted previous window: the wait can pass the
        # window's end by up to window / amount (here 60 + 6 s), while that weight falls.
        assert 1 <= int(headers["Retry-After"]) <= 60 + 60 // LIMIT
        assert error_of(429, body, headers)[1] == {
            "error": f"Rate limit of {LIMIT} operations per minute exceeded",
            "code": "rate_limited",
        }
    with db.connect() as conn:
        keys = conn.execute(text("SELECT idempotency_key FROM wallet_operations WHERE wallet_id = :w"), {"w": wallet})
        assert {k for (k,) in keys} == accepted
    status, body = call_json(two_processes, "GET", f"/api/v1/wallets/{wallet}", token=key.secret)
    assert Decimal(body["balance"]) == LIMIT * Decimal(deposit["amount"])
    # Wallet creation has its own limit (1 an hour here, already spent).
    assert call(two_processes, "POST", "/api/v1/wallets", token=key.secret)[0] == 429
    # Another key of the same tenant has its own counters.
    other = api_key(f"rl-{uuid.uuid4().hex[:8]}")
    assert call(two_processes, "POST", "/api/v1/wallets", token=other.secret)[0] == 201


def test_a_revoked_key_is_refused_by_every_process_within_5_s(two_processes: str, db: Engine) -> None:
    key = api_key("tests")
    path = f"/api/v1/operations/{uuid.uuid4()}"

    def status() -> int:
        return call(two_processes, "GET", path, token=key.secret)[0]

    with ThreadPoolExecutor(8) as pool:  # both processes have read (and cached) the key
        assert set(pool.map(lambda _: status(), range(32))) == {404}
    assert key_revoke(prefix_or_id=str(key.id))

    def refused_everywhere() -> bool:
        with ThreadPoolExecutor(8) as pool:
            return set(pool.map(lambda _: status(), range(32))) == {401}

    wait_until(refused_everywhere, timeout=5, what="every process refusing the revoked key")
