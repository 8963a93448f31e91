"""The web process's inbox: where the workers push the answers its requests wait for.

One listener per process and Redis server pops the inbox's list (``shared.replies``) in
batches and hands each answer to the request waiting for it, so a waiting request costs no
Redis connection or round trip of its own: an operation's enqueue is one round trip, and the
legs of a transfer are waited for without another. An answer that comes before anyone waits
for it (a transfer's credit, while its debit's answer is read) is kept until asked for, or for
``REPLY_TTL`` seconds.

The listener is a thread (a greenlet under gevent), started by the first wait and stopping
after ``LISTENER_IDLE`` seconds with nobody waiting; answers pushed meanwhile stay in the
list, which Redis expires ``REPLY_TTL`` seconds after the last push. If its connection fails,
every request waiting at that moment is told ``OutcomeUnknown`` (as a failed wait on a
connection of its own would be: answered 202), and it connects again.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import redis

from shared import keys
from shared.errors import MalformedMessage, OutcomeUnknown
from shared.messages import OperationResult
from shared.replies import reply_parse

log = logging.getLogger(__name__)

POP_BLOCK = 1
"""Seconds one pop of the listener blocks when the inbox is empty."""
POP_COUNT = 512
"""Most answers one pop takes."""
LISTENER_IDLE = 30.0
"""Seconds without a waiting request after which the listener stops (the next wait starts it)."""
RECONNECT_PAUSE = 0.2
"""Seconds between the listener's attempts while Redis does not answer."""


@dataclass(slots=True)
class _Waiter:
    done: threading.Event = field(default_factory=threading.Event)
    result: OperationResult | None = None
    failure: str | None = None


class Inbox:
    """The answers of one web process on one Redis server."""

    def __init__(self, connection: redis.Redis, *, keep: float) -> None:
        self.name = uuid4().hex
        self.key = keys.inbox_key(self.name)
        self._pool = connection.connection_pool
        self._keep = keep
        self._lock = threading.Lock()
        self._waiters: dict[UUID, _Waiter] = {}
        self._early: OrderedDict[UUID, tuple[float, bytes]] = OrderedDict()
        self._listening = False
        self._last_wait = time.monotonic()

    def wait(self, operation_id: UUID, timeout: float) -> OperationResult | None:
        """The answer to ``operation_id``, waiting up to ``timeout`` seconds (None if none came).
        ``OutcomeUnknown`` if the inbox's connection failed meanwhile."""
        with self._lock:
            early = self._early.pop(operation_id, None)
            if early is None:
                if timeout <= 0:
                    return None
                waiter = self._waiters[operation_id] = _Waiter()
                self._last_wait = time.monotonic()
                if not self._listening:
                    self._listening = True
                    threading.Thread(target=self._listen, name=f"inbox-{self.name[:8]}", daemon=True).start()
        if early is not None:
            return OperationResult.from_bytes(early[1])
        waiter.done.wait(timeout)
        with self._lock:
            self._waiters.pop(operation_id, None)
        if waiter.failure is not None:
            raise OutcomeUnknown(waiter.failure)
        return waiter.result

    def _listen(self) -> None:
        while True:
            with self._lock:
                if not self._waiters and time.monotonic() - self._last_wait > LISTENER_IDLE:
                    self._listening = False
                    return
            try:
                entries = self._pop()
            except redis.RedisError as exc:
                self._fail_waiters(f"Redis failed while waiting for replies: {exc}")
                time.sleep(RECONNECT_PAUSE)
                continue
            self._deliver(entries)

    def _pop(self) -> list[bytes]:
        """Up to ``POP_COUNT`` entries, waiting up to ``POP_BLOCK`` seconds for the first."""
        conn = self._pool.get_connection()
        try:
            conn.send_command("BLMPOP", POP_BLOCK, 1, self.key, "LEFT", "COUNT", POP_COUNT)  # type: ignore[no-untyped-call]
            reply: Any = conn.read_response()
        except BaseException:
            conn.disconnect()  # type: ignore[no-untyped-call]
            raise
        finally:
            self._pool.release(conn)
        return [] if reply is None else list(reply[1])

    def _deliver(self, entries: list[bytes]) -> None:
        now = time.monotonic()
        with self._lock:
            for entry in entries:
                try:
                    operation_id, body = reply_parse(entry)
                except MalformedMessage:
                    log.error("dropped a malformed reply: %r", entry[:80])
                    continue
                waiter = self._waiters.pop(operation_id, None)
                if waiter is None:
                    self._early[operation_id] = (now, body)
                    continue
                try:
                    waiter.result = OperationResult.from_bytes(body)
                except MalformedMessage as exc:
                    waiter.failure = f"malformed reply to {operation_id}: {exc}"
                waiter.done.set()
            while self._early:
                operation_id, (arrived, _) = next(iter(self._early.items()))
                if now - arrived <= self._keep:
                    break
                del self._early[operation_id]

    def _fail_waiters(self, why: str) -> None:
        with self._lock:
            waiters, self._waiters = self._waiters, {}
        for waiter in waiters.values():
            waiter.failure = why
            waiter.done.set()


_inboxes: dict[tuple[int, int], Inbox] = {}
_inboxes_lock = threading.Lock()


def inbox_for(connection: redis.Redis, *, keep: float) -> Inbox:
    """This process's inbox on the server of ``connection`` (one per connection pool; a forked
    child makes its own)."""
    index = (os.getpid(), id(connection.connection_pool))
    with _inboxes_lock:
        inbox = _inboxes.get(index)
        if inbox is None:
            inbox = _inboxes[index] = Inbox(connection, keep=keep)
        return inbox
