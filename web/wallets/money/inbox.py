"""The web process's inbox: where the workers send the answers its requests wait for.

One listener per process and Redis server is subscribed to the inbox's channel
(``shared.replies``) and hands each answer to the request waiting for it, so a waiting request
costs no Redis connection or round trip of its own, and the listener none per answer: an
operation's enqueue is one round trip, and the legs of a transfer are waited for without
another. An answer that comes before anyone waits for it (a transfer's credit, while its
debit's answer is read) is kept until asked for, or for ``REPLY_TTL`` seconds.

The listener is a thread (a greenlet under gevent), started by the first request and stopping
after ``LISTENER_IDLE`` seconds with nobody waiting. A request enqueues only once the
subscription is live (``ready``): Redis delivers a message to the subscribers of the moment.
If the listener's connection fails, every request waiting then is told ``OutcomeUnknown`` (as
a failed wait on a connection of its own would be: answered 202), and it subscribes again.
Through Sentinels it also asks them every ``MASTER_CHECK`` seconds whether its server is still
the master: a master lost with its host closes no connection, and the answers go to the new one.
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
from redis.connection import Connection
from redis.sentinel import SentinelConnectionPool

from shared import keys
from shared.errors import MalformedMessage, OutcomeUnknown
from shared.messages import OperationResult
from shared.replies import replies_entries, reply_parse

log = logging.getLogger(__name__)

TICK = 1.0
"""Seconds the listener waits for a message before it looks whether anyone still waits."""
LISTENER_IDLE = 30.0
"""Seconds without a request after which the listener stops (the next request starts it)."""
RECONNECT_PAUSE = 0.2
"""Seconds between the listener's attempts while Redis does not answer."""
READY_WAIT = 1.0
"""Longest a request waits for the listener to subscribe before it answers 503 (nothing queued)."""
MASTER_CHECK = 2.0
"""Seconds between the listener's questions to the Sentinels (when Redis is found through them)
whether its server is still the master."""


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
        self._subscribed = threading.Event()
        self._tried = threading.Event()
        """Set once the listener has tried to subscribe (since it started): a request need not
        wait for it in an outage."""
        self._last_wait = time.monotonic()

    def ready(self, timeout: float) -> bool:
        """Whether the listener is subscribed, starting it if needed and waiting up to
        ``timeout`` seconds for its first attempt; a request enqueues only then (no answer is
        lost before it listens). False at once while Redis is out."""
        with self._lock:
            self._last_wait = time.monotonic()
            if not self._listening:
                self._listening = True
                self._tried.clear()
                threading.Thread(target=self._listen, name=f"inbox-{self.name[:8]}", daemon=True).start()
        self._tried.wait(timeout)
        return self._subscribed.is_set()

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
        if early is not None:
            return OperationResult.from_bytes(early[1])
        waiter.done.wait(timeout)
        with self._lock:
            self._waiters.pop(operation_id, None)
        if waiter.failure is not None:
            raise OutcomeUnknown(waiter.failure)
        return waiter.result

    def _listen(self) -> None:
        held: list[Connection] = []  # this run's subscribed connection, while it has one
        try:
            self._answer_all(held)
        except Exception:
            # A fault of its own must not leave requests enqueueing for a listener that is gone.
            log.exception("the inbox %s stopped listening", self.name)
            with self._lock:
                self._listening = False
                self._subscribed.clear()
            self._fail_waiters("the inbox stopped listening")
        finally:
            for conn in held:
                self._hang_up(conn)

    def _answer_all(self, held: list[Connection]) -> None:
        """Hand out every answer that comes, until nobody has waited for ``LISTENER_IDLE``."""
        failing = False
        checked = time.monotonic()
        while True:
            with self._lock:
                if not self._waiters and time.monotonic() - self._last_wait > LISTENER_IDLE:
                    self._listening = False  # under the lock: the next request starts another
                    self._subscribed.clear()
                    return
            try:
                if not held:
                    held.append(self._subscribe())
                try:
                    # RESP3 (redis-py 8's default) brings messages as pushes, RESP2 as replies.
                    message: Any = held[0].read_response(timeout=TICK, disconnect_on_error=False, push_request=True)
                except redis.TimeoutError:
                    if time.monotonic() - checked > MASTER_CHECK:
                        checked = time.monotonic()
                        self._still_master(held[0])
                    continue  # nothing came: look again whether anyone waits
            except redis.RedisError as exc:
                self._subscribed.clear()
                self._tried.set()
                while held:
                    self._hang_up(held.pop())
                if not failing:  # once per outage, not once per attempt
                    log.warning("the inbox %s lost Redis: %s", self.name, exc)
                failing = True
                self._fail_waiters(f"Redis failed while waiting for replies: {exc}")
                time.sleep(RECONNECT_PAUSE)
                continue
            failing = False
            if message[0] == b"message":
                self._deliver(replies_entries(message[2]))

    def _still_master(self, conn: Connection) -> None:
        """Raise ``ConnectionError`` if the Sentinels name another master than ``conn``'s server."""
        if not isinstance(self._pool, SentinelConnectionPool):
            return
        master = self._pool.get_master_address()  # type: ignore[no-untyped-call]
        if tuple(master) != (conn.host, conn.port):
            raise redis.ConnectionError(f"the master moved to {master[0]}:{master[1]}")

    def _subscribe(self) -> Connection:
        """A connection of the pool, subscribed to the inbox (its own until ``_hang_up``)."""
        conn: Connection = self._pool.get_connection()
        try:
            conn.send_command("SUBSCRIBE", self.key)  # type: ignore[no-untyped-call]
            conn.read_response(push_request=True)  # the confirmation
        except BaseException:
            self._hang_up(conn)
            raise
        self._subscribed.set()
        self._tried.set()
        return conn

    def _hang_up(self, conn: Connection) -> None:
        """Close a subscribed connection before it goes back to the pool (as a new one)."""
        conn.disconnect()  # type: ignore[no-untyped-call]
        self._pool.release(conn)

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
