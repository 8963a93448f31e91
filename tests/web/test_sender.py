from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import redis
import redis.connection

from deploy.processes import free_port, wait_until
from web.wallets.money.sender import Sender, Unsent


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many requests each write of a sender carried."""
    sizes: list[int] = []
    exchange = Sender._exchange

    def counting(self: Sender, batch: list[Any]) -> None:
        sizes.append(len(batch))
        exchange(self, batch)

    monkeypatch.setattr(Sender, "_exchange", counting)
    return sizes


def _in_thread(act: Any) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(act())
        except Exception as exc:
            out.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def test_requests_that_queue_behind_a_send_go_out_together_each_with_its_own_replies(
    local_redis: redis.Redis, batches: list[int]
) -> None:
    sender = Sender(local_redis.connection_pool)
    # The first request's reply takes a moment (a BLPOP Redis answers after 0.5 s).
    first, first_out = _in_thread(lambda: sender.exchange([("BLPOP", "test:nothing", 0.5)]))
    wait_until(lambda: batches == [1], timeout=5, what="the first request's write")
    others = [
        _in_thread(lambda i=i: sender.exchange([("SET", f"test:{i}", i), ("GET", f"test:{i}")])) for i in range(5)
    ]
    for thread, _ in [(first, first_out), *others]:
        thread.join()
    assert first_out == [[None]]
    assert [out for _, out in others] == [[[b"OK", str(i).encode()]] for i in range(5)]
    assert batches == [1, 5]  # the five queued behind it went out in one write


def test_an_error_reply_is_the_requests_own(local_redis: redis.Redis) -> None:
    sender = Sender(local_redis.connection_pool)
    local_redis.set("test:text", "not a number")
    [error] = sender.exchange([("INCR", "test:text")])
    assert isinstance(error, redis.ResponseError)
    assert sender.exchange([("INCR", "test:counter")]) == [1]  # the connection is still in step


def test_nothing_sent_when_redis_cannot_be_reached() -> None:
    dead = redis.Redis(port=free_port(), socket_connect_timeout=0.5)
    with pytest.raises(Unsent):
        Sender(dead.connection_pool).exchange([("SET", "test:x", 1)])


def test_a_connection_lost_after_the_write_fails_every_request_of_the_batch_as_maybe_run(
    local_redis: redis.Redis,
) -> None:
    sender = Sender(local_redis.connection_pool)
    thread, out = _in_thread(lambda: sender.exchange([("BLPOP", "test:nothing", 5)]))
    wait_until(lambda: any(c["cmd"] == "blpop" for c in local_redis.client_list()), timeout=5, what="the blocked send")
    started = time.monotonic()
    for client in local_redis.client_list():
        if client["cmd"] == "blpop":
            local_redis.client_kill_filter(_id=client["id"])
    thread.join()
    assert time.monotonic() - started < 4
    [failure] = out
    assert isinstance(failure, redis.ConnectionError)  # not Unsent: the command was written
    assert sender.exchange([("PING",)]) == [b"PONG"]  # the next request sends on a new connection
