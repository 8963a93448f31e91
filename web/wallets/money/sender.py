"""The web process's enqueues, written to Redis by one request at a time for all who wait.

A request hands its commands to the process's sender for its Redis pool. If no request is
sending, it sends them itself; otherwise it waits, and the request that is sending, once its
own exchange is read, hands the turn to the first waiting one, which sends every command
queued meanwhile in one write on one connection and reads every reply back in order. Under
load the connection checkout, its readiness poll and the write are paid once for many
requests; alone, a request sends at once, as before. Each request's commands stay together
and in order, and Redis runs one connection's commands in order.

A request learns its own replies (an error reply among them as the exception, for it alone)
or why it has none: ``Unsent`` (nothing of the batch reached Redis) or the failure that came
after the batch was written (its commands may have run).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

Command = tuple[Any, ...]


class Unsent(Exception):
    """Nothing of the batch reached Redis (no connection): the commands did not run."""


@dataclass(slots=True)
class _Send:
    commands: Sequence[Command]
    turn: threading.Event = field(default_factory=threading.Event)
    """Set when its replies (or failure) are in, or when the turn to send is handed to it."""
    leads: bool = False
    replies: list[Any] | None = None
    failure: BaseException | None = None


class Sender:
    """The enqueues of one web process on one Redis pool."""

    def __init__(self, pool: redis.ConnectionPool) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._queue: list[_Send] = []
        self._sending = False

    def exchange(self, commands: Sequence[Command]) -> list[Any]:
        """The replies to ``commands``, in order; an error reply is the exception in its place.
        ``Unsent`` if nothing was written; any other failure came after (they may have run)."""
        mine = _Send(commands)
        with self._lock:
            self._queue.append(mine)
            if not self._sending:
                self._sending = mine.leads = True
        if not mine.leads:
            mine.turn.wait()
        if mine.replies is None and mine.failure is None:  # its turn: it sends for all queued
            self._send_queued()
        if mine.failure is not None:
            raise mine.failure
        assert mine.replies is not None
        return mine.replies

    def _send_queued(self) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            self._exchange(batch)
        finally:
            for item in batch:
                if item.replies is None and item.failure is None:
                    item.failure = Unsent("the sending request was interrupted")
                item.turn.set()
            with self._lock:
                if self._queue:
                    self._queue[0].leads = True
                    self._queue[0].turn.set()
                else:
                    self._sending = False

    def _exchange(self, batch: list[_Send]) -> None:
        try:
            conn = self._pool.get_connection()
        except redis.RedisError as exc:
            for item in batch:
                item.failure = Unsent(str(exc))
            return
        try:
            packed = conn.pack_commands([c for item in batch for c in item.commands])  # type: ignore[no-untyped-call]
            conn.send_packed_command(packed)  # type: ignore[no-untyped-call]
            for item in batch:
                replies: list[Any] = []
                for _ in item.commands:
                    try:
                        replies.append(conn.read_response())
                    except redis.ResponseError as exc:  # read whole: the connection is in step
                        replies.append(exc)
                item.replies = replies
        except BaseException as exc:
            conn.disconnect()  # type: ignore[no-untyped-call]  # replies may be left unread on it
            for item in batch:
                if item.replies is None:
                    item.failure = exc
            if not isinstance(exc, Exception):
                raise
        finally:
            self._pool.release(conn)


_senders: dict[tuple[int, int], Sender] = {}
_senders_lock = threading.Lock()


def sender_for(connection: redis.Redis) -> Sender:
    """This process's sender on ``connection``'s pool (a forked child makes its own)."""
    index = (os.getpid(), id(connection.connection_pool))
    with _senders_lock:
        sender = _senders.get(index)
        if sender is None:
            sender = _senders[index] = Sender(connection.connection_pool)
        return sender
