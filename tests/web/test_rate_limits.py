"""The rate limiter (``web.wallets.auth.rate_limits``) on a real Redis: its window, its
``Retry-After``, and that it rides in the enqueue's one round trip."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest
import redis
from django.core.management import CommandError, call_command
from django.test import Client
from sqlalchemy import Engine

from shared import keys
from shared.config import Settings
from shared.errors import RateLimited
from shared.messages import OperationResult
from shared.operations import OperationType
from shared.outcomes import OperationStatus
from shared.rates import Limit, RateLimit
from shared.sharding import shard_for
from tests.support.factories import api_key, operation, wallet_row
from tests.support.roundtrips import count_round_trips
from tests.support.workers import reply_push
from web.wallets.auth.api_keys import Caller
from web.wallets.auth.rate_limits import Counted, counted, spend
from web.wallets.models import ApiKey
from web.wallets.money.queueing import Delivery, KeyRecord, operation_send


def _limit(amount: int, seconds: int) -> list[Counted]:
    return [Counted(Limit.WRITES, keys.rate_limit_key("writes", uuid.uuid4()), RateLimit(amount, seconds, "x"))]


def test_a_limit_allows_its_amount_then_refuses_with_retry_after(local_redis: redis.Redis) -> None:
    limits = _limit(3, 60)
    for _ in range(3):
        spend(local_redis, limits)
    with pytest.raises(RateLimited) as refused:
        spend(local_redis, limits)
    assert 1 <= refused.value.retry_after <= 120
    assert refused.value.message == "Rate limit of 3 operations per x exceeded"


def test_the_window_slides(local_redis: redis.Redis) -> None:
    limits = _limit(2, 1)
    spend(local_redis, limits)
    spend(local_redis, limits)
    with pytest.raises(RateLimited) as refused:
        spend(local_redis, limits)
    time.sleep(refused.value.retry_after + 0.05)  # as the client is told to
    spend(local_redis, limits)


def test_no_key_no_limit(settings: Settings) -> None:
    assert counted(Caller(None, None, True), settings, Limit.WRITES) == []
    key = uuid.uuid4()
    [writes] = counted(Caller(key, str(uuid.uuid4()), True), settings, Limit.WRITES)
    assert (writes.key, writes.rate) == (keys.rate_limit_key("writes", key), settings.rate_limit_writes)


def test_a_limited_operation_is_still_one_round_trip_and_a_refused_one_queues_nothing(
    db: Engine, local_redis: redis.Redis, local_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    wallet = wallet_row(db)
    limits = _limit(2, 60)
    first = operation(wallet, OperationType.DEPOSIT, "1.00")
    operation_send(connection=local_redis, settings=local_settings, request=first, wait=0, limits=limits)
    second = operation(wallet, OperationType.DEPOSIT, "1.00")
    answer = OperationResult(second.operation_id, OperationStatus.APPLIED, Decimal("2.00"))
    reply_push(local_redis, second.operation_id, answer)  # as if the worker were instant
    with count_round_trips(monkeypatch) as trips:
        delivery = operation_send(
            connection=local_redis, settings=local_settings, request=second, wait=1, limits=limits
        )
    assert (delivery.result, trips[0]) == (answer, 1)
    queue = keys.queue_key(shard_for(wallet, local_settings.shard_count))
    assert local_redis.llen(queue) == 2
    third = operation(wallet, OperationType.DEPOSIT, "1.00")
    started = time.monotonic()
    with count_round_trips(monkeypatch) as trips:
        refused = operation_send(connection=local_redis, settings=local_settings, request=third, wait=5, limits=limits)
    assert time.monotonic() - started < 1  # nothing waited out its 5 s
    assert refused.refused is not None
    assert refused.result is None
    assert trips[0] == 1
    assert local_redis.llen(queue) == 2
    assert not local_redis.exists(keys.job_key(third.operation_id))


def test_a_replay_of_an_idempotency_key_counts_against_no_limit(
    db: Engine, local_redis: redis.Redis, local_settings: Settings
) -> None:
    wallet = wallet_row(db)
    limits = _limit(1, 60)
    record = KeyRecord(keys.idempotency_key(wallet, "replayed"), "the first request's record", 60)

    def send(record: KeyRecord | None) -> Delivery:
        request = operation(wallet, OperationType.DEPOSIT, "1.00")
        return operation_send(
            connection=local_redis, settings=local_settings, request=request, wait=0, record=record, limits=limits
        )

    first = send(record)
    assert (first.earlier, first.refused) == (None, None)
    for _ in range(5):  # each replay leaves no new state: none is refused, none is counted
        replay = send(record)
        assert (replay.earlier, replay.refused) == ("the first request's record", None)
    assert send(None).refused is not None  # the one request counted used the limit up


def test_a_script_redis_lost_is_sent_again_whole_and_queued_once(
    db: Engine, local_redis: redis.Redis, local_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The script goes as EVALSHA; a Redis that lost it (a restart, SCRIPT FLUSH) ran nothing,
    so the whole enqueue goes again with the script's text. No worker runs here: the request
    then waits out its 0.5 s for an answer, once."""
    wallet = wallet_row(db)
    limits = _limit(100, 60)
    request = operation(wallet, OperationType.DEPOSIT, "1.00")
    local_redis.script_flush()
    started = time.monotonic()
    delivery = operation_send(connection=local_redis, settings=local_settings, request=request, wait=0.5, limits=limits)
    assert 0.45 <= time.monotonic() - started < 1
    assert delivery == Delivery(result=None)
    queue = keys.queue_key(shard_for(wallet, local_settings.shard_count))
    assert local_redis.lrange(queue, 0, -1) == [str(request.operation_id).encode()]
    assert local_redis.exists(keys.job_key(request.operation_id))
    again = operation(wallet, OperationType.DEPOSIT, "1.00")
    with count_round_trips(monkeypatch) as trips:
        operation_send(connection=local_redis, settings=local_settings, request=again, wait=0, limits=limits)
    assert trips[0] == 1  # the script is cached again
    assert local_redis.llen(queue) == 2


