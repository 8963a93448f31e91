from __future__ import annotations

import threading
import time
import uuid
from decimal import Decimal

import pytest
import redis

from deploy.processes import wait_until
from shared.errors import OutcomeUnknown
from shared.messages import OperationResult
from shared.outcomes import OperationStatus
from shared.replies import Reply, replies_push
from web.wallets.money import inbox as inbox_module
from web.wallets.money.inbox import Inbox


@pytest.fixture
def inbox(local_redis: redis.Redis) -> Inbox:
    inbox = Inbox(local_redis, keep=60)
    assert inbox.ready(5)
    return inbox


def _answer(inbox: Inbox, connection: redis.Redis, operation_id: uuid.UUID, balance: str) -> OperationResult:
    """Send an answer to ``operation_id`` to ``inbox``, as a worker's batch does."""
    result = OperationResult(operation_id, OperationStatus.APPLIED, Decimal(balance))
    with connection.pipeline(transaction=False) as pipe:
        replies_push(pipe, [Reply(operation_id, inbox.name, result)])
        pipe.execute()
    return result


def _hands_out_the_next_answer(inbox: Inbox, connection: redis.Redis) -> bool:
    operation_id = uuid.uuid4()
    result = _answer(inbox, connection, operation_id, "1.00")
    return inbox.wait(operation_id, 5) == result


def _later(seconds: float, act: object) -> threading.Thread:
    def run() -> None:
        time.sleep(seconds)
        act()  # type: ignore[operator]

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _listener_alive(inbox: Inbox) -> bool:
    return any(thread.name == f"inbox-{inbox.name[:8]}" for thread in threading.enumerate())


def test_an_answer_wakes_the_request_waiting_for_it(inbox: Inbox, local_redis: redis.Redis) -> None:
    operation_id = uuid.uuid4()
    sent: list[OperationResult] = []
    pusher = _later(0.2, lambda: sent.append(_answer(inbox, local_redis, operation_id, "5.00")))
    started = time.monotonic()
    got = inbox.wait(operation_id, 5)
    pusher.join()
    assert got == sent[0]
    assert time.monotonic() - started < 2  # woken by the answer, not by the timeout


def test_an_answer_that_comes_first_is_kept_until_asked_for(inbox: Inbox, local_redis: redis.Redis) -> None:
    debit, credit = uuid.uuid4(), uuid.uuid4()
    credit_result = _answer(inbox, local_redis, credit, "7.00")  # the credit's answer comes first
    debit_result = _answer(inbox, local_redis, debit, "3.00")
    assert inbox.wait(debit, 5) == debit_result
    assert inbox.wait(credit, 0) == credit_result  # already here: no wait
    assert inbox.wait(credit, 0) is None  # handed out once


def test_nothing_comes_within_the_wait(inbox: Inbox) -> None:
    started = time.monotonic()
    assert inbox.wait(uuid.uuid4(), 0.3) is None
    assert 0.3 <= time.monotonic() - started < 2


def test_answers_nobody_asks_for_are_dropped_after_keep(local_redis: redis.Redis) -> None:
    inbox = Inbox(local_redis, keep=0.05)
    assert inbox.ready(5)
    orphan, marker = uuid.uuid4(), uuid.uuid4()  # the orphan's request timed out (a 202)
    _answer(inbox, local_redis, orphan, "1.00")
    _answer(inbox, local_redis, marker, "1.00")
    assert inbox.wait(marker, 5) is not None  # so the orphan has come too
    time.sleep(0.1)
    later = uuid.uuid4()
    result = _answer(inbox, local_redis, later, "2.00")
    assert inbox.wait(later, 5) == result  # this delivery dropped the orphan
    assert inbox.wait(orphan, 0) is None


def test_a_lost_connection_tells_every_waiting_request_the_outcome_is_unknown(
    inbox: Inbox, local_redis: redis.Redis
) -> None:
    def kill_listener() -> None:
        for client in local_redis.client_list():
            if client["cmd"] == "subscribe":
                local_redis.client_kill_filter(_id=client["id"])

    killer = _later(0.3, kill_listener)
    with pytest.raises(OutcomeUnknown):
        inbox.wait(uuid.uuid4(), 5)
    killer.join()
    # It subscribes again within a moment (meanwhile a request is refused at once, 503): the
    # next answer arrives.
    wait_until(lambda: inbox.ready(0), timeout=5, what="the listener to subscribe again")
    assert _hands_out_the_next_answer(inbox, local_redis)


def test_the_listener_stops_when_nobody_waits_and_the_next_wait_starts_it(
    inbox: Inbox, local_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox_module, "LISTENER_IDLE", 0.1)
    monkeypatch.setattr(inbox_module, "TICK", 0.1)
    assert _listener_alive(inbox)
    wait_until(lambda: not _listener_alive(inbox), timeout=5, what="the idle listener to stop")
    assert local_redis.pubsub_numsub(inbox.key) == [(inbox.key.encode(), 0)]  # nothing left subscribed
    assert inbox.ready(5)
    assert _hands_out_the_next_answer(inbox, local_redis)


def test_a_fault_of_the_listener_fails_the_waiting_requests_and_the_next_request_starts_another(
    inbox: Inbox, local_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(entries: list[bytes]) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(inbox, "_deliver", broken)
    operation_id = uuid.uuid4()
    pusher = _later(0.2, lambda: _answer(inbox, local_redis, operation_id, "5.00"))
    with pytest.raises(OutcomeUnknown):
        inbox.wait(operation_id, 5)
    pusher.join()
    monkeypatch.undo()
    wait_until(lambda: not _listener_alive(inbox), timeout=5, what="the broken listener to end")
    assert inbox.ready(5)  # not left claiming to listen: a new listener subscribes
    assert _hands_out_the_next_answer(inbox, local_redis)
