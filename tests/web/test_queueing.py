"""The web side of the queue, in isolation (fakeredis: no worker or real server needed)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import fakeredis
import pytest
from rq.job import Job
from rq.serializers import JSONSerializer

from shared import keys
from shared.config import Settings
from shared.errors import ServiceUnavailable
from shared.messages import OperationRequest, OperationResult
from shared.operations import OperationType
from shared.outcomes import OperationStatus
from shared.rq_contract import JobInfo, JobState, job_state
from shared.sharding import shard_for
from tests.support.workers import reply_push
from web.wallets.money.inbox import Inbox
from web.wallets.money.queueing import operation_send


@pytest.fixture
def fake() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis()


@pytest.fixture
def request_() -> OperationRequest:
    return OperationRequest(uuid.uuid4(), uuid.uuid4(), OperationType.DEPOSIT, Decimal("1.50"), datetime.now(UTC))


def test_enqueue_puts_the_job_on_its_shard_and_rings_the_bell(
    fake: fakeredis.FakeRedis, request_: OperationRequest, settings: Settings
) -> None:
    assert operation_send(connection=fake, settings=settings, request=request_, wait=0).result is None
    shard = shard_for(request_.wallet_id, settings.shard_count)
    assert fake.lrange(keys.queue_key(shard), 0, -1) == [str(request_.operation_id).encode()]
    assert fake.llen(keys.bell_key(shard)) == 1
    assert job_state(connection=fake, operation_id=request_.operation_id) == JobInfo(
        JobState.PENDING, request_.wallet_id
    )
    job = Job.fetch(str(request_.operation_id), connection=fake, serializer=JSONSerializer)
    assert job.description == f"DEPOSIT 1.50 to wallet {request_.wallet_id}"


def test_send_returns_the_reply(fake: fakeredis.FakeRedis, request_: OperationRequest, settings: Settings) -> None:
    result = OperationResult(request_.operation_id, OperationStatus.APPLIED, Decimal("1.50"))
    reply_push(fake, request_.operation_id, result)
    assert operation_send(connection=fake, settings=settings, request=request_, wait=1).result == result


def test_nothing_is_queued_while_the_inbox_cannot_listen(
    fake: fakeredis.FakeRedis, request_: OperationRequest, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Inbox, "ready", lambda self, timeout: False)
    with pytest.raises(ServiceUnavailable):
        operation_send(connection=fake, settings=settings, request=request_, wait=1)
    assert fake.keys() == []  # its answer could not have been heard: it is not sent


def test_send_times_out_with_none(fake: fakeredis.FakeRedis, request_: OperationRequest, settings: Settings) -> None:
    assert operation_send(connection=fake, settings=settings, request=request_, wait=0.05).result is None


def test_unknown_job(fake: fakeredis.FakeRedis) -> None:
    assert job_state(connection=fake, operation_id=uuid.uuid4()).state is JobState.UNKNOWN