def test_a_keys_own_limits_replace_the_settings_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    call_command(
        "apikey", "create", "--tenant", "tests", "--rate-limit-writes", "2/minute", "--rate-limit-wallets", "1/minute"
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-3].startswith("rate limits: 2/minute operations, 1/minute wallet creations, ")
    client = Client(headers={"Authorization": f"Bearer {out[-1]}"})
    created = client.post("/api/v1/wallets", content_type="application/json")
    assert created.status_code == 201
    refused = client.post("/api/v1/wallets", content_type="application/json")
    assert refused.status_code == 429
    assert refused.json()["error"] == "Rate limit of 1 wallet creations per minute exceeded"
    url = f"/api/v1/wallets/{created.json()['id']}/operation"
    body = {"operationType": "DEPOSIT", "amount": "1.00"}
    assert [client.post(url, body, content_type="application/json").status_code for _ in range(2)] == [200, 200]
    third = client.post(url, body, content_type="application/json")
    assert (third.status_code, third.json()["error"]) == (429, "Rate limit of 2 operations per minute exceeded")
    assert int(third["Retry-After"]) >= 1


def test_a_bad_rate_is_refused_by_the_command_and_the_admin(admin_client: Client) -> None:
    with pytest.raises(CommandError, match="write it as 100/second"):
        call_command("apikey", "create", "--tenant", "tests", "--rate-limit-writes", "lots")
    key = api_key("tests")
    page = f"/admin/wallets/apikey/{key.id}/change/"
    assert "Rate limit writes" in admin_client.get(page).content.decode()
    bad = admin_client.post(page, {"name": "x", "rate_limit_writes": "fast"})
    assert "Write it as 100/second or 20/10 minutes" in bad.content.decode()
    good = admin_client.post(page, {"name": "x", "rate_limit_writes": "500/10 minutes"})
    assert good.status_code == 302
    assert ApiKey.objects.get(id=key.id).rate_limit_writes == "500/10 minutes"
    assert str(RateLimit.parse("500/10 minutes")) == "500/10 minutes"
